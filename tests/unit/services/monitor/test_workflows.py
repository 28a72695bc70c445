"""The workflow engine on the embedded database: stages released once their dependencies
succeeded, copies let go up to max_parallel, outputs become the next stage's inputs, a
failed stage cancels its dependents, a cancelled workflow stops."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from services import worker
from services.monitor import workflows
from shared import workflow_data
from shared.config import Settings
from shared.db.migrate import upgrade
from shared.db.models import (
    Build,
    Deployment,
    Inspection,
    Project,
    Run,
    Workflow,
    WorkflowTask,
)
from shared.workflow_spec import WorkflowSpec

SPEC = {
    "name": "wf",
    "testbeds": ["local"],
    "max_parallel": 2,
    "stages": [
        {"name": "map", "tasks": [{"name": "part", "count": 3, "command": ["true"],
                                   "outputs": ["part-*"]}]},
        {"name": "side", "tasks": [{"name": "s", "command": ["true"]}]},
        {"name": "reduce", "depends_on": ["map"],
         "tasks": [{"name": "sum", "command": ["true"],
                    "inputs": [{"from": "map/part", "path": "parts"}]}]},
    ],
}  # fmt: skip


@pytest.fixture
def sent(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    upgrade(settings.db_url)
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(workflows, "send", lambda name, arg, **_: calls.append((name, arg)))
    return calls


def _workflow(body: dict[str, Any] = SPEC) -> uuid.UUID:
    spec = WorkflowSpec.model_validate(body)
    with worker.transaction() as session:
        project = Project(name=f"p-{uuid.uuid4().hex[:6]}")
        session.add(project)
        session.flush()
        workflow = Workflow(
            project_id=project.id,
            name=spec.name,
            specification=spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        )
        session.add(workflow)
        session.flush()
        for position, stage in enumerate(spec.stages):
            for task in stage.tasks:
                session.add(
                    WorkflowTask(
                        workflow_id=workflow.id,
                        stage=stage.name,
                        position=position,
                        name=task.name,
                        count=task.count,
                    )
                )
        return workflow.id


def _runs(workflow_id: uuid.UUID, stage: str) -> list[Run]:
    with worker.transaction() as session:
        rows = session.scalars(
            select(Run)
            .join(WorkflowTask, WorkflowTask.deployment_id == Run.deployment_id)
            .where(WorkflowTask.workflow_id == workflow_id, WorkflowTask.stage == stage)
            .order_by(Run.index)
        )
        return list(rows)


def _end(run: Run, state: str, status: dict[str, Any] | None = None) -> None:
    with worker.transaction() as session:
        session.execute(update(Run).where(Run.id == run.id).values(state=state))
        current = session.get(Run, run.id)
        assert current is not None
        workflows.run_ended(session, worker.store(), current, state, status or {})


def test_stages_are_released_in_order_and_copies_let_go_up_to_max_parallel(
    sent: list[Any],
) -> None:
    workflow_id = _workflow()
    assert workflows.advance(workflow_id) == "running"
    maps, sides = _runs(workflow_id, "map"), _runs(workflow_id, "side")
    assert [r.state for r in maps] == ["queued", "queued", "pending"]
    assert [r.state for r in sides] == ["pending"] and _runs(workflow_id, "reduce") == []
    assert sent == [("deployer.place", str(maps[0].id)), ("deployer.place", str(maps[1].id))]
    with worker.transaction() as session:
        deployment = session.get(Deployment, maps[0].deployment_id)
        assert deployment is not None and deployment.batch_size == 3
        assert deployment.specification["retry"]["on"] == ["lost", "interrupted"]
    _end(maps[0], "succeeded", {"outputs": [{"path": "part-0", "data": "MA=="}]})
    workflows.advance(workflow_id)
    assert [r.state for r in _runs(workflow_id, "map")] == ["succeeded", "queued", "queued"]
    for run, data in zip(_runs(workflow_id, "map")[1:], (b"1", b"2"), strict=True):
        item = {"path": "part-" + data.decode(), "data": base64.b64encode(data).decode()}
        _end(run, "succeeded", {"outputs": [item, {"path": "../escape", "data": "MA=="}]})
    workflows.advance(workflow_id)
    [reduce] = _runs(workflow_id, "reduce")
    assert reduce.state == "queued"  # side's copy still holds one of the two places
    with worker.transaction() as session:
        deployment = session.get(Deployment, reduce.deployment_id)
        assert deployment is not None
        extra = workflow_data.job_additions(session, worker.store(), reduce)
    assert extra is not None and extra.testbeds == ("local",)
    files = {path: data for path, data, _ in extra.files}
    assert files == {"parts/part-0": b"0", "parts/part-1": b"1", "parts/part-2": b"2"}
    assert extra.env["TESSERA_TASK_INDEX"] == "0" and extra.env["TESSERA_STAGE"] == "reduce"
    for stage in ("side", "reduce"):
        for run in _runs(workflow_id, stage):
            _end(run, "succeeded")
    assert workflows.advance(workflow_id) == "succeeded"


def test_a_failed_stage_cancels_its_dependents_and_the_others_go_on(sent: list[Any]) -> None:
    workflow_id = _workflow()
    workflows.advance(workflow_id)
    first = _runs(workflow_id, "map")[0]
    with worker.transaction() as session:
        session.execute(update(Run).where(Run.id == first.id).values(state_reason="exit code 3"))
    _end(first, "failed")
    workflows.advance(workflow_id)
    for run in _runs(workflow_id, "map")[1:]:  # the task ends once all its copies have
        _end(run, "succeeded")
        workflows.advance(workflow_id)
    with worker.transaction() as session:
        tasks = {t.stage: t for t in session.scalars(select(WorkflowTask))}
    assert tasks["map"].state == "failed" and tasks["reduce"].state == "cancelled"
    assert tasks["reduce"].state_reason == "stage map failed"
    assert tasks["side"].state == "running"
    _end(_runs(workflow_id, "side")[0], "succeeded")
    assert workflows.advance(workflow_id) == "failed"
    with worker.transaction() as session:
        workflow = session.get(Workflow, workflow_id)
        assert workflow is not None and workflow.state_reason is not None
        assert "task map/part failed (copy 0 failed: exit code 3)" in workflow.state_reason


def test_cancel_ends_what_has_not_started(sent: list[Any]) -> None:
    workflow_id = _workflow()
    workflows.advance(workflow_id)
    placed = _runs(workflow_id, "map")[0]
    with worker.transaction() as session:
        session.execute(update(Run).where(Run.id == placed.id).values(state="running"))
        session.execute(
            update(Workflow).where(Workflow.id == workflow_id).values(cancel_requested=True)
        )
    sent.clear()
    assert workflows.advance(workflow_id) == "running"
    assert sent == [("deployer.cancel", str(placed.id))]
    assert [r.state for r in _runs(workflow_id, "map")][1:] == ["cancelled", "cancelled"]
    _end(placed, "cancelled")
    assert workflows.advance(workflow_id) == "cancelled"
    assert workflows.tick() == 0  # nothing left to advance


INSPECTING = {
    "name": "wf",
    "max_parallel": 2,
    "stages": [
        {"name": "map", "tasks": [{"name": "part", "count": 2, "outputs": ["part-*"],
                                   "inspection": {"base": "host", "script": "true"}}]},
        {"name": "reduce", "depends_on": ["map"],
         "tasks": [{"name": "sum", "command": ["true"],
                    "inputs": [{"from": "map/part", "path": "parts"}]}]},
    ],
}  # fmt: skip


def _inspection_runs(workflow_id: uuid.UUID) -> tuple[Inspection, Build, list[Run]]:
    with worker.transaction() as session:
        task = session.scalars(
            select(WorkflowTask).where(
                WorkflowTask.workflow_id == workflow_id, WorkflowTask.stage == "map"
            )
        ).one()
        inspection = session.get(Inspection, task.inspection_id)
        assert inspection is not None
        build = session.get(Build, inspection.build_id)
        assert build is not None
        runs = session.scalars(
            select(Run).where(Run.inspection_id == inspection.id).order_by(Run.index)
        )
        return inspection, build, list(runs)


def test_an_inspection_task_runs_once_its_environment_is_built(sent: list[Any]) -> None:
    workflow_id = _workflow(INSPECTING)
    assert workflows.advance(workflow_id) == "running"
    inspection, build, runs = _inspection_runs(workflow_id)
    assert sent == [("builder.build", str(build.id))] and runs == []
    assert inspection.batch_size == 2 and inspection.identifier == "wf.map.part"
    assert inspection.specification["run"]["retry"]["on"] == ["lost", "interrupted"]
    sent.clear()
    workflows.advance(workflow_id)  # still building: nothing made, nothing ended
    assert sent == [] and _inspection_runs(workflow_id)[2] == []
    with worker.transaction() as session:
        session.execute(update(Build).where(Build.id == build.id).values(state="succeeded"))
    workflows.advance(workflow_id)
    inspection, _, runs = _inspection_runs(workflow_id)
    assert [r.state for r in runs] == ["queued", "queued"] and inspection.state == "running"
    assert sent == [("deployer.place", str(r.id)) for r in runs]
    with worker.transaction() as session:
        extra = workflow_data.job_additions(session, worker.store(), runs[1])
    assert extra is not None and extra.env["TESSERA_TASK_INDEX"] == "1"
    assert (workflow_data.OUTPUTS_FILE, b'{"globs": ["part-*"], "cap": 4194304}', False) in (
        extra.files
    )
    for run in runs:
        item = {"path": f"part-{run.index}", "data": base64.b64encode(b"x").decode()}
        _end(run, "succeeded", {"outputs": [item]})
    workflows.advance(workflow_id)
    [reduce] = _runs(workflow_id, "reduce")
    with worker.transaction() as session:
        extra = workflow_data.job_additions(session, worker.store(), reduce)
    assert extra is not None
    assert {path for path, _, _ in extra.files} == {"parts/part-0", "parts/part-1"}
    _end(reduce, "succeeded")
    assert workflows.advance(workflow_id) == "succeeded"


def test_an_inspection_task_being_built_is_cancelled_or_failed(sent: list[Any]) -> None:
    workflow_id = _workflow(INSPECTING)
    workflows.advance(workflow_id)
    with worker.transaction() as session:
        session.execute(
            update(Workflow).where(Workflow.id == workflow_id).values(cancel_requested=True)
        )
    assert workflows.advance(workflow_id) == "cancelled"
    inspection, build, runs = _inspection_runs(workflow_id)
    assert build.state == "cancelled" and inspection.state == "cancelled" and runs == []

    workflow_id = _workflow({**INSPECTING, "name": "wf2"})
    workflows.advance(workflow_id)
    _, build, _ = _inspection_runs(workflow_id)
    with worker.transaction() as session:
        session.execute(
            update(Build)
            .where(Build.id == build.id)
            .values(state="failed", state_reason="no package x")
        )
    assert workflows.advance(workflow_id) == "failed"
    with worker.transaction() as session:
        workflow = session.get(Workflow, workflow_id)
        assert workflow is not None and workflow.state_reason is not None
        assert "task map/part failed (build failed: no package x)" in workflow.state_reason
