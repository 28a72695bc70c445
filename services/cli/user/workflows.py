"""`tessera workflow run|status|timeline`: workflows (stages of tasks) from a YAML file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from tessera_client import AuthenticatedClient

from services.cli.user import exits, specs
from services.cli.user.api import ApiError, exit_code_for
from services.cli.user.commands import client, handled, parse_id
from services.cli.user.output import Output, OutputOption, emit_json, err, out, state_text

app = typer.Typer(help="Workflows: DAGs of stages of tasks.", no_args_is_help=True)
WorkflowId = Annotated[str, typer.Argument(metavar="ID", help="The workflow's id.")]
TERMINAL = ("succeeded", "failed", "cancelled")
POLL_S = 1.0
RUNNING = ("queued", "placed", "running")


def _request(api: AuthenticatedClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One call to the API (its timeouts the client's); ApiError for anything but 2xx."""
    try:
        response = api.get_httpx_client().request(method, f"/api/v1{path}", **kwargs)
    except httpx.HTTPError as error:
        raise ApiError(f"the API cannot be reached: {error}", exits.UNAVAILABLE) from None
    if response.status_code >= 300:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:500]
        status = response.status_code
        raise ApiError(f"HTTP {status}: {detail}", exit_code_for(status), status)
    return response


def _get(api: AuthenticatedClient, path: str) -> dict[str, Any]:
    body: dict[str, Any] = _request(api, "GET", path).json()
    return body


def table(workflow: dict[str, Any]) -> Table:
    """Stage, done/running/waiting/failed copies, testbeds in use."""
    grid = Table(title=f"workflow {escape(str(workflow['name']))}: {workflow['state']}")
    for column in ("stage", "state", "done", "running", "waiting", "failed", "testbeds"):
        grid.add_column(column)
    for stage in workflow["stages"]:
        counts: dict[str, int] = stage["counts"]
        running = sum(counts.get(state, 0) for state in RUNNING)
        waiting = sum(counts.get(state, 0) for state in ("waiting", "pending", "building"))
        failed = sum(counts.get(state, 0) for state in ("failed", "lost", "cancelled"))
        grid.add_row(
            escape(stage["name"]),
            state_text(stage["state"]),
            f"{counts.get('succeeded', 0)}/{stage['copies']}",
            str(running),
            str(waiting),
            str(failed),
            escape(", ".join(stage["testbeds"])) or "-",
        )
    return grid


def _final(workflow: dict[str, Any]) -> None:
    if workflow.get("state_reason"):
        err.print(f"[bold]{escape(str(workflow['state_reason']))}[/]")
    raise typer.Exit(exits.for_state(str(workflow["state"])))


@app.command("run")
@handled
def run(
    path: Annotated[Path, typer.Argument(help="The workflow, as YAML (or JSON).")],
    detach: Annotated[bool, typer.Option("--detach", help="Submit, print the id, leave.")] = False,
    output: OutputOption = Output.text,
) -> None:
    """Submit a workflow and follow it in a live table until it ends."""
    body = specs.load_file(path)
    api = client()
    created = _request(api, "POST", "/workflows", json=body).json()
    workflow_id = str(created["workflow_id"])
    if detach:
        if output is Output.json:
            emit_json(created)
        else:
            out.print(workflow_id)
        return
    err.print(f"workflow {workflow_id}: {created['copies']} task copies")
    workflow = _get(api, f"/workflows/{workflow_id}")
    try:
        with Live(table(workflow), console=err, refresh_per_second=4) as live:
            while workflow["state"] not in TERMINAL:
                time.sleep(POLL_S)
                workflow = _get(api, f"/workflows/{workflow_id}")
                live.update(table(workflow))
    except KeyboardInterrupt:
        err.print(f"stopped watching; the workflow goes on: tessera workflow status {workflow_id}")
        raise typer.Exit(exits.INTERRUPTED) from None
    if output is Output.json:
        emit_json(workflow)
    _final(workflow)


@app.command("status")
@handled
def status(workflow_id: WorkflowId, output: OutputOption = Output.text) -> None:
    """The workflow's state and its stages' copies by state."""
    workflow = _get(client(), f"/workflows/{parse_id(workflow_id)}")
    if output is Output.json:
        emit_json(workflow)
    else:
        out.print(table(workflow))
        if workflow.get("state_reason"):
            out.print(escape(str(workflow["state_reason"])))


@app.command("timeline")
@handled
def timeline(
    workflow_id: WorkflowId,
    target: Annotated[Path, typer.Option("-o", "--output-file", help="Where the SVG goes.")] = Path(
        "timeline.svg"
    ),
) -> None:
    """Save the workflow's timeline as an SVG Gantt picture (a lane per node)."""
    picture = _request(client(), "GET", f"/workflows/{parse_id(workflow_id)}/timeline.svg")
    target.write_bytes(picture.content)
    out.print(f"{target}: {len(picture.content)} bytes")


@app.command("cancel")
@handled
def cancel(workflow_id: WorkflowId) -> None:
    """Cancel every copy that has not ended and every stage not begun."""
    answer = _request(client(), "DELETE", f"/workflows/{parse_id(workflow_id)}").json()
    out.print(f"cancel requested (state now {answer['state']})")
