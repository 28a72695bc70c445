"""Inspection tasks of a workflow: an environment built once, then a script run `count`
times in it.

When such a task is released the engine makes one inspection for it (its build `pending`,
`builder.build` sent, and no runs yet). The builder builds it as it builds any inspection's
environment (cached by the environment's hash); while it does, the task is `running` with
no copies made. Once the build has succeeded the engine makes the inspection's `count` runs
`pending`, and from there they are the workflow's copies like a deployment task's: let go up
to max_parallel, placed where they can start soonest, their outputs kept. A failed build
fails the task (naming the build's reason); a cancelled one cancels it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared.db.models import Build, Inspection, Run, Workflow, WorkflowTask, utcnow
from shared.environment import environment_digest
from shared.schemas import HOST_BASE
from shared.workflow_spec import WorkflowSpec


def make(
    session: Session, workflow: Workflow, spec: WorkflowSpec, task: WorkflowTask, now: Any
) -> uuid.UUID:
    """The task's inspection and its build (`pending`); the build's id, to send."""
    mine = spec.task(task.stage, task.name)
    assert mine.inspection is not None
    inspection_spec = mine.inspection.model_copy(update={"batch_size": task.count})
    specification = inspection_spec.model_dump(mode="json", exclude_none=True)
    run_section = dict(specification.get("run") or {})
    run_section["retry"] = spec.retry_for(mine).model_dump(mode="json")
    specification["run"] = run_section
    specification.pop("identifier", None)
    build_id, inspection_id = uuid.uuid4(), uuid.uuid4()
    session.add(
        Build(
            id=build_id,
            project_id=workflow.project_id,
            spec_hash=environment_digest(inspection_spec),
            runtime="native" if inspection_spec.base == HOST_BASE else "image",
            state="pending",
            cached=False,
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()
    session.add(
        Inspection(
            id=inspection_id,
            project_id=workflow.project_id,
            identifier=f"{workflow.name}.{task.stage}.{task.name}"[:128],
            specification=specification,
            build_id=build_id,
            testbed_id=None,
            batch_size=task.count,
            state="pending",
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()
    task.inspection_id = inspection_id
    return build_id


def built(session: Session, tasks: list[WorkflowTask]) -> None:
    """Running inspection tasks with no copies yet: once their build has succeeded, their
    runs are made `pending`; a failed or cancelled build ends the task."""
    waiting = [t for t in tasks if t.state == "running" and t.inspection_id is not None]
    if not waiting:
        return
    made = set(
        session.scalars(
            select(Run.inspection_id)
            .where(Run.inspection_id.in_([t.inspection_id for t in waiting]))
            .group_by(Run.inspection_id)
        )
    )
    now = utcnow()
    for task in waiting:
        if task.inspection_id in made:
            continue
        row = session.execute(
            select(Inspection, Build)
            .join(Build, Build.id == Inspection.build_id)
            .where(Inspection.id == task.inspection_id)
        ).first()
        if row is None:  # the inspection was deleted under the workflow
            task.state, task.state_reason, task.finished_at = "failed", "inspection gone", now
            continue
        inspection, build = row
        if build.state == "succeeded":
            _make_runs(session, inspection, task.count, now)
        elif build.state in ("failed", "cancelled"):
            task.finished_at = now
            task.state = "failed" if build.state == "failed" else "cancelled"
            task.state_reason = f"build {build.state}: {build.state_reason or ''}"[:1000]


def _make_runs(session: Session, inspection: Inspection, count: int, now: Any) -> None:
    session.execute(
        Run.__table__.insert(),  # type: ignore[attr-defined]
        [
            {
                "id": uuid.uuid4(),
                "project_id": inspection.project_id,
                "deployment_id": None,
                "inspection_id": inspection.id,
                "index": index,
                "state": "pending",
                "cancel_requested": False,
                "attempt": 0,
                "created_at": now,
                "updated_at": now,
            }
            for index in range(count)
        ],
    )
    inspection.state, inspection.finished_at, inspection.updated_at = "running", None, now


def cancel(session: Session, tasks: list[WorkflowTask]) -> None:
    """Inspection tasks whose copies are not made yet are cancelled at once, their build too
    when it has not started (one being built is left to end; its runs are never made)."""
    now = utcnow()
    for task in tasks:
        if task.state != "running" or task.inspection_id is None:
            continue
        made = session.scalar(
            select(func.count()).select_from(Run).where(Run.inspection_id == task.inspection_id)
        )
        if made:
            continue
        task.state, task.state_reason, task.finished_at = "cancelled", "cancelled", now
        inspection = session.get(Inspection, task.inspection_id)
        if inspection is None:
            continue
        session.execute(
            update(Build)
            .where(Build.id == inspection.build_id, Build.state == "pending")
            .values(state="cancelled", state_reason="cancelled by request", finished_at=now)
        )
        inspection.state, inspection.state_reason = "cancelled", "cancelled by request"
        inspection.finished_at = now
