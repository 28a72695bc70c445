"""The reconciler re-sends stuck work once per dedupe key (services/monitor/reconcile.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from services import worker
from services.monitor import reconcile
from shared.config import Settings
from shared.db.migrate import upgrade
from shared.db.models import DedupeKey, Deployment, Project, Run, utcnow


@pytest.fixture
def sent(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    upgrade(settings.db_url)
    calls: list[tuple[str, str]] = []

    def send(name: str, *args: str) -> bool:
        calls.append((name, *args))  # type: ignore[arg-type]
        return True

    monkeypatch.setattr(reconcile, "send", send)
    return calls


def _stuck_run() -> uuid.UUID:
    long_ago = utcnow() - timedelta(hours=1)
    with worker.transaction() as session:
        project = Project(name=f"p-{uuid.uuid4().hex[:8]}")
        session.add(project)
        session.flush()
        deployment = Deployment(
            project_id=project.id, specification={"command": ["true"]}, batch_size=1
        )
        session.add(deployment)
        session.flush()
        run = Run(
            project_id=project.id,
            deployment_id=deployment.id,
            index=0,
            state="queued",
            updated_at=long_ago,
        )
        session.add(run)
        session.flush()
        return run.id


def test_two_passes_send_a_stuck_run_once(sent: list[tuple[str, str]]) -> None:
    run_id = _stuck_run()
    assert reconcile.reconcile()["runs"] == 1
    assert reconcile.reconcile()["runs"] == 0
    assert sent == [("deployer.place", str(run_id))]


def test_an_expired_key_lets_the_run_be_sent_again(sent: list[tuple[str, str]]) -> None:
    run_id = _stuck_run()
    reconcile.reconcile()
    with worker.transaction() as session:
        for key in session.execute(select(DedupeKey)).scalars():
            key.expires_at = utcnow() - timedelta(seconds=1)
    reconcile.reconcile()
    assert sent == [("deployer.place", str(run_id))] * 2


def test_a_send_that_failed_releases_its_key(
    sent: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _stuck_run()
    monkeypatch.setattr(reconcile, "send", lambda name, *args: False)
    assert reconcile.reconcile()["runs"] == 0
    with worker.transaction() as session:
        assert session.execute(select(DedupeKey)).first() is None
    monkeypatch.setattr(reconcile, "send", lambda name, *args: sent.append((name, *args)) or True)
    assert reconcile.reconcile()["runs"] == 1
    assert sent == [("deployer.place", str(run_id))]


def test_claims_on_postgres_too(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.db.session import process_sessions, unit_of_work

    upgrade(postgres_url)
    factory = process_sessions(postgres_url)
    expires = utcnow() + timedelta(minutes=2)
    with unit_of_work(factory) as session:
        assert reconcile.claim(session, ["a", "b"], expires) == {"a", "b"}
    with unit_of_work(factory) as session:
        assert reconcile.claim(session, ["b", "c"], expires) == {"c"}
