"""deployer.place delivered twice at once (the reconciler re-sends what looks stuck)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from typer.testing import CliRunner

from services import cli, worker
from services.deployer import tasks
from shared import hardware, inventory
from shared.config import Settings
from shared.db.models import Deployment, Node, Project, Run, Testbed
from shared.testbeds.base import Job, Tracked
from shared.testbeds.local.connector import LocalConnector


class Racing:
    """The local connector, with `meanwhile` happening while the first delivery is between
    starting the job and recording it."""

    def __init__(self, real: LocalConnector, run_id: uuid.UUID) -> None:
        self.real, self.run_id = real, run_id
        self.deliveries = 0
        self.cancelled: list[Tracked] = []
        self.meanwhile = lambda: tasks.place(str(run_id))  # a second delivery

    def place(
        self,
        testbed: Testbed,
        node: str,
        run_id: uuid.UUID,
        job: Job,
        inventory: Mapping[str, Any] | None = None,
    ) -> str:
        self.deliveries += 1
        ref = self.real.place(testbed, node, run_id, job, inventory)
        if self.deliveries == 1:
            self.meanwhile()
        return ref

    def cancel(self, testbed: Testbed, run: Tracked) -> None:
        self.cancelled.append(run)
        self.real.cancel(testbed, run)


def _queued_run(command: list[str], hardware: str | None = None) -> uuid.UUID:
    with worker.transaction() as session:
        project = Project(name=f"p-{uuid.uuid4().hex[:8]}")
        session.add(project)
        session.flush()
        spec: dict[str, Any] = {"command": command}
        if hardware is not None:
            spec["requests"] = {"hardware": hardware}
        deployment = Deployment(
            project_id=project.id,
            specification=spec,
            batch_size=1,
            state="queued",
        )
        session.add(deployment)
        session.flush()
        run = Run(project_id=project.id, deployment_id=deployment.id, index=0, state="queued")
        session.add(run)
        session.flush()
        return run.id


@pytest.fixture
def racing(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Racing:
    assert CliRunner().invoke(cli.app, ["migrate"]).exit_code == 0
    cli.server._register_local(settings)
    run_id = _queued_run(["true"])
    connector = Racing(LocalConnector(settings.local_runs_dir), run_id)
    monkeypatch.setattr(tasks.testbeds, "connector", lambda kind: connector)
    return connector


def _row(run_id: uuid.UUID) -> dict[str, Any]:
    with worker.transaction() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return {"state": run.state, "backend_ref": run.backend_ref}


def test_the_second_delivery_adopts_and_nothing_is_stopped(racing: Racing) -> None:
    tasks.place(str(racing.run_id))
    assert racing.deliveries == 2
    assert racing.cancelled == [], "a run placed by the other delivery was stopped"
    row = _row(racing.run_id)
    assert row["state"] == "placed" and row["backend_ref"]
    folder = racing.real.run_dir(racing.run_id)
    assert (folder / "pid").read_text() == row["backend_ref"]


def test_a_run_cancelled_while_being_placed_is_stopped(racing: Racing) -> None:
    def cancel() -> None:
        with worker.transaction() as session:
            run = session.get(Run, racing.run_id)
            assert run is not None
            run.state, run.cancel_requested = "cancelled", True

    racing.meanwhile = cancel
    tasks.place(str(racing.run_id))
    assert _row(racing.run_id)["state"] == "cancelled"
    assert [run.run_id for run in racing.cancelled] == [racing.run_id]


# ---- runs that wait for free accelerators -----------------------------------------------------


class Recording:
    """A connector that records what it was asked to place."""

    def __init__(self) -> None:
        self.placed: list[tuple[str, str]] = []

    def place(
        self,
        testbed: Testbed,
        node: str,
        run_id: uuid.UUID,
        job: Job,
        inventory: Mapping[str, Any] | None = None,
    ) -> str:
        self.placed.append((testbed.name, node))
        return "4242"


def _gpu_testbed(name: str, held_by_others: int) -> None:
    """A SLURM testbed with one node of two H100s, `held_by_others` of them held by other
    users' jobs (as the scheduler reported at its last look)."""
    info = hardware.NodeInfo(
        "vm", name, "x86_64", None, None, frozenset(), 2, 2**33,
        (hardware.NodeAccelerator("gpu", "nvidia", "H100", 80 * 10**9, 2),),
    )  # fmt: skip
    data = inventory.node_to_json(info, ["native"], (held_by_others,))
    with worker.transaction() as session:
        testbed = Testbed(name=name, kind="slurm", config={}, state="online")
        session.add(testbed)
        session.flush()
        session.add(Node(testbed_id=testbed.id, name="vm", state="online", inventory=data))


