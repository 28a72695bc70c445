"""`tessera testbeds add|list|refresh|remove` (admin tokens)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from tessera_client import AuthenticatedClient
from tessera_client.api.testbeds import (
    create_testbed,
    delete_testbed,
    list_testbeds,
    refresh_testbed,
)
from tessera_client.models import Accepted, TestbedCreate, TestbedList, TestbedOut

from services.cli.user import exits, specs
from services.cli.user.api import ApiError, call
from services.cli.user.commands import client, handled
from services.cli.user.output import Output, OutputOption, emit_json, err, out, state_text, when

app = typer.Typer(help="Where runs can go (admin token).", no_args_is_help=True)
Name = Annotated[str, typer.Argument(metavar="NAME", help="The testbed's name or id.")]


def _find(api: AuthenticatedClient, ident: str) -> TestbedOut:
    """A testbed by name or id (the API addresses testbeds by id)."""
    for testbed in call(list_testbeds.sync_detailed, TestbedList, client=api).items:
        if testbed.name == ident or str(testbed.id) == ident:
            return testbed
    raise ApiError(f"no testbed {ident!r}", exits.REFUSED, 404)


def _config(values: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise specs.SpecError(f"--config takes KEY=VALUE, got {item!r}")
        config[key] = raw
    return config


@app.command("add")
@handled
def add(
    name: Annotated[str, typer.Argument(help="Lowercase letters, digits and '-'.")],
    kind: Annotated[str, typer.Option(help="local (ssh, slurm, kubernetes, ec2 come later).")],
    config: Annotated[
        list[str] | None, typer.Option("--config", help="KEY=VALUE; repeatable.")
    ] = None,
    credentials_file: Annotated[
        Path | None, typer.Option(help="A file with its credentials (never shown again).")
    ] = None,
    output: OutputOption = Output.text,
) -> None:
    """Add a testbed; its nodes appear once the monitor has refreshed it."""
    body: dict[str, Any] = {"name": name, "kind": kind, "config": _config(config or [])}
    if credentials_file is not None:
        try:
            body["credentials"] = credentials_file.read_text()
        except OSError as error:
            raise specs.SpecError(f"--credentials-file: {error}") from None
    api = client()
    made = call(
        create_testbed.sync_detailed, TestbedOut, client=api, body=TestbedCreate.from_dict(body)
    )
    if output is Output.json:
        emit_json(made.to_dict())
    else:
        out.print(f"testbed {escape(made.name)} ({made.kind}) added: {made.id}")


@app.command("list")
@handled
def list_(output: OutputOption = Output.text) -> None:
    """Every testbed, its state and node count."""
    items = call(list_testbeds.sync_detailed, TestbedList, client=client()).items
    if output is Output.json:
        emit_json({"items": [item.to_dict() for item in items]})
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("NAME", "KIND", "STATE", "NODES", "REFRESHED", "ID"):
        table.add_column(column)
    for item in items:
        reason = f" ({escape(item.state_reason)})" if item.state_reason else ""
        table.add_row(
            escape(item.name),
            item.kind,
            state_text(item.state) + reason,
            str(item.nodes),
            when(item.refreshed_at),
            str(item.id),
        )
    out.print(table)


@app.command("refresh")
@handled
def refresh(name: Name, output: OutputOption = Output.text) -> None:
    """Re-discover a testbed's nodes now."""
    api = client()
    testbed = _find(api, name)
    call(refresh_testbed.sync_detailed, Accepted, client=api, testbed_id=testbed.id)
    if output is Output.json:
        emit_json({"id": str(testbed.id), "name": testbed.name, "refresh": "sent"})
    else:
        err.print(f"refreshing {escape(testbed.name)}; `tessera nodes --testbed {testbed.name}`")


@app.command("remove")
@handled
def remove(name: Name, output: OutputOption = Output.text) -> None:
    """Remove a testbed (one with finished runs is renamed and taken offline)."""
    api = client()
    testbed = _find(api, name)
    call(delete_testbed.sync_detailed, type(None), client=api, testbed_id=testbed.id)
    if output is Output.json:
        emit_json({"id": str(testbed.id), "name": testbed.name, "removed": True})
    else:
        out.print(f"testbed {escape(testbed.name)} removed")
