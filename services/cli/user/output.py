"""What the user commands print: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from tessera_client.models import Accelerator, NodeOut, Offers, RunOut, RunResult
from tessera_client.types import Unset

from services.cli.user import exits
from services.cli.user.api import ApiError
from services.cli.user.specs import SpecError


class Output(StrEnum):
    text = "text"
    json = "json"


OutputOption = Annotated[
    Output,
    typer.Option("--output", "-o", help="text for people; json (on stdout) for scripts."),
]

# Piped output is not cut at 80 columns: ids in a table must stay whole to be copied.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 250)
err = Console(
    stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 250
)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def fail(error: ApiError | SpecError, output: Output) -> NoReturn:
    """Report the error (JSON on stdout in json mode, so scripts can always parse) and exit."""
    if isinstance(error, SpecError):
        code, document = exits.USAGE, {"error": str(error), "status": None}
    else:
        code, document = error.code, error.to_dict()
    if output is Output.json:
        emit_json(document)
    else:
        err.print(f"[red]error:[/] {escape(str(error))}")
        if isinstance(error, ApiError):
            for field, reason in error.fields():
                if f"{field}: {reason}" != str(error):
                    err.print(f"  {escape(field)}: {escape(reason)}")
    raise typer.Exit(code)


def value(item: Any) -> Any:
    """A generated model's field, with Unset as None."""
    return None if isinstance(item, Unset) else item


def size(count: int | None) -> str:
    if count is None:
        return "-"
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if count >= scale:
            shown = f"{count / scale:.0f}" if count % scale == 0 else f"{count / scale:.1f}"
            return f"{shown} {unit}"
    return f"{count} B"


def when(stamp: datetime | None) -> str:
    return "-" if stamp is None else stamp.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = (end - start).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def state_text(state: str) -> str:
    colour = {
        "succeeded": "green",
        "failed": "red",
        "lost": "red",
        "cancelled": "yellow",
        "running": "cyan",
    }.get(state)
    return f"[{colour}]{state}[/]" if colour else state


