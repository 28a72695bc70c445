"""Watching an inspection or a deployment: progress through building, placing and running,
the first run's output live, then the results."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.status import Status as Spinner
from tessera_client import AuthenticatedClient
from tessera_client.api.deployments import (
    cancel_deployment,
    get_deployment,
    get_deployment_status,
    list_deployment_runs,
)
from tessera_client.api.inspections import (
    cancel_inspection,
    get_inspection,
    get_inspection_build_log,
    get_inspection_status,
    list_inspection_runs,
)
from tessera_client.api.runs import get_run_result
from tessera_client.models import (
    DeploymentOut,
    InspectionOut,
    RunList,
    RunOut,
    RunResult,
    Status,
)
from tessera_client.types import Response

from services.cli.user import exits
from services.cli.user.api import ApiError, call, follow_log
from services.cli.user.output import Output, emit_json, err, out, result_lines, runs_table, value

POLL_S = 0.5
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
RUN_ENDED = frozenset({"succeeded", "failed", "cancelled", "lost"})
MAX_RESULTS_SHOWN = 10


@dataclass(frozen=True)
class Kind:
    """An inspection or a deployment: the generated calls that differ between them."""

    name: str
    get: Callable[..., Response[Any]]
    status: Callable[..., Response[Any]]
    runs: Callable[..., Response[Any]]
    cancel: Callable[..., Response[Any]]
    model: type[InspectionOut] | type[DeploymentOut]


INSPECTION = Kind(
    "inspection",
    get_inspection.sync_detailed,
    get_inspection_status.sync_detailed,
    list_inspection_runs.sync_detailed,
    cancel_inspection.sync_detailed,
    InspectionOut,
)
DEPLOYMENT = Kind(
    "deployment",
    get_deployment.sync_detailed,
    get_deployment_status.sync_detailed,
    list_deployment_runs.sync_detailed,
    cancel_deployment.sync_detailed,
    DeploymentOut,
)


class Progress:
    """Where the work is, on stderr: a spinner on a terminal, one line per change elsewhere."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._spinner: Spinner | None = None
        self._last: str | None = None

    def update(self, text: str) -> None:
        if not self.enabled or text == self._last:
            return
        self._last = text
        if not err.is_terminal:
            err.print(f"… {text}")
        elif self._spinner is None:
            self._spinner = err.status(text)
            self._spinner.start()
        else:
            self._spinner.update(text)

    def done(self, text: str) -> None:
        self.pause()
        if self.enabled:
            err.print(f"[green]✓[/] {text}")

    def pause(self) -> None:
        """Stop the spinner (before output that it would garble)."""
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
        self._last = None


def status_of(client: AuthenticatedClient, kind: Kind, item_id: uuid.UUID) -> Status:
    return call(kind.status, Status, client=client, item_id=item_id)


def runs_of(client: AuthenticatedClient, kind: Kind, item_id: uuid.UUID) -> list[RunOut]:
    return call(kind.runs, RunList, client=client, item_id=item_id).items


def _counts(status: Status) -> str:
    counts = status.runs.additional_properties
    return ", ".join(f"{count} {state}" for state, count in sorted(counts.items())) or "no runs"


