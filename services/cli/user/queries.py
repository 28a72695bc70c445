"""The commands that look at work already sent: status, logs, result, cancel, list; and at
where work would go: nodes, offers."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from tessera_client import AuthenticatedClient
from tessera_client.api.deployments import list_deployments
from tessera_client.api.inspections import get_inspection_build_log, list_inspections
from tessera_client.api.nodes import list_nodes, list_offers
from tessera_client.api.runs import get_run_log, get_run_result
from tessera_client.models import (
    Cancelled,
    DeploymentOut,
    DeploymentPage,
    InspectionOut,
    InspectionPage,
    NodeOut,
    NodePage,
    Offers,
    RunOut,
    RunResult,
)

from services.cli.user import exits, specs
from services.cli.user.api import ApiError, call, follow_log
from services.cli.user.commands import client, handled, kind_named, resolve
from services.cli.user.output import (
    Output,
    OutputOption,
    emit_json,
    err,
    nodes_tables,
    offers_tables,
    out,
    result_lines,
    runs_table,
    state_text,
    value,
    when,
)
from services.cli.user.watch import runs_of, status_of

# ---- status, logs, result, cancel ----------------------------------------------------------


@handled
def status(
    ident: Annotated[str, typer.Argument(metavar="ID", help="An inspection, deployment or run.")],
    output: OutputOption = Output.text,
) -> None:
    """Where an inspection, a deployment or a run is."""
    api = client()
    name, item = resolve(api, ident)
    if name == "run":
        if output is Output.json:
            emit_json({"kind": "run", **item.to_dict()})
        else:
            out.print(runs_table([item]))
        return
    kind = kind_named(name)
    current = status_of(api, kind, item.id)
    runs = runs_of(api, kind, item.id)
    if output is Output.json:
        emit_json(
            {
                "kind": name,
                "id": str(item.id),
                **current.to_dict(),
                "runs_detail": [run.to_dict() for run in runs],
            }
        )
        return
    reason = f" ({escape(current.state_reason)})" if current.state_reason else ""
    label = f" '{escape(item.identifier)}'" if value(item.identifier) else ""
    out.print(f"{name} {item.id}{label}: {state_text(current.state)}{reason}")
    out.print(f"  created {when(current.created_at)}, finished {when(current.finished_at)}")
    if current.build is not None:
        build = current.build
        cached = " (cached)" if build.cached else ""
        why = f": {escape(build.state_reason)}" if build.state_reason else ""
        out.print(f"  build {build.runtime}: {state_text(build.state)}{cached}{why}")
    if runs:
        out.print(runs_table(runs))


def _run_for(api: AuthenticatedClient, ident: str, index: int) -> RunOut:
    name, item = resolve(api, ident)
    if name == "run":
        run: RunOut = item
        return run
    runs = runs_of(api, kind_named(name), item.id)
    if not runs:
        raise ApiError(f"{name} {item.id} has no runs (build only?)", exits.REFUSED, 404)
    if index >= len(runs):
        raise specs.SpecError(f"{name} {item.id} has runs 0 to {len(runs) - 1}")
    return runs[index]


RunIndex = Annotated[int, typer.Option("--run", "-r", min=0, help="Which run of a batch.")]


@handled
def logs(
    ident: Annotated[str, typer.Argument(metavar="ID", help="An inspection, deployment or run.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream until it ends.")] = False,
    run: RunIndex = 0,
    build: Annotated[bool, typer.Option("--build", help="The build's log instead.")] = False,
    output: OutputOption = Output.text,
) -> None:
    """A run's output (or a build's log); -f follows it live until the run ends."""
    api = client(timeout=60.0)
    if build:
        name, item = resolve(api, ident)
        if name != "inspection":
            raise specs.SpecError("--build takes an inspection id: only inspections build")
        path = f"/api/v1/inspections/{item.id}/build/log"
        read = functools.partial(get_inspection_build_log.sync_detailed, item_id=item.id)
    else:
        run_id = _run_for(api, ident, run).id
        path = f"/api/v1/runs/{run_id}/log"
        read = functools.partial(get_run_log.sync_detailed, run_id=run_id)
    if not follow:
        text = call(read, str, client=api)
        if output is Output.json:
            emit_json({"log": text})
        else:
            out.out(text, end="", highlight=False)
        return

    def show(text: str) -> None:
        if output is Output.json:
            # One JSON document per line while it streams (NDJSON), the end last.
            print(json.dumps({"data": text}), flush=True)
        else:
            out.out(text, end="", highlight=False)

    end = follow_log(api, path, on_text=show)
    if output is Output.json:
        print(json.dumps({"end": end}), flush=True)
    raise typer.Exit(exits.OK if end.get("state") == "succeeded" else exits.for_state(end["state"]))


@handled
def result(
    ident: Annotated[str, typer.Argument(metavar="ID", help="An inspection, deployment or run.")],
    run: RunIndex = 0,
    output: OutputOption = Output.text,
) -> None:
    """A finished run's result: hwinfo, stdout, stderr, exit code, usage."""
    api = client()
    target = _run_for(api, ident, run)
    document = call(get_run_result.sync_detailed, RunResult, client=api, run_id=target.id)
    if output is Output.json:
        emit_json(document.to_dict())
        return
    for line in result_lines(document):
        out.print(line)


