"""The monitor's tasks and its beat schedule (services/monitor/tasks.py)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.config import Settings


def test_the_beat_leaves_out_the_loops_turned_off(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fence loop and the workflows' tick go with the poll, the recheck of what does not
    answer with the refresh: on and off with it."""
    from services.monitor.tasks import beat_schedule
    from shared.config import get_settings

    loops = {"poll", "reconcile", "refresh", "recheck", "fence", "workflow_tick"}
    assert set(beat_schedule()) == loops
    monkeypatch.setenv("TESSERA_REFRESH_ENABLED", "false")
    monkeypatch.setenv("TESSERA_POLL_ENABLED", "0")
    get_settings.cache_clear()
    schedule = beat_schedule()
    assert set(schedule) == {"reconcile"}
    assert schedule["reconcile"]["task"] == "monitor.reconcile"


def test_a_recheck_refreshes_only_the_testbeds_that_do_not_answer_or_have_hosts_that_do_not(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services import worker
    from services.monitor import inventory, tasks
    from shared.db.migrate import upgrade
    from shared.db.models import Node, Testbed, utcnow

    upgrade(settings.db_url)
    with worker.transaction() as session:
        well = Testbed(name="well", kind="ssh", config={}, state="online")
        cut = Testbed(name="cut", kind="slurm", config={}, state="offline")
        cut.unreachable_since = utcnow()
        half = Testbed(name="half", kind="ssh", config={}, state="online")
        gone = Testbed(name="removed-0123", kind="ssh", config={}, state="offline")
        gone.unreachable_since = utcnow()
        session.add_all([well, cut, half, gone])
        session.flush()
        session.add(Node(testbed_id=well.id, name="a", hwinfo={}, inventory={}))
        lost = Node(testbed_id=half.id, name="b", hwinfo={}, inventory={}, state="offline")
        lost.unreachable_since = utcnow()
        session.add(lost)
        expected = {cut.id, half.id}
    asked: list[object] = []
    monkeypatch.setattr(inventory, "refresh_testbed", asked.append)
    assert tasks.recheck() == 2
    assert set(asked) == expected
    asked.clear()
    assert tasks.refresh() == 3 and len(asked) == 3  # a full refresh asks every live testbed


def test_a_poll_writes_what_the_testbed_said_of_its_nodes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connector returns data (Observations with what other work holds on the nodes);
    the monitor task writes it into the node rows, for placement."""
    from services import worker
    from services.monitor import tasks
    from shared.db.migrate import upgrade
    from shared.db.models import Deployment, Node, Project, Run, Testbed
    from shared.testbeds.base import Observation, Observations

    upgrade(settings.db_url)
    gpus = {"accelerators": [{"kind": "gpu", "vendor": "nvidia", "model": "H100", "count": 2}]}
    with worker.transaction() as session:
        testbed = Testbed(name="lab", kind="slurm", config={}, state="online")
        project = Project(name="p")
        session.add_all([testbed, project])
        session.flush()
        session.add(Node(testbed_id=testbed.id, name="vm", hwinfo={}, inventory=gpus))
        deployment = Deployment(
            project_id=project.id, specification={}, batch_size=1, state="running"
        )
        session.add(deployment)
        session.flush()
        run = Run(project_id=project.id, deployment_id=deployment.id, index=0, state="placed")
        run.testbed_id, run.node_name, run.backend_ref = testbed.id, "vm", "7"
        session.add(run)
        session.flush()
        run_id, testbed_id = run.id, testbed.id

    class Connector:
        def observe(self, testbed: Testbed, runs: object) -> Observations:
            return Observations({run_id: Observation("pending")}, {"vm": (1,)})

        def live_log(self, *args: object) -> None:
            return None

    monkeypatch.setattr(tasks.testbeds, "connector", lambda kind: Connector())
    assert tasks.poll() == 1
    with worker.transaction() as session:
        node = session.query(Node).filter(Node.testbed_id == testbed_id).one()
        assert node.inventory["accelerators"][0]["held_by_others"] == 1


def test_only_watched_logs_are_copied_while_running(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A running run's log is fetched each cycle only while someone reads it
    (runs.log_watched_until, set by the API's log endpoints and the dashboard)."""
    from datetime import timedelta

    from services import worker
    from services.monitor import tasks
    from shared.db.models import Run, Testbed, utcnow
    from shared.testbeds.base import Observation

    ids = _runs(settings, ["running", "running"])
    with worker.transaction() as session:
        watched = session.get(Run, ids[1])
        assert watched is not None
        watched.log_watched_until = utcnow() + timedelta(seconds=60)
    fetched: list[object] = []

    class Connector:
        def observe(self, testbed: Testbed, tracked: list[object]) -> dict[object, Observation]:
            return {ids[0]: Observation("running"), ids[1]: Observation("running")}

        def live_log(self, testbed: Testbed, tracked: object, offset: object) -> bytes:
            fetched.append(getattr(tracked, "run_id", None))
            return b"partial\n"

    monkeypatch.setattr(tasks.testbeds, "connector", lambda kind: Connector())
    assert tasks.poll() == 2
    assert fetched == [ids[1]]
    assert worker.store().get(f"runs/{ids[1]}/log") == b"partial\n"


def test_a_run_that_ended_between_two_looks_starts_when_its_testbed_says(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never seen running: its start comes from the status the testbed left; a running run
    still running is not loaded whole (the glance is enough)."""
    from datetime import UTC, datetime

    from services import worker
    from services.monitor import tasks
    from shared.db.models import Run, RunAttempt, Testbed
    from shared.testbeds.base import Collected, Observation

    quick_id, steady_id = _runs(settings, ["placed", "running"])
    with worker.transaction() as session:
        session.add(RunAttempt(run_id=quick_id, number=1, key=quick_id, state="placed"))

    class Connector:
        def observe(self, testbed: Testbed, tracked: list[object]) -> dict[object, Observation]:
            return {quick_id: Observation("ended"), steady_id: Observation("running")}

        def collect(self, testbed: Testbed, tracked: object, cap: int) -> Collected:
            status = {"exit_code": 0, "start": "2026-12-01T10:00:00.250Z"}
            return Collected(status, {}, b"", b"", b"")

    loaded: list[object] = []
    follow = tasks._follow
    monkeypatch.setattr(
        tasks, "_follow", lambda tb, run, *a: loaded.append(run.id) or follow(tb, run, *a)
    )
    monkeypatch.setattr(tasks.testbeds, "connector", lambda kind: Connector())
    assert tasks.poll() == 2
    assert loaded == [quick_id]
    began = datetime(2026, 12, 1, 10, 0, 0, 250000, tzinfo=UTC)
    with worker.transaction() as session:
        run = session.get(Run, quick_id)
        assert run is not None and run.state == "succeeded" and run.started_at == began
        attempt = session.query(RunAttempt).filter(RunAttempt.run_id == quick_id).one()
        assert attempt.started_at == began


def _runs(settings: Settings, states: list[str]) -> list[Any]:
    """A SLURM testbed's runs in `states` (attempt 1, on node vm, job 7) of one deployment;
    their ids."""
    from services import worker
    from shared.db.migrate import upgrade
    from shared.db.models import Deployment, Project, Run, Testbed

    upgrade(settings.db_url)
    with worker.transaction() as session:
        testbed = Testbed(name="lab", kind="slurm", config={}, state="online")
        project = Project(name="p")
        session.add_all([testbed, project])
        session.flush()
        deployment = Deployment(
            project_id=project.id, specification={}, batch_size=len(states), state="running"
        )
        session.add(deployment)
        session.flush()
        runs = [
            Run(project_id=project.id, deployment_id=deployment.id, index=i, state=state)
            for i, state in enumerate(states)
        ]
        for run in runs:
            run.testbed_id, run.node_name, run.backend_ref, run.attempt = testbed.id, "vm", "7", 1
        session.add_all(runs)
        session.flush()
        return [run.id for run in runs]


def test_runs_first_seen_running_are_marked_together_and_their_parent_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One UPDATE of the runs, one of their attempts, one recount of the deployment; a run
    that moved on since the glance (here: cancelled meanwhile) is left as it is."""
    from services import worker
    from services.monitor import tasks
    from shared.db.models import Deployment, Run, RunAttempt, Testbed
    from shared.testbeds.base import Observation

    ids = _runs(settings, ["placed", "placed", "placed"])
    with worker.transaction() as session:
        for run_id in ids:
            session.add(RunAttempt(run_id=run_id, number=1, key=run_id, state="placed"))
        first = session.get(Run, ids[0])
        assert first is not None
        deployment = session.get(Deployment, first.deployment_id)
        assert deployment is not None
        deployment.state = "placed"
        deployment_id = deployment.id

    class Connector:
        def observe(self, testbed: Testbed, tracked: list[object]) -> dict[object, Observation]:
            with worker.transaction() as session:  # cancelled while the testbed was asked
                run = session.get(Run, ids[2])
                assert run is not None
                run.state = "cancelled"
            return {run_id: Observation("running") for run_id in ids}

    recounted: list[object] = []
    refresh_parent = tasks.refresh_parent
    monkeypatch.setattr(
        tasks,
        "refresh_parent",
        lambda session, **of: recounted.append(of) or refresh_parent(session, **of),
    )
    monkeypatch.setattr(tasks.testbeds, "connector", lambda kind: Connector())
    assert tasks.poll() == 3
    assert recounted == [{"deployment_id": deployment_id}]
    with worker.transaction() as session:
        states = {r.id: (r.state, r.started_at is not None) for r in session.query(Run)}
        assert states == {
            ids[0]: ("running", True),
            ids[1]: ("running", True),
            ids[2]: ("cancelled", False),
        }
        attempts = {a.run_id: a.state for a in session.query(RunAttempt)}
        assert attempts == {ids[0]: "running", ids[1]: "running", ids[2]: "placed"}
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None and deployment.state == "running"
