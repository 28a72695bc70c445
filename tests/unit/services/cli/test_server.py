"""The server side of `tessera` keeps its commands and options (typer replaced argparse)."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from services import cli
from services.cli import supervisor
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


def test_worker_options_reach_celery(
    settings: Settings, celery: type[Captured], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSERA_WORKER_CHILD", "1")  # the supervised process itself
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


def test_worker_exit_code_reaches_the_supervisor(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celery import Celery
    from celery.signals import worker_init

    class Stopped:
        exitcode = 1  # what Celery's WorkController keeps after an "Unrecoverable error"

    def run(_app: Celery, argv: list[str]) -> None:
        worker_init.send(sender=Stopped())

    monkeypatch.setenv("TESSERA_WORKER_CHILD", "1")
    monkeypatch.setattr(Celery, "worker_main", run)
    assert runner.invoke(cli.app, ["worker", "monitor", "--pool", "threads"]).exit_code == 1


def test_worker_is_supervised(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.delenv("TESSERA_WORKER_CHILD", raising=False)
    monkeypatch.setattr(supervisor, "supervise", lambda command: started.append(command) or 0)
    done = runner.invoke(cli.app, ["worker", "deployer", "-c", "3", "--pool", "threads"])
    assert done.exit_code == 0, done.output
    assert started == [
        [sys.executable, "-m", "services.cli", "worker", "deployer"]
        + ["-c", "3", "--pool", "threads", "--loglevel", "INFO"]
    ]


def test_beat_and_bad_usage(settings: Settings, celery: type[Captured]) -> None:
    assert runner.invoke(cli.app, ["beat", "--loglevel", "DEBUG"]).exit_code == 0
    assert celery.argv[:3] == ["beat", "--loglevel", "DEBUG"]
    assert runner.invoke(cli.app, ["worker", "painter"]).exit_code == 2
    assert runner.invoke(cli.app, ["worker", "builder", "--pool", "gevent"]).exit_code == 2
    assert runner.invoke(cli.app, ["admin"]).exit_code in (0, 2)  # help, no command run