@handled
def cancel(
    ident: Annotated[str, typer.Argument(metavar="ID", help="An inspection or a deployment.")],
    output: OutputOption = Output.text,
) -> None:
    """Cancel what has not ended yet."""
    api = client()
    name, item = resolve(api, ident)
    if name == "run":
        raise specs.SpecError("cancel takes an inspection or deployment id, not a run's")
    kind = kind_named(name)
    done = call(kind.cancel, Cancelled, client=api, item_id=item.id)
    if output is Output.json:
        emit_json({"kind": name, "id": str(item.id), **done.to_dict()})
    else:
        out.print(f"{name} {item.id}: {done.cancelled_runs} run(s) cancelled; now {done.state}")


# ---- list and nodes ------------------------------------------------------------------------


@handled
def list_(
    state: Annotated[str | None, typer.Option(help="Only in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many of each.")] = 20,
    kind: Annotated[
        str | None, typer.Option(help="inspections or deployments (default: both).")
    ] = None,
    output: OutputOption = Output.text,
) -> None:
    """Your project's newest inspections and deployments."""
    if kind not in (None, "inspections", "deployments"):
        raise specs.SpecError("--kind is inspections or deployments")
    api = client()
    rows: list[tuple[str, InspectionOut | DeploymentOut]] = []
    if kind in (None, "inspections"):
        page = call(
            list_inspections.sync_detailed, InspectionPage, client=api, limit=limit, state=state
        )
        rows += [("inspection", item) for item in page.items]
    if kind in (None, "deployments"):
        other = call(
            list_deployments.sync_detailed, DeploymentPage, client=api, limit=limit, state=state
        )
        rows += [("deployment", item) for item in other.items]
    rows.sort(key=lambda row: row[1].created_at, reverse=True)
    if output is Output.json:
        emit_json({"items": [{"kind": name, **item.to_dict()} for name, item in rows]})
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("KIND", "ID", "IDENTIFIER", "STATE", "RUNS", "CREATED"):
        table.add_column(column)
    for name, item in rows:
        table.add_row(
            name,
            str(item.id),
            escape(value(item.identifier) or "-"),
            state_text(item.state),
            str(item.batch_size),
            when(item.created_at),
        )
    out.print(table)


@handled
def nodes(
    gpu: Annotated[str | None, typer.Option(help="Only nodes with it: H100, H100:2.")] = None,
    testbed: Annotated[str | None, typer.Option(help="Only this testbed's.")] = None,
    arch: Annotated[str | None, typer.Option(help="x86_64, aarch64, ...")] = None,
    output: OutputOption = Output.text,
) -> None:
    """Every node with its accelerators, free and total, and its testbed (like sky show-gpus)."""
    api = client()
    items: list[NodeOut] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"accelerator": gpu, "testbed": testbed, "arch": arch}
        query = {key: item for key, item in query.items() if item is not None}
        if cursor is not None:
            query["cursor"] = cursor
        page = call(list_nodes.sync_detailed, NodePage, client=api, limit=500, **query)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    if output is Output.json:
        emit_json({"items": [node.to_dict() for node in items]})
        return
    if not items:
        err.print("no node" + (f" with {escape(gpu)}" if gpu else ""))
        return
    for number, table in enumerate(nodes_tables(items)):
        if number:
            out.print()
        out.print(table)


@handled
def offers(
    gpu: Annotated[
        str | None, typer.Argument(help="What a run asks: H100:2, nvidia:40GB..")
    ] = None,
    cpu: Annotated[str | None, typer.Option(help="Cores: 2, 0.5 or 500m.")] = None,
    memory: Annotated[str | None, typer.Option(help="Memory with a unit: 16GiB.")] = None,
    image: Annotated[str | None, typer.Option(help="Run in this image (else on the host).")] = None,
    testbed: Annotated[str | None, typer.Option(help="Only this testbed's.")] = None,
    output: OutputOption = Output.text,
) -> None:
    """Where a run would go, in the order placement would try, and why every other node is
    ruled out (the first constraint it fails)."""
    query: dict[str, Any] = {"hardware": gpu, "cpu": cpu, "memory": memory, "image": image,
                             "testbed": testbed}  # fmt: skip
    query = {key: item for key, item in query.items() if item is not None}
    found = call(list_offers.sync_detailed, Offers, client=client(), **query)
    if output is Output.json:
        emit_json(found.to_dict())
        return
    for number, table in enumerate(offers_tables(found)):
        if number:
            out.print()
        out.print(table)
    if found.waiting:
        err.print(escape(found.waiting))
    if found.unmet:
        err.print(escape(found.unmet))
        raise typer.Exit(exits.FAILED)