@pytest.fixture
def recording(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[Recording, list[Any]]:
    assert CliRunner().invoke(cli.app, ["migrate"]).exit_code == 0
    connector = Recording()
    sent: list[Any] = []
    monkeypatch.setattr(tasks.testbeds, "connector", lambda kind: connector)
    monkeypatch.setattr(tasks, "send", lambda *args, **options: sent.append((args, options)))
    return connector, sent


def _state(run_id: uuid.UUID) -> tuple[str, str | None, str | None]:
    with worker.transaction() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run.state, run.state_reason, run.backend_ref


def test_a_run_waits_while_other_users_hold_the_gpus(
    recording: tuple[Recording, list[Any]],
) -> None:
    """One of the node's two H100s is held outside Tessera: H100:2 stays queued, is tried
    again later and never reaches the connector (sbatch)."""
    connector, sent = recording
    _gpu_testbed("shared", held_by_others=1)
    run_id = _queued_run(["true"], "H100:2")
    tasks.place(str(run_id))
    state, reason, ref = _state(run_id)
    assert (state, ref, connector.placed) == ("queued", None, [])
    assert reason is not None and reason.startswith("waiting for free accelerators: shared/vm")
    assert sent == [(("deployer.place", str(run_id)), {"countdown": 5.0})]
    # Another testbed that fits has both free: the run goes there instead.
    _gpu_testbed("spare", held_by_others=0)
    tasks.place(str(run_id))
    assert _state(run_id) == ("placed", None, "4242")
    assert connector.placed == [("spare", "vm")]


def test_only_a_run_no_node_could_ever_take_fails(
    recording: tuple[Recording, list[Any]],
) -> None:
    connector, _ = recording
    _gpu_testbed("shared", held_by_others=2)
    run_id = _queued_run(["true"], "H100:4")
    tasks.place(str(run_id))
    state, reason, _ = _state(run_id)
    assert state == "failed" and reason is not None and "4 x gpu" in reason
    assert connector.placed == []


# ---- alternatives and count ranges ------------------------------------------------------------


def _testbed_of(name: str, model: str, count: int, held_by_others: int = 0) -> None:
    info = hardware.NodeInfo(
        "vm", name, "x86_64", None, None, frozenset(), 8, 2**34,
        (hardware.NodeAccelerator("gpu", "nvidia", model, 80 * 10**9, count),),
    )  # fmt: skip
    data = inventory.node_to_json(info, ["native"], (held_by_others,))
    with worker.transaction() as session:
        testbed = Testbed(name=name, kind="slurm", config={}, state="online")
        session.add(testbed)
        session.flush()
        session.add(Node(testbed_id=testbed.id, name="vm", state="online", inventory=data))


class Given(Recording):
    """Records the hardware and GPU count each placement was given."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[Job] = []

    def place(self, testbed: Testbed, node: str, run_id: uuid.UUID, job: Job,
              inventory: Mapping[str, Any] | None = None) -> str:  # fmt: skip
        self.jobs.append(job)
        return super().place(testbed, node, run_id, job, inventory)


def _placement(run_id: uuid.UUID) -> dict[str, Any]:
    from shared.db.models import RunAttempt

    with worker.transaction() as session:
        row = session.query(RunAttempt).filter(RunAttempt.run_id == run_id).one()
        return dict(row.placement)


def test_an_ordered_preference_takes_the_first_alternative_free_now(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CliRunner().invoke(cli.app, ["migrate"]).exit_code == 0
    connector = Given()
    monkeypatch.setattr(tasks.testbeds, "connector", lambda kind: connector)
    monkeypatch.setattr(tasks, "send", lambda *args, **options: None)
    _testbed_of("a100s", "A100", 1, held_by_others=1)  # its one A100 is busy
    _testbed_of("v100s", "V100", 4)
    first = _queued_run(["true"], "[A100:1, V100:1]")
    tasks.place(str(first))
    assert connector.placed == [("v100s", "vm")]
    assert [a.models for a in connector.jobs[0].hardware.accelerators] == [("V100",)]
    why = _placement(first)
    assert why["alternative"]["number"] == 1 and why["chosen"]["testbed"] == "v100s"
    with worker.transaction() as session:  # the A100 is free again: the first choice wins
        node = session.query(Node).join(Testbed).filter(Testbed.name == "a100s").one()
        node.inventory = {**node.inventory, "accelerators": [
            {**node.inventory["accelerators"][0], "held_by_others": 0}]}  # fmt: skip
    second = _queued_run(["true"], "[A100:1, V100:1]")
    tasks.place(str(second))
    assert connector.placed[-1] == ("a100s", "vm")
    assert _placement(second)["alternative"]["number"] == 0


def test_any_of_takes_the_alternative_with_the_most_room(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CliRunner().invoke(cli.app, ["migrate"]).exit_code == 0
    connector = Given()
    monkeypatch.setattr(tasks.testbeds, "connector", lambda kind: connector)
    _testbed_of("a100s", "A100", 2)
    _testbed_of("v100s", "V100", 8)
    run_id = _queued_run(["true"], {"gpu": {"A100": 1, "V100": 1}})
    tasks.place(str(run_id))
    assert connector.placed == [("v100s", "vm")]
    assert _placement(run_id)["held"]["accelerators"][0]["model"] == ["V100"]


def test_a_count_range_gets_as_many_as_the_node_has_free_and_holds_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CliRunner().invoke(cli.app, ["migrate"]).exit_code == 0
    connector = Given()
    monkeypatch.setattr(tasks.testbeds, "connector", lambda kind: connector)
    monkeypatch.setattr(tasks, "send", lambda *args, **options: None)
    _testbed_of("h100s", "H100", 8, held_by_others=5)  # 3 free
    first = _queued_run(["true"], "H100:1..4")
    tasks.place(str(first))
    (job,) = connector.jobs
    assert [a.count for a in job.hardware.accelerators] == [3]
    assert job.hardware.accelerators[0].count_max is None and job.env["TESSERA_GPU_COUNT"] == "3"
    # the three it got are held: a second H100:1 run waits (5 held outside, 3 by the first)
    second = _queued_run(["true"], "H100:1")
    tasks.place(str(second))
    assert _state(second)[0] == "queued" and len(connector.jobs) == 1
