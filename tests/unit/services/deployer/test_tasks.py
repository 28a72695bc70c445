"""deployer.place delivered twice at once (the reconciler re-sends what looks stuck)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from typer.testing import CliRunner

from services import cli, worker
from services.deployer import tasks
from shared.config import Settings
from shared.db.models import Deployment, Project, Run, Testbed
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


def _queued_run(command: list[str]) -> uuid.UUID:
    with worker.transaction() as session:
        project = Project(name=f"p-{uuid.uuid4().hex[:8]}")
        session.add(project)
        session.flush()
        deployment = Deployment(
            project_id=project.id,
            specification={"command": command},
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
