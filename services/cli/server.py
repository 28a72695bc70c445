"""The server side of `tessera`: `api`, `worker`, `beat`, `migrate`, `up`, `admin`.

Each command imports what it runs when it runs: the user commands share the process, and
every `tessera` call would pay for the server's imports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli import supervisor

if TYPE_CHECKING:
    from shared.config import Settings

SERVICES = {"builder": "build", "deployer": "deploy", "monitor": "monitor"}


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
    from services.monitor.inventory import register_local

    register_local()


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


def worker(
    service: Annotated[Service, typer.Argument(help="Which worker: its queue follows.")],
    concurrency: Annotated[int, typer.Option("--concurrency", "-c")] = 2,
    pool: Annotated[Pool, typer.Option()] = Pool.prefork,
    loglevel: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Run a worker: builder, deployer or monitor (kept running by a supervisor process)."""
    if os.environ.get(supervisor.CHILD_ENV) != "1":
        command = supervisor.worker_command(service.value, concurrency, pool.value, loglevel)
        sys.exit(supervisor.supervise(command))
    import importlib

    importlib.import_module(f"services.{service.value}.tasks")
    yield_cpu(_settings())
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
    supervisor.die_with_parent()
    sys.exit(_run_celery_worker(argv))


def yield_cpu(settings: Settings) -> None:
    """Lower this process's priority by `TESSERA_WORKER_NICE`: a worker's cycle over
    thousands of runs is throughput work, a user's request waits on the API. On a machine
    the API shares with the workers, the API is served first (its p99 at 10,000 active runs:
    bench/README.md)."""
    if settings.worker_nice > 0:
        try:
            os.nice(settings.worker_nice)
        except OSError:  # a container may forbid it: the worker runs as it is
            print(
                f"could not lower this worker's priority by {settings.worker_nice}", file=sys.stderr
            )


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


def beat(loglevel: Annotated[str, typer.Option()] = "INFO") -> None:
    """Run the scheduler of the monitor's loops."""
    from services.monitor.tasks import beat_schedule
    from shared.celery_app import celery_app

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    celery = celery_app()
    celery.conf.beat_schedule = beat_schedule()
    celery.start(["beat", "--loglevel", loglevel, "-s", str(settings.home / "celerybeat-schedule")])


def migrate() -> None:
    """Upgrade the database to the newest revision."""
    _migrate(_settings())
    print("database is at the newest revision")


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
    print(f"dashboard: {url}/  (sign in with the admin token)")
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


def register(app: typer.Typer) -> None:
    """Add the server's commands to the `tessera` command."""
    panel = "Server"
    for command in (api, worker, beat, migrate, up):
        app.command(rich_help_panel=panel)(command)
    admin = typer.Typer(help="Administration on this host's database.", no_args_is_help=True)
    admin.command("create-token")(create_token_command)
    app.add_typer(admin, name="admin")
