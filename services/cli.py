"""The `tessera` command: the server's processes and, for users, the client commands.

Server side: `api`, `worker`, `beat`, `migrate`, `up`, `admin`. User side (services/cli_client,
built on the generated client in clients/python): `login`, `inspect`, `deploy`, `status`,
`logs`, `result`, `cancel`, `list`, `nodes`, `testbeds`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli_client import register

if TYPE_CHECKING:
    from shared.config import Settings

SERVICES = {"builder": "build", "deployer": "deploy", "monitor": "monitor"}

app = typer.Typer(
    name="tessera",
    help="Build the environment an application needs and run it on the hardware it asks for.",
    no_args_is_help=True,
    add_completion=False,
    # A traceback with locals would print the token; a plain one is enough.
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
admin = typer.Typer(help="Administration on this host's database.", no_args_is_help=True)
app.add_typer(admin, name="admin")


class Service(StrEnum):
    builder = "builder"
    deployer = "deployer"
    monitor = "monitor"


class Pool(StrEnum):
    prefork = "prefork"
    threads = "threads"
    solo = "solo"


def _settings() -> Settings:
    # Imported here: the user commands do not need the server's settings (pydantic), and
    # every `tessera` call would pay for them.
    from shared.config import get_settings

    return get_settings()


def _migrate(settings: Settings) -> None:
    from shared.db.migrate import upgrade

    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)


def _register_local(settings: Settings) -> None:
    if not settings.local_testbed:
        return
    from services import worker
    from shared.testbeds import local

    with worker.transaction() as session:
        local.register(session)


def create_token(project: str, *, admin: bool, name: str = "cli") -> str:
    """Make a token in `project` (created if new); the token is shown only here."""
    from sqlalchemy import select

    from services import worker
    from shared.db.models import ApiToken, Project
    from shared.security import hash_token, new_token

    token = new_token()
    with worker.transaction() as session:
        row = session.execute(select(Project).where(Project.name == project)).scalar_one_or_none()
        if row is None:
            row = Project(name=project)
            session.add(row)
            session.flush()
        session.add(
            ApiToken(project_id=row.id, name=name, token_hash=hash_token(token), is_admin=admin)
        )
    return token


@app.command(rich_help_panel="Server")
def api(
    host: Annotated[str | None, typer.Option(help="Default: TESSERA_API_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: TESSERA_API_PORT.")] = None,
    workers: Annotated[int | None, typer.Option(help="Default: TESSERA_API_WORKERS.")] = None,
) -> None:
    """Run the REST API."""
    import uvicorn

    settings = _settings()
    uvicorn.run(
        "services.api.app:app_from_env",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers or settings.api_workers,
        log_level="warning",
        access_log=False,
    )


@app.command(rich_help_panel="Server")
def worker(
    service: Annotated[Service, typer.Argument(help="Which worker: its queue follows.")],
    concurrency: Annotated[int, typer.Option("--concurrency", "-c")] = 2,
    pool: Annotated[Pool, typer.Option()] = Pool.prefork,
    loglevel: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Run a worker: builder, deployer or monitor (kept running by a supervisor process)."""
    if os.environ.get(_CHILD) != "1":
        sys.exit(_supervise(worker_command(service, concurrency, pool, loglevel)))
    import importlib

    importlib.import_module(f"services.{service.value}.tasks")
    if service in (Service.deployer, Service.monitor):
        _register_local(_settings())
    argv = [
        "worker",
        "-Q",
        SERVICES[service.value],
        "-n",
        f"{service.value}-{os.getpid()}@%h",
        "--loglevel",
        loglevel,
        "-c",
        str(concurrency),
        "--pool",
        pool.value,
        "--without-gossip",
        "--without-mingle",
    ]
    _die_with_parent()
    sys.exit(_run_celery_worker(argv))


def _run_celery_worker(argv: list[str]) -> int:
    """Run the Celery worker; its exit code, which Celery's own entry points drop.

    After an "Unrecoverable error" the worker stops with exit code 1, but `worker_main` and
    `start` return nothing, so the process would exit 0: a stop, to the supervisor. The
    worker object itself keeps the code.
    """
    from celery.signals import worker_init

    from shared.celery_app import celery_app

    workers: list[Any] = []
    worker_init.connect(lambda sender, **_: workers.append(sender), weak=False)
    celery_app().worker_main(argv)
    code = getattr(workers[-1], "exitcode", None) if workers else None
    return code if isinstance(code, int) else 0


_CHILD = "TESSERA_WORKER_CHILD"


