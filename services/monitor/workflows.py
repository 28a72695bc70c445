"""The workflow engine: stages released once their dependencies succeeded, copies let go up
to max_parallel, task and stage and workflow states, dependents of a failed stage cancelled.

A task copy is an ordinary run of a deployment the engine makes when the task's stage is
ready, or of an inspection once its environment is built (workflow_inspections.py). Late
binding: the deployer places each copy on whichever allowed testbed can start it soonest at
that moment; attempts, retries and failover are the runs' own. Its runs are made `pending`:
the engine moves them to `queued` (and sends deployer.place) while fewer than max_parallel
of the workflow's copies are queued, placed or running, so freed room is taken by the next
waiting copy (backfilling). Driven by run endings (the monitor sends
monitor.workflow_advance) and a beat tick (every TICK_S) that catches any ending it missed.
One advance at a time per workflow: it holds the workflow's row lock.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services import worker
from services.monitor import workflow_inspections
from shared import workflow_data
from shared.celery_app import celery_app, send
from shared.db.models import Deployment, Run, Workflow, WorkflowTask, utcnow
from shared.lifecycle import refresh_parent
from shared.states import RUN_TERMINAL
from shared.store import ArtifactStore
from shared.workflow_data import PARENT, copies_of, parent_id
from shared.workflow_spec import TaskSpec, WorkflowSpec

log = logging.getLogger(__name__)
app = celery_app()

TICK_S = 2.0
WORKFLOW_TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
TASK_TERMINAL = WORKFLOW_TERMINAL
ACTIVE_RUN = ("queued", "placed", "running")


def run_ended(
    session: Session, store: ArtifactStore, run: Run, state: str, status: dict[str, Any]
) -> uuid.UUID | None:
    """A run reached its final `state` (in the monitor's unit of work): a succeeded copy's
    outputs are stored and recorded; its workflow's id, to advance, or None."""
    if state == "succeeded":
        task = workflow_data.record_outputs(session, store, run, status)
    else:
        task = workflow_data.task_of(session, run)
    return task.workflow_id if task is not None else None


@app.task(name="monitor.workflow_advance")
def advance_task(workflow_id: str) -> None:
    advance(uuid.UUID(workflow_id))


@app.task(name="monitor.workflow_tick")
def tick() -> int:
    """Advance every workflow that has not ended; how many."""
    with worker.transaction() as session:
        ids = list(
            session.scalars(select(Workflow.id).where(Workflow.state.in_(("pending", "running"))))
        )
    for workflow_id in ids:
        try:
            advance(workflow_id)
        except Exception:  # one workflow's trouble does not stop the others'
            log.exception("advancing workflow %s failed", workflow_id)
    return len(ids)


def advance(workflow_id: uuid.UUID) -> str | None:
    """Bring the workflow's rows up to date with its runs, release what is ready, let copies
    go; its state afterwards (None when there is no such workflow)."""
    places: list[str] = []
    cancels: list[str] = []
    builds: list[str] = []
    with worker.transaction() as session:
        workflow = session.execute(
            select(Workflow).where(Workflow.id == workflow_id).with_for_update()
        ).scalar_one_or_none()
        if workflow is None:
            return None
        if workflow.state in WORKFLOW_TERMINAL:
            return workflow.state
        spec = WorkflowSpec.model_validate(workflow.specification)
        tasks = list(
            session.scalars(select(WorkflowTask).where(WorkflowTask.workflow_id == workflow_id))
        )
        workflow_inspections.built(session, tasks)
        _task_states(session, tasks)
        if workflow.cancel_requested:
            cancels = _cancel(session, tasks)
        else:
            _cancel_dependents(spec, tasks)
            builds = _release(session, workflow, spec, tasks)
            places = _let_go(session, workflow, spec, tasks)
        _workflow_state(workflow, tasks)
        state = workflow.state
    for build_id in builds:
        send("builder.build", build_id)
    for run_id in places:
        send("deployer.place", run_id)
    for run_id in cancels:
        send("deployer.cancel", run_id)
    return state


def _task_states(session: Session, tasks: list[WorkflowTask]) -> None:
    """A running task ends when all its runs have: succeeded when they all did, else failed
    (naming its first copy that did not). An inspection task whose runs are not made yet
    (its build has not succeeded) waits."""
    running: dict[uuid.UUID, WorkflowTask] = {}
    for task in tasks:
        key = parent_id(task)
        if task.state == "running" and key is not None:
            running[key] = task
    if not running:
        return
    counts: dict[uuid.UUID | None, dict[str, int]] = defaultdict(dict)
    rows = session.execute(
        select(PARENT, Run.state, func.count())
        .where(copies_of(list(running)))
        .group_by(PARENT, Run.state)
    )
    for found, state, count in rows:
        counts[found][state] = count
    now = utcnow()
    for key, task in running.items():
        states = counts.get(key, {})
        if not states or any(state not in RUN_TERMINAL for state in states):
            continue
        task.finished_at = now
        if states.get("succeeded", 0) == task.count:
            task.state = "succeeded"
            continue
        first = session.execute(
            select(Run.index, Run.state, Run.state_reason)
            .where(copies_of([key]), Run.state != "succeeded")
            .order_by(Run.index)
            .limit(1)
        ).first()
        task.state = "cancelled" if first is not None and first.state == "cancelled" else "failed"
        if first is not None:
            detail = f": {first.state_reason}" if first.state_reason else ""
            task.state_reason = f"copy {first.index} {first.state}{detail}"[:1000]


def _stage_states(tasks: list[WorkflowTask]) -> dict[str, str]:
    """Each stage's state: failed or cancelled as soon as one task is, succeeded when all
    are, else running (a task released) or waiting."""
    by_stage: dict[str, list[str]] = defaultdict(list)
    for task in tasks:
        by_stage[task.stage].append(task.state)
    found: dict[str, str] = {}
    for stage, states in by_stage.items():
        if "failed" in states:
            found[stage] = "failed"
        elif "cancelled" in states:
            found[stage] = "cancelled"
        elif all(state == "succeeded" for state in states):
            found[stage] = "succeeded"
        elif any(state == "running" for state in states):
            found[stage] = "running"
        else:
            found[stage] = "waiting"
    return found


def _cancel_dependents(spec: WorkflowSpec, tasks: list[WorkflowTask]) -> None:
    """Waiting tasks of stages that depend (directly or not) on a failed or cancelled stage
    are cancelled; the stages that do not go on."""
    stages = _stage_states(tasks)
    ancestors = spec.ancestors()
    now = utcnow()
    for task in tasks:
        if task.state != "waiting":
            continue
        broken = sorted(
            name for name in ancestors[task.stage] if stages.get(name) in ("failed", "cancelled")
        )
        if broken:
            task.state, task.finished_at = "cancelled", now
            task.state_reason = f"stage {broken[0]} {stages[broken[0]]}"


def _release(
    session: Session, workflow: Workflow, spec: WorkflowSpec, tasks: list[WorkflowTask]
) -> list[str]:
    """Make the deployment and (pending) runs of every waiting task whose stage's
    dependencies have all succeeded (an inspection task: its inspection and build); the ids
    of the builds to start."""
    builds: list[str] = []
    stages = _stage_states(tasks)
    ended_at: dict[str, Any] = {}
    for task in tasks:
        if task.finished_at is not None:
            ended_at[task.stage] = max(ended_at.get(task.stage, task.finished_at), task.finished_at)
    now = utcnow()
    for stage in spec.stages:
        if any(stages.get(name) != "succeeded" for name in stage.depends_on):
            continue
        ready = max((ended_at[n] for n in stage.depends_on if n in ended_at), default=None)
        for task in tasks:
            if task.stage == stage.name and task.state == "waiting":
                if spec.task(task.stage, task.name).inspection is not None:
                    made = workflow_inspections.make(session, workflow, spec, task, now)
                    builds.append(str(made))
                else:
                    task.deployment_id = _deployment(session, workflow, spec, task, now)
                task.state, task.ready_at, task.released_at = "running", ready, now
    session.flush()
    return builds


def _deployment(
    session: Session, workflow: Workflow, spec: WorkflowSpec, task: WorkflowTask, now: Any
) -> uuid.UUID:
    mine: TaskSpec = spec.task(task.stage, task.name)
    assert mine.deployment is not None
    specification = mine.deployment.model_dump(mode="json", exclude_none=True)
    specification["batch_size"] = task.count
    specification["retry"] = spec.retry_for(mine).model_dump(mode="json")
    specification.pop("identifier", None)
    deployment_id = uuid.uuid4()
    identifier = f"{workflow.name}.{task.stage}.{task.name}"[:128]
    session.execute(
        Deployment.__table__.insert(),  # type: ignore[attr-defined]
        [
            {
                "id": deployment_id,
                "project_id": workflow.project_id,
                "identifier": identifier,
                "specification": specification,
                "testbed_id": None,
                "batch_size": task.count,
                "state": "running",
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    session.execute(
        Run.__table__.insert(),  # type: ignore[attr-defined]
        [
            {
                "id": uuid.uuid4(),
                "project_id": workflow.project_id,
                "deployment_id": deployment_id,
                "inspection_id": None,
                "index": index,
                "state": "pending",
                "cancel_requested": False,
                "attempt": 0,
                "created_at": now,
                "updated_at": now,
            }
            for index in range(task.count)
        ],
    )
    return deployment_id


def _let_go(
    session: Session, workflow: Workflow, spec: WorkflowSpec, tasks: list[WorkflowTask]
) -> list[str]:
    """Move pending copies to queued while the workflow has room (max_parallel); their ids,
    to place. Earlier stages and tasks first, each task's copies by index."""
    order = {parent_id(t): (t.position, t.stage, t.name) for t in tasks if parent_id(t)}
    if not order:
        return []
    parents = [key for key in order if key is not None]
    room: int | None = None
    if spec.max_parallel is not None:
        active = session.scalar(
            select(func.count())
            .select_from(Run)
            .where(copies_of(parents), Run.state.in_(ACTIVE_RUN))
        )
        room = spec.max_parallel - int(active or 0)
        if room <= 0:
            return []
    rows = list(
        session.execute(
            select(Run.id, PARENT.label("parent"), Run.index).where(
                copies_of(parents), Run.state == "pending"
            )
        ).all()
    )
    rows.sort(key=lambda row: (order[row.parent], row.index))
    chosen = [row.id for row in (rows if room is None else rows[:room])]
    if not chosen:
        return []
    now = utcnow()
    for start in range(0, len(chosen), 500):
        session.execute(
            update(Run)
            .where(Run.id.in_(chosen[start : start + 500]), Run.state == "pending")
            .values(state="queued", updated_at=now)
        )
    return [str(run_id) for run_id in chosen]


def _cancel(session: Session, tasks: list[WorkflowTask]) -> list[str]:
    """Cancel what has not ended: waiting tasks at once, unplaced runs at once, placed ones
    through the deployer (their ids)."""
    now = utcnow()
    placed: list[str] = []
    workflow_inspections.cancel(session, tasks)  # those still being built
    for task in tasks:
        if task.state == "waiting":
            task.state, task.state_reason, task.finished_at = "cancelled", "cancelled", now
            continue
        key = parent_id(task)
        if task.state != "running" or key is None:
            continue
        session.execute(
            update(Run)
            .where(copies_of([key]), Run.state.in_(("pending", "queued")))
            .values(
                state="cancelled",
                cancel_requested=True,
                state_reason="cancelled by request",
                finished_at=now,
                updated_at=now,
            )
        )
        moving = session.execute(
            update(Run)
            .where(
                copies_of([key]),
                Run.state.in_(("placed", "running")),
                Run.cancel_requested.is_(False),
            )
            .values(cancel_requested=True, updated_at=now)
            .returning(Run.id)
        )
        placed += [str(run_id) for (run_id,) in moving.all()]
        refresh_parent(session, deployment_id=task.deployment_id, inspection_id=task.inspection_id)
    _task_states(session, tasks)
    return placed


def _workflow_state(workflow: Workflow, tasks: list[WorkflowTask]) -> None:
    if not all(task.state in TASK_TERMINAL for task in tasks):
        if workflow.state == "pending" and any(t.state != "waiting" for t in tasks):
            workflow.state = "running"
        return
    failed = [t for t in tasks if t.state == "failed"]
    if workflow.cancel_requested:
        workflow.state, workflow.state_reason = "cancelled", "cancelled by request"
    elif failed:
        named = "; ".join(f"task {t.stage}/{t.name} failed ({t.state_reason})" for t in failed)
        workflow.state, workflow.state_reason = "failed", named[:2000]
    elif all(task.state == "succeeded" for task in tasks):
        workflow.state, workflow.state_reason = "succeeded", None
    else:
        workflow.state, workflow.state_reason = "cancelled", "a task was cancelled"
    workflow.finished_at = utcnow()
