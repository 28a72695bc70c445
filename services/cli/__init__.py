"""The `tessera` command: the server's processes and, for users, the client commands.

Server side (server.py; the worker's supervisor in supervisor.py): `api`, `worker`, `beat`,
`migrate`, `up`, `admin`. User side (user/, built on the generated client in
clients/python): `login`, `inspect`, `deploy`, `status`, `logs`, `result`, `cancel`, `list`,
`nodes`, `testbeds`.
"""

from __future__ import annotations

import typer

from services.cli import server, user

app = typer.Typer(
    name="tessera",
    help="Build the environment an application needs and run it on the hardware it asks for.",
    no_args_is_help=True,
    add_completion=False,
    # A traceback with locals would print the token; a plain one is enough.
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
server.register(app)
user.register(app)


def main(argv: list[str] | None = None) -> None:
    """The console script; `argv` for tests (exits like the command would)."""
    app(args=argv, prog_name="tessera")