class Supervisor:
    """Keeps one worker process running: `tessera worker` is this, and the worker its child.

    A Celery worker can die without a clean exit when its broker goes away under it (kombu's
    Redis transport raises a non-connection error while restoring unacknowledged messages:
    "Unrecoverable error"); a queue must not stay without its worker for that. The child is
    started again after a backoff (0.5 s doubling to 30 s; the count resets once a child has
    served 5 minutes), and given up on after 5 quick failures in a row (each under 10 s: bad
    settings, not an incident). SIGTERM and SIGINT are passed on and end the supervision; the
    child is killed with its supervisor (PR_SET_PDEATHSIG), so `kill -9` of the pid that was
    started leaves no worker behind.
    """

    QUICK_S = 10.0
    HEALTHY_S = 300.0
    MAX_QUICK = 5

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None

    def forward(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def backoff(self, failures: int) -> float:
        return min(30.0, 0.5 * (1 << max(0, failures - 1)))

    def run(self, sleep: Callable[[float], None] = time.sleep) -> int:
        failures = quick = 0
        while True:
            began = time.monotonic()
            # Its own process group: a terminal's Ctrl-C reaches the worker once, through here
            # (twice would be Celery's cold shutdown).
            self.child = subprocess.Popen(
                self.command, env={**os.environ, _CHILD: "1"}, process_group=0
            )
            code = self.child.wait()
            if self.stopping or code == 0:
                return code
            served = time.monotonic() - began
            failures = 1 if served > self.HEALTHY_S else failures + 1
            quick = quick + 1 if served < self.QUICK_S else 0
            if quick >= self.MAX_QUICK:
                print(f"worker failed {quick} times in a row at start; giving up", flush=True)
                return code
            delay = self.backoff(failures)
            print(
                f"worker exited ({code}) after {served:.0f} s; restarting in {delay:.1f} s",
                flush=True,
            )
            sleep(delay)
            if self.stopping:
                return code


def worker_command(service: Service, concurrency: int, pool: Pool, loglevel: str) -> list[str]:
    """The command line of the worker process a supervisor starts."""
    options = ["-c", str(concurrency), "--pool", pool.value, "--loglevel", loglevel]
    return [sys.executable, "-m", "services.cli", "worker", service.value, *options]


def _supervise(command: list[str]) -> int:
    supervisor = Supervisor(command)
    signal.signal(signal.SIGTERM, supervisor.forward)
    signal.signal(signal.SIGINT, supervisor.forward)
    return supervisor.run()


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when the process that started it dies."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the supervisor died before prctl took effect
        os._exit(1)


@app.command(rich_help_panel="Server")
def beat(loglevel: Annotated[str, typer.Option()] = "INFO") -> None:
    """Run the scheduler of the monitor's loops."""
    from services.monitor.tasks import beat_schedule
    from shared.celery_app import celery_app

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    celery = celery_app()
    celery.conf.beat_schedule = beat_schedule()
    celery.start(["beat", "--loglevel", loglevel, "-s", str(settings.home / "celerybeat-schedule")])


@app.command(rich_help_panel="Server")
def migrate() -> None:
    """Upgrade the database to the newest revision."""
    _migrate(_settings())
    print("database is at the newest revision")


@admin.command("create-token")
def create_token_command(
    project: Annotated[str, typer.Option(help="Created if new.")] = "default",
    is_admin: Annotated[bool, typer.Option("--admin", help="May manage testbeds.")] = False,
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
) -> None:
    """Make an API token and print it once."""
    print(create_token(project, admin=is_admin, name=name))


def _admin_token(settings: Settings) -> tuple[str, bool]:
    path = settings.home / "admin.token"
    if path.exists():
        return path.read_text().strip(), False
    token = create_token("admin", admin=True, name="embedded-admin")
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token, True


@app.command(rich_help_panel="Server")
def up() -> None:
    """Everything in one process tree (embedded default); Ctrl-C stops it all."""
    settings = _settings()
    _migrate(settings)
    _register_local(settings)
    token, new = _admin_token(settings)
    url = f"http://{settings.api_host}:{settings.api_port}"
    exe = [sys.executable, "-m", "services.cli"]
    commands = [[*exe, "api"], [*exe, "beat", "--loglevel", "WARNING"]]
    commands += [
        [*exe, "worker", name, "--pool", "threads", "--concurrency", "4", "--loglevel", "WARNING"]
        for name in SERVICES
    ]
    children = [subprocess.Popen(command) for command in commands]

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Tessera is up at {url} (database {settings.db_url})")
    print(f"admin token{' (new)' if new else ''}: {token}  (also in {settings.home}/admin.token)")
    print(
        "try:\n  tessera inspect examples/avx512-check/spec.yaml   (finds this server and token)\n"
        "  curl -s -X POST " + url + "/api/v1/inspections \\\n"
        f"    -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n"
        '    -d \'{"base": "host", "script": "#!/bin/sh\\necho {\\\\"hello\\\\": 1}"}\'',
        flush=True,
    )
    while True:
        for command, child in zip(commands, children, strict=True):
            if child.poll() is not None:
                name = " ".join(command[3:5])
                print(f"{name} exited with {child.returncode}; stopping", file=sys.stderr)
                stop()
        time.sleep(1)


register(app)


def main(argv: list[str] | None = None) -> None:
    """The console script; `argv` for tests (exits like the command would)."""
    app(args=argv, prog_name="tessera")


if __name__ == "__main__":
    main()