def _where(run: RunOut) -> str:
    return f"{value(run.testbed) or '?'}/{run.node_name or '?'}"


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class _Tail:
    """Writes streamed text and remembers whether it ended a line."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self.sink, self.open_line = sink, False

    def __call__(self, text: str) -> None:
        self.sink(text)
        self.open_line = not text.endswith("\n")


def _build_phase(
    client: AuthenticatedClient, item_id: uuid.UUID, progress: Progress, build_log: bool
) -> Status:
    if build_log:
        progress.update("building the environment")
        progress.pause()
        tail = _Tail(lambda text: err.out(text, end="", highlight=False))
        follow_log(client, f"/api/v1/inspections/{item_id}/build/log", on_text=tail)
        if tail.open_line:
            err.out("")
    while True:
        status = status_of(client, INSPECTION, item_id)
        build = status.build
        if build is None or build.state not in ("pending", "building"):
            if build is not None and build.state == "succeeded":
                progress.done("environment built" + (" (cached)" if build.cached else ""))
            return status
        progress.update(f"building the environment ({build.state})")
        time.sleep(POLL_S)


def _run_phase(
    client: AuthenticatedClient,
    kind: Kind,
    item_id: uuid.UUID,
    progress: Progress,
    follow_output: bool,
) -> None:
    """Wait for the first run to start, then show its output live until it ends."""
    while True:
        runs = runs_of(client, kind, item_id)
        if not runs:
            return
        first = runs[0]
        if first.state == "running" or first.state in RUN_ENDED:
            break
        if first.state == "placed":
            reason = f": {first.state_reason}" if first.state_reason else ""
            progress.update(f"run 0 placed on {_where(first)}, starting{reason}")
        elif first.state == "queued":
            progress.update("run 0 queued, placing it on a node")
        else:
            progress.update(f"run 0 {first.state}")
        time.sleep(POLL_S)
    if first.state in RUN_ENDED and first.node_name is None:
        return  # it never ran (cancelled, or its build failed): there is no output
    progress.done(f"run 0 on {escape(_where(first))}")
    if follow_output:
        progress.pause()
        tail = _Tail(_write)
        follow_log(client, f"/api/v1/runs/{first.id}/log", on_text=tail)
        if tail.open_line:
            _write("\n")


def _results(client: AuthenticatedClient, runs: list[RunOut]) -> list[RunResult | None]:
    results: list[RunResult | None] = []
    for run in runs:
        if run.state not in RUN_ENDED or run.node_name is None:
            results.append(None)
            continue
        try:
            found = call(get_run_result.sync_detailed, RunResult, client=client, run_id=run.id)
            results.append(found)
        except ApiError as error:
            if error.status != 404:
                raise
            results.append(None)
    return results


def watch(
    client: AuthenticatedClient,
    kind: Kind,
    item_id: uuid.UUID,
    output: Output,
    *,
    build_log: bool = False,
) -> int:
    """Follow the work to its end, print what happened; the exit code its final state means."""
    text = output is Output.text
    progress = Progress(enabled=text)
    try:
        if kind is INSPECTION:
            _build_phase(client, item_id, progress, build_log and text)
        # Even when everything has ended already (a quick run): its output is still shown.
        _run_phase(client, kind, item_id, progress, follow_output=text)
        while True:
            status = status_of(client, kind, item_id)
            if status.state in TERMINAL:
                break
            progress.update(f"runs: {_counts(status)}")
            time.sleep(POLL_S)
    finally:
        progress.pause()
    runs = runs_of(client, kind, item_id)
    results = _results(client, runs)
    if not text:
        emit_json(
            {
                "kind": kind.name,
                "id": str(item_id),
                "state": status.state,
                "state_reason": status.state_reason,
                "status": status.to_dict(),
                "runs": [run.to_dict() for run in runs],
                "results": [None if r is None else r.to_dict() for r in results],
            }
        )
        return exits.for_state(status.state)
    if status.build is not None and status.build.state == "failed":
        _show_build_failure(client, item_id)
    if runs:
        out.print(runs_table(runs))
    for result in [r for r in results if r is not None][:MAX_RESULTS_SHOWN]:
        # Run 0's output was just streamed; its stdout again would only repeat it.
        for line in result_lines(result, stdout=result.index != 0):
            out.print(line)
    reason = f": {escape(status.state_reason)}" if status.state_reason else ""
    colour = {"succeeded": "green", "cancelled": "yellow"}.get(status.state, "red")
    err.print(f"{kind.name} {item_id} [{colour}]{status.state}[/]{reason}")
    return exits.for_state(status.state)


def _show_build_failure(client: AuthenticatedClient, item_id: uuid.UUID) -> None:
    try:
        log = call(get_inspection_build_log.sync_detailed, str, client=client, item_id=item_id)
    except ApiError:
        return
    lines = log.rstrip("\n").splitlines()[-30:]
    err.print("[red]the build failed[/]; the end of its log:")
    for line in lines:
        err.out("  " + line, highlight=False)