def runs_table(runs: Sequence[RunOut]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("RUN", "STATE", "TESTBED", "NODE", "EXIT", "TOOK", "RUN ID"):
        table.add_column(column)
    for run in runs:
        table.add_row(
            str(run.index),
            state_text(run.state),
            escape(value(run.testbed) or "-"),
            escape(run.node_name or "-"),
            "-" if run.exit_code is None else str(run.exit_code),
            duration(run.started_at or run.placed_at, run.finished_at),
            str(run.id),
        )
    return table


def result_lines(result: RunResult, *, stdout: bool = True) -> Iterable[str]:
    """A run's result, the parts people look at first (stdout too unless it was just shown)."""
    cpu = result.hwinfo.additional_properties.get("cpu") or {}
    gpus = result.hwinfo.additional_properties.get("gpus") or []
    where = f"{result.testbed or '?'}/{result.node or '?'}"
    ended = "-" if result.exit_code is None else str(result.exit_code)
    yield f"run {result.index} on {escape(where)}: exit code {ended}" + (
        f" ({result.signal})" if result.signal else ""
    )
    if isinstance(cpu, dict) and cpu.get("model_name"):
        yield f"  cpu: {escape(str(cpu['model_name']))}"
    for gpu in gpus if isinstance(gpus, list) else []:
        if isinstance(gpu, dict):
            name = gpu.get("model") or gpu.get("name") or "gpu"
            yield f"  gpu: {escape(str(name))} {size(gpu.get('memory_bytes'))}"
    if result.error:
        yield f"  [red]error:[/] {escape(result.error)}"
    if not stdout:
        pass
    elif isinstance(result.stdout, dict | list):
        yield "  stdout (JSON): " + escape(json.dumps(result.stdout))
    elif result.stdout:
        text = str(result.stdout).rstrip("\n")
        yield "  stdout: " + escape(text if len(text) < 400 else text[:400] + " ...")
    if result.stderr.strip():
        tail = result.stderr.rstrip("\n")[-400:]
        yield "  stderr: " + escape(tail)


def _accelerator_name(accelerator: Accelerator) -> str:
    name = accelerator.model
    if accelerator.vendor.lower() not in name.lower() and accelerator.vendor != "unknown":
        name = f"{accelerator.vendor} {name}"
    return name


def nodes_tables(nodes: Sequence[NodeOut]) -> list[Table]:
    """Like `sky show-gpus`: accelerators across nodes, then every node with its own."""
    groups: dict[tuple[str, str, int | None], list[tuple[int, int]]] = {}
    for node in nodes:
        for accelerator in node.accelerators:
            key = (accelerator.kind, _accelerator_name(accelerator), accelerator.memory_bytes)
            free = accelerator.count if accelerator.free is None else accelerator.free
            groups.setdefault(key, []).append((accelerator.count, free))
    summary = Table(title="Accelerators", box=None, pad_edge=False, header_style="bold")
    for column in ("ACCELERATOR", "KIND", "MEMORY", "PER NODE", "TOTAL", "FREE", "NODES"):
        summary.add_column(column)
    for (kind, name, memory), counts in sorted(groups.items(), key=lambda item: item[0][1]):
        per_node = ", ".join(str(count) for count in sorted({count for count, _ in counts}))
        summary.add_row(
            escape(name),
            kind,
            size(memory),
            per_node,
            str(sum(count for count, _ in counts)),
            str(sum(free for _, free in counts)),
            str(len(counts)),
        )
    table = Table(title="Nodes", box=None, pad_edge=False, header_style="bold")
    columns = ("TESTBED", "NODE", "STATE", "ACCELERATORS (FREE/TOTAL)", "CPU", "CORES", "MEMORY")
    for column in columns:
        table.add_column(column)
    for node in nodes:
        accelerators = ", ".join(
            f"{_accelerator_name(a)} {a.free if a.free is not None else a.count}/{a.count}"
            for a in node.accelerators
        )
        cpu = " ".join(part for part in (node.arch, node.cpu_model) if part)
        table.add_row(
            escape(node.testbed),
            escape(node.name),
            state_text(node.state) if node.state != "online" else "[green]online[/]",
            escape(accelerators or "-"),
            escape(cpu or "-"),
            "-" if node.cores is None else str(node.cores),
            size(node.memory_bytes),
        )
    return ([summary] if groups else []) + [table]


def _price(offer: Any) -> str:
    """A cloud offer's price per hour and what for (spot, on-demand); "-" elsewhere."""
    price = getattr(offer, "price_per_hour", None)
    if not isinstance(price, int | float):
        return "-"
    lifecycle = getattr(offer, "lifecycle", None)
    return f"{price:.4g} {lifecycle}" if isinstance(lifecycle, str) else f"{price:.4g}"


def offers_tables(offers: Offers) -> list[Table]:
    """What a request would get, ranked as placement ranks it, and why the rest is ruled out."""
    ranked = Table(title="Offers", box=None, pad_edge=False, header_style="bold")
    for column in ("RANK", "TESTBED", "NODE", "NOW", "ACCELERATORS (FREE/TOTAL)", "QUEUED",
                   "ACTIVE", "$/HOUR"):  # fmt: skip
        ranked.add_column(column)
    for offer in offers.offers:
        accelerators = ", ".join(
            f"{_accelerator_name(a)} {a.free if a.free is not None else a.count}/{a.count}"
            for a in offer.accelerators
        )
        ranked.add_row(
            str(offer.rank),
            escape(offer.testbed),
            escape(offer.node),
            "[green]yes[/]" if offer.can_start_now else f"short {offer.short}",
            escape(accelerators or "-"),
            str(offer.queued),
            str(offer.active),
            _price(offer),
        )
    out_of = Table(title="Ruled out", box=None, pad_edge=False, header_style="bold")
    for column in ("TESTBED", "NODE", "WHY"):
        out_of.add_column(column)
    for item in offers.ruled_out:
        out_of.add_row(escape(item.testbed), escape(item.node), escape(item.reason))
    return [table for table in (ranked, out_of) if table.row_count]
