"""Failover and fencing, on the embedded database with a testbed that stops answering."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest

from services import worker
from services.monitor import failover
from shared import attempts
from shared.config import Settings
from shared.db.migrate import upgrade
from shared.db.models import Deployment, Node, Project, Run, RunAttempt, Testbed, utcnow
from shared.testbeds.base import Collected, Tracked, Unreachable


class Cluster:
    """A scheduler testbed (its runs may wait in its queue) whose host may not answer."""

    queues: ClassVar[bool] = True

    def __init__(self) -> None:
        self.answers = True
        self.status: dict[str, Any] = {}
        self.cancelled: list[Tracked] = []

    def collect(self, testbed: Testbed, run: Tracked, cap: int) -> Collected:
        if not self.answers:
            raise Unreachable("unreachable: timed out")
        return Collected(self.status, {}, b"", b"", None)

    def cancel(self, testbed: Testbed, run: Tracked) -> None:
        if not self.answers:
            raise Unreachable("unreachable: timed out")
        self.cancelled.append(run)


@pytest.fixture
def cluster(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    upgrade(settings.db_url)
    found = Cluster()
    monkeypatch.setattr(failover.testbeds, "connector", lambda kind: found)
    return found


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []

    def send(name: str, *args: str, countdown: float | None = None) -> bool:
        calls.append((name, *args))
        return True

    monkeypatch.setattr(failover, "send", send)
    return calls


def _run(state: str, spec: dict[str, Any], since: datetime) -> uuid.UUID:
    """A run of attempt 1 on node `vm` of testbed `lab`, which stopped answering at `since`."""
    with worker.transaction() as session:
        testbed = Testbed(name="lab", kind="slurm", config={}, state="offline")
        testbed.unreachable_since = since
        project = Project(name="p")
        session.add_all([testbed, project])
        session.flush()
        session.add(Node(testbed_id=testbed.id, name="vm", hwinfo={}, inventory={}))
        deployment = Deployment(
            project_id=project.id, specification=spec, batch_size=1, state="running"
        )
        session.add(deployment)
        session.flush()
        run = Run(project_id=project.id, deployment_id=deployment.id, index=0, state=state)
        run.testbed_id, run.node_name, run.backend_ref, run.attempt = testbed.id, "vm", "7", 1
        run.placed_at = since - timedelta(seconds=5)
        session.add(run)
        session.flush()
        attempts.begin(session, run, testbed.id, "vm", "7", {})
        return run.id


def _state(run_id: uuid.UUID) -> tuple[str, int, list[tuple[str, bool]]]:
    with worker.transaction() as session:
        run = session.get(Run, run_id)
        assert run is not None
        rows = session.query(RunAttempt).filter(RunAttempt.run_id == run_id).all()
        return run.state, run.attempt, [(a.state, a.fence_pending) for a in rows]


RETRY_LOST = {"command": ["true"], "retry": {"attempts": 2, "on": ["lost"]}, "timeout": 60}


def test_a_run_not_started_moves_at_once(cluster: Cluster, sent: list[Any]) -> None:
    run_id = _run("placed", {"command": ["true"]}, utcnow())
    assert failover.fail_over()["moved"] == 1
    assert _state(run_id) == ("queued", 1, [("withdrawn", True)])
    assert sent == [("deployer.place", str(run_id))]


def test_a_pinned_run_never_leaves_its_testbed(cluster: Cluster, sent: list[Any]) -> None:
    run_id = _run("placed", {"command": ["true"], "testbed": "lab"}, utcnow())
    assert not any(failover.fail_over().values())
    assert _state(run_id) == ("placed", 1, [("placed", False)]) and sent == []


def test_a_started_run_is_placed_again_after_the_lost_timeout(
    cluster: Cluster, sent: list[Any]
) -> None:
    since = utcnow()
    run_id = _run("running", RETRY_LOST, since)
    assert not any(failover.fail_over(since + timedelta(seconds=29)).values())
    assert failover.fail_over(since + timedelta(seconds=31))["retried"] == 1
    assert _state(run_id) == ("queued", 1, [("lost", True)])
    assert sent == [("deployer.place", str(run_id))]


def test_without_a_retry_it_waits_for_its_host_until_past_its_wall_time(
    cluster: Cluster, sent: list[Any]
) -> None:
    since = utcnow()
    run_id = _run("running", {"command": ["true"], "timeout": 60}, since)
    assert not any(failover.fail_over(since + timedelta(seconds=80)).values())
    assert _state(run_id)[0] == "running"
    assert failover.fail_over(since + timedelta(seconds=91))["lost"] == 1
    assert _state(run_id) == ("lost", 1, [("lost", True)]) and sent == []


def test_a_superseded_runner_is_stopped_when_its_host_answers(
    cluster: Cluster, sent: list[Any]
) -> None:
    since = utcnow() - timedelta(seconds=40)
    run_id = _run("running", RETRY_LOST, since)
    with worker.transaction() as session:
        node = session.query(Node).one()
        node.state, node.unreachable_since = "offline", since
    failover.fail_over()
    cluster.answers = False
    assert failover.fence() == 0  # still away: it stays to be fenced
    assert _state(run_id)[2] == [("lost", True)]
    cluster.answers = True
    assert failover.fence() == 1
    assert cluster.cancelled == [Tracked(run_id, "7", "vm")]  # the first attempt's key
    with worker.transaction() as session:
        (attempt,) = session.query(RunAttempt).all()
        assert (attempt.state, attempt.fence_pending) == ("superseded", False)
        assert "runner was stopped" in (attempt.state_reason or "")
        node = session.query(Node).one()
        assert (node.state, node.unreachable_since) == ("online", None)
        assert session.query(Testbed).one().state == "offline"  # never refreshed: not back


def test_a_superseded_runner_that_ended_by_itself_is_recorded_so(
    cluster: Cluster, sent: list[Any]
) -> None:
    run_id = _run("running", RETRY_LOST, utcnow() - timedelta(seconds=40))
    failover.fail_over()
    cluster.status = {"end": "2026-12-02T10:00:00+00:00", "exit_code": 0}
    assert failover.fence() == 1 and cluster.cancelled == []
    with worker.transaction() as session:
        attempt = session.query(RunAttempt).filter(RunAttempt.run_id == run_id).one()
        assert "ended by itself (exit code 0)" in (attempt.state_reason or "")
        assert attempt.state == "superseded"
