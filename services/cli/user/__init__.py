"""The user side of `tessera`, built on the generated client in clients/python."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the user commands to the `tessera` command."""
    from services.cli.user import apps, commands, queries, testbeds, workflows

    panel = "Use"
    app.command(rich_help_panel=panel)(commands.login)
    app.command(rich_help_panel=panel)(commands.inspect)
    app.command(
        rich_help_panel=panel,
        context_settings={"allow_interspersed_args": False},
    )(commands.deploy)
    app.command(rich_help_panel=panel)(queries.status)
    app.command(rich_help_panel=panel)(queries.logs)
    app.command(rich_help_panel=panel)(queries.result)
    app.command(rich_help_panel=panel)(queries.cancel)
    app.command("list", rich_help_panel=panel)(queries.list_)
    app.command(rich_help_panel=panel)(queries.nodes)
    app.command(rich_help_panel=panel)(queries.offers)
    app.add_typer(testbeds.app, name="testbeds", rich_help_panel=panel)
    app.add_typer(apps.app, name="app", rich_help_panel=panel)
    app.add_typer(workflows.app, name="workflow", rich_help_panel=panel)
