"""The server side of `tessera` keeps its commands and options (typer replaced argparse)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from services import cli
from shared.config import Settings

runner = CliRunner()


def test_migrate_and_create_token(settings: Settings) -> None:
    migrated = runner.invoke(cli.app, ["migrate"])
    assert migrated.exit_code == 0 and "newest revision" in migrated.output
    made = runner.invoke(
        cli.app, ["admin", "create-token", "--project", "lab", "--admin", "--name", "ci"]
    )
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    assert token.startswith("tsr_")

    from services import worker
    from shared.db.models import ApiToken, Project
    from shared.security import hash_token

    with worker.transaction() as session:
        row = session.execute(
            select(ApiToken, Project.name)
            .join(Project, ApiToken.project_id == Project.id)
            .where(ApiToken.token_hash == hash_token(token))
        ).one()
    assert (row[0].is_admin, row[0].name, row[1]) == (True, "ci", "lab")


class Captured:
    """What the command handed to Celery, instead of running a worker or beat."""

    argv: list[str] = []


@pytest.fixture
def celery(monkeypatch: pytest.MonkeyPatch) -> type[Captured]:
    from celery import Celery

    def capture(_app: Celery, argv: list[str]) -> None:
        Captured.argv = argv

    monkeypatch.setattr(Celery, "worker_main", capture)
    monkeypatch.setattr(Celery, "start", capture)
    return Captured


def _option(argv: list[str], name: str) -> Any:
    return argv[argv.index(name) + 1]


def test_worker_options_reach_celery(settings: Settings, celery: type[Captured]) -> None:
    done = runner.invoke(
        cli.app, ["worker", "builder", "-c", "4", "--pool", "threads", "--loglevel", "WARNING"]
    )
    assert done.exit_code == 0, done.output
    argv = celery.argv
    assert argv[0] == "worker" and _option(argv, "-Q") == "build"
    assert (_option(argv, "-c"), _option(argv, "--pool")) == ("4", "threads")
    assert _option(argv, "--loglevel") == "WARNING"
    assert runner.invoke(cli.app, ["worker", "builder", "--concurrency", "3"]).exit_code == 0
    assert _option(celery.argv, "-c") == "3" and _option(celery.argv, "--pool") == "prefork"


def test_beat_and_bad_usage(settings: Settings, celery: type[Captured]) -> None:
    assert runner.invoke(cli.app, ["beat", "--loglevel", "DEBUG"]).exit_code == 0
    assert celery.argv[:3] == ["beat", "--loglevel", "DEBUG"]
    assert runner.invoke(cli.app, ["worker", "painter"]).exit_code == 2
    assert runner.invoke(cli.app, ["worker", "builder", "--pool", "gevent"]).exit_code == 2
    assert runner.invoke(cli.app, ["admin"]).exit_code in (0, 2)  # help, no command run


def _serving_then_exit(code: int) -> None:
    from celery.signals import worker_ready

    worker_ready.send(sender=None)
    raise SystemExit(code)


def test_worker_that_was_ready_restarts_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    execs: list[list[str]] = []
    monkeypatch.setattr(cli.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: execs.append(argv))
    monkeypatch.setattr(cli.sys, "orig_argv", ["python", "-m", "services.cli", "worker", "monitor"])
    monkeypatch.setenv("TESSERA_WORKER_RESTARTS", "2")
    cli._run_worker_restarting(lambda: _serving_then_exit(1))
    assert execs == [[cli.sys.executable, "-m", "services.cli", "worker", "monitor"]]
    assert cli.os.environ["TESSERA_WORKER_RESTARTS"] == "3"


def test_worker_that_never_became_ready_or_stopped_cleanly_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: pytest.fail("restarted"))

    def refuse() -> None:
        raise SystemExit(1)

    with pytest.raises(SystemExit) as never_ready:
        cli._run_worker_restarting(refuse)
    assert never_ready.value.code == 1
    with pytest.raises(SystemExit) as clean:
        cli._run_worker_restarting(lambda: _serving_then_exit(0))
    assert clean.value.code == 0
