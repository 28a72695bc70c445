"""What the workflow endpoints answer, and the reads behind them (project-scoped)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api import applications, scripts
from services.api.errors import Conflict, NotFound, Unprocessable
from services.api.schemas import Out
from shared.db.models import Run, RunAttempt, Testbed, Workflow, WorkflowTask
from shared.store import ArtifactStore
from shared.workflow_data import PARENT, copies_of, parent_id
from shared.workflow_spec import WorkflowSpec


class WorkflowCreated(Out):
    workflow_id: uuid.UUID
    state: str
    copies: int = Field(description="Task copies in all (each task's count, summed).")


class WorkflowCancelled(Out):
    state: str = Field(description="Its state when asked: cancelled once what ran has ended.")
    cancel_requested: bool


class StageOut(Out):
    name: str
    depends_on: list[str]
    state: str = Field(description="waiting, running, succeeded, failed or cancelled.")
    copies: int
    counts: dict[str, int] = Field(
        description="Copies by state: a run's state, or waiting (not made yet: its stage's "
        "dependencies have not succeeded), building (an inspection task's environment is "
        "being built), failed or cancelled."
    )
    testbeds: list[str] = Field(description="Testbeds its copies went to.")


class WorkflowOut(Out):
    id: uuid.UUID
    name: str
    state: str
    state_reason: str | None
    created_at: datetime
    finished_at: datetime | None
    stages: list[StageOut]


class WorkflowSummary(Out):
    id: uuid.UUID
    name: str
    state: str
    state_reason: str | None
    created_at: datetime
    finished_at: datetime | None


class WorkflowPage(Out):
    items: list[WorkflowSummary]
    next_cursor: str | None


class TaskCopyOut(Out):
    stage: str
    task: str
    index: int
    state: str
    state_reason: str | None
    run_id: uuid.UUID | None
    attempt: int
    testbed: str | None
    node: str | None


class TaskCopyPage(Out):
    items: list[TaskCopyOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class TimelineEntry(Out):
    stage: str
    task: str
    index: int
    run_id: uuid.UUID
    attempt: int
    state: str
    testbed: str | None
    node: str | None
    released_at: datetime | None = Field(description="When its stage let the copy go.")
    queued_at: datetime | None = Field(description="When the attempt was placed.")
    started_at: datetime | None
    finished_at: datetime | None


class Timeline(Out):
    workflow_id: uuid.UUID
    stages: list[str]
    entries: list[TimelineEntry]


async def owned(session: AsyncSession, project_id: uuid.UUID, workflow_id: uuid.UUID) -> Workflow:
    workflow = await session.get(Workflow, workflow_id)
    if workflow is None or workflow.project_id != project_id:
        raise NotFound(f"no workflow {workflow_id}")
    return workflow


async def tasks_of(session: AsyncSession, workflow_id: uuid.UUID) -> list[WorkflowTask]:
    rows = await session.scalars(
        select(WorkflowTask)
        .where(WorkflowTask.workflow_id == workflow_id)
        .order_by(WorkflowTask.position, WorkflowTask.stage, WorkflowTask.name)
    )
    return list(rows)


async def check_testbeds(session: AsyncSession, spec: WorkflowSpec) -> None:
    if not spec.testbeds:
        return
    known = set(await session.scalars(select(Testbed.name).where(Testbed.name.in_(spec.testbeds))))
    for i, name in enumerate(spec.testbeds):
        if name not in known:
            raise Unprocessable.on(f"testbeds[{i}]", f"no testbed {name!r}")


async def check_executables(
    session: AsyncSession, store: ArtifactStore, project_id: uuid.UUID, spec: WorkflowSpec
) -> None:
    """Each task of an executable: it exists in the project and is compiled (else a 422
    naming the task's field); its hardware narrowed to fit the build node, as a deployment
    of it is (`applications.deployable`)."""
    for i, stage in enumerate(spec.stages):
        for j, task in enumerate(stage.tasks):
            if task.deployment is None or task.deployment.executable is None:
                continue
            field = f"stages[{i}].tasks[{j}].{task.given_as('executable')}"
            try:
                narrowed = await applications.deployable(
                    session, store, project_id, task.deployment
                )
            except (Unprocessable, Conflict) as refused:
                reason = refused.fields[0].reason if refused.fields else refused.detail
                raise Unprocessable.on(field, reason) from None
            # Its hardware only: an image executable's image is read from its row when the
            # copy is placed (shared/applications/jobs.py), not stored in the workflow.
            task.deployment = task.deployment.model_copy(update={"requests": narrowed.requests})


async def resolve_scripts(spec: WorkflowSpec) -> None:
    """Inspection tasks' scripts given by URL, fetched once at submit (as POST /inspections
    does); a 422 names the task's field."""
    for i, stage in enumerate(spec.stages):
        for j, task in enumerate(stage.tasks):
            if task.inspection is None or not scripts.is_url(task.inspection.script):
                continue
            try:
                task.inspection = await scripts.resolve(task.inspection)
            except Unprocessable as refused:
                reason = refused.fields[0].reason if refused.fields else refused.detail
                raise Unprocessable.on(
                    f"stages[{i}].tasks[{j}].inspection.script", reason
                ) from None


async def describe(session: AsyncSession, workflow: Workflow) -> WorkflowOut:
    spec = WorkflowSpec.model_validate(workflow.specification)
    tasks = await tasks_of(session, workflow.id)
    by_parent = _by_parent(tasks)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    used: dict[str, set[str]] = defaultdict(set)
    made: set[uuid.UUID] = set()
    if by_parent:
        rows = await session.execute(
            select(PARENT, Run.state, Testbed.name, func.count())
            .outerjoin(Testbed, Testbed.id == Run.testbed_id)
            .where(copies_of(list(by_parent)))
            .group_by(PARENT, Run.state, Testbed.name)
        )
        for parent, state, testbed, count in rows:
            made.add(parent)
            stage = by_parent[parent].stage
            counts[stage][state] += count
            if testbed:
                used[stage].add(testbed)
    states: dict[str, list[str]] = defaultdict(list)
    copies: dict[str, int] = defaultdict(int)
    for task in tasks:
        states[task.stage].append(task.state)
        copies[task.stage] += task.count
        if parent_id(task) not in made:
            counts[task.stage][_unmade_state(task)] += task.count
    stages = [
        StageOut(
            name=stage.name,
            depends_on=stage.depends_on,
            state=_stage_state(states[stage.name]),
            copies=copies[stage.name],
            counts=dict(counts[stage.name]),
            testbeds=sorted(used[stage.name]),
        )
        for stage in spec.stages
    ]
    return WorkflowOut(
        id=workflow.id,
        name=workflow.name,
        state=workflow.state,
        state_reason=workflow.state_reason,
        created_at=workflow.created_at,
        finished_at=workflow.finished_at,
        stages=stages,
    )


def _by_parent(tasks: list[WorkflowTask]) -> dict[uuid.UUID, WorkflowTask]:
    found: dict[uuid.UUID, WorkflowTask] = {}
    for task in tasks:
        key = parent_id(task)
        if key is not None:
            found[key] = task
    return found


def _unmade_state(task: WorkflowTask) -> str:
    """The state shown for a copy whose run is not made: waiting (its stage's dependencies
    have not succeeded), building (an inspection task's environment), or the task's end."""
    if task.state in ("cancelled", "failed"):
        return task.state
    return "building" if task.inspection_id is not None else "waiting"


def _stage_state(states: list[str]) -> str:
    for state in ("failed", "cancelled"):
        if state in states:
            return state
    if states and all(state == "succeeded" for state in states):
        return "succeeded"
    return "running" if "running" in states else "waiting"


async def copies_page(
    session: AsyncSession, workflow: Workflow, limit: int, cursor: str | None
) -> TaskCopyPage:
    """The workflow's task copies in stage order, `limit` from offset `cursor`."""
    try:
        offset = int(cursor or 0)
    except ValueError:
        raise Unprocessable.on("cursor", "not a cursor this endpoint gave") from None
    if offset < 0:
        raise Unprocessable.on("cursor", "not a cursor this endpoint gave")
    items: list[TaskCopyOut] = []
    start = 0
    total = 0
    for task in await tasks_of(session, workflow.id):
        total += task.count
        end = start + task.count
        if end > offset and start < offset + limit:
            first, last = max(offset, start) - start, min(offset + limit, end) - start
            items += await _copies(session, task, first, last)
        start = end
    following = offset + limit
    return TaskCopyPage(items=items, next_cursor=str(following) if following < total else None)


async def _copies(
    session: AsyncSession, task: WorkflowTask, first: int, last: int
) -> list[TaskCopyOut]:
    key = parent_id(task)
    rows = []
    if key is not None:
        found = await session.execute(
            select(Run, Testbed.name)
            .outerjoin(Testbed, Testbed.id == Run.testbed_id)
            .where(copies_of([key]), Run.index >= first, Run.index < last)
            .order_by(Run.index)
        )
        rows = list(found.all())
    if not rows:
        state = _unmade_state(task)
        return [
            TaskCopyOut(
                stage=task.stage,
                task=task.name,
                index=index,
                state=state,
                state_reason=task.state_reason,
                run_id=None,
                attempt=0,
                testbed=None,
                node=None,
            )
            for index in range(first, last)
        ]
    return [
        TaskCopyOut(
            stage=task.stage,
            task=task.name,
            index=run.index,
            state=run.state,
            state_reason=run.state_reason,
            run_id=run.id,
            attempt=run.attempt,
            testbed=testbed,
            node=run.node_name,
        )
        for run, testbed in rows
    ]


async def timeline(session: AsyncSession, workflow: Workflow) -> Timeline:
    spec = WorkflowSpec.model_validate(workflow.specification)
    tasks = await tasks_of(session, workflow.id)
    by_parent = _by_parent(tasks)
    entries: list[TimelineEntry] = []
    if by_parent:
        rows = await session.execute(
            select(RunAttempt, PARENT, Run.index, Run.id, Testbed.name)
            .join(Run, Run.id == RunAttempt.run_id)
            .outerjoin(Testbed, Testbed.id == RunAttempt.testbed_id)
            .where(copies_of(list(by_parent)))
        )
        for attempt, parent, index, run_id, testbed in rows:
            task = by_parent[parent]
            entries.append(
                TimelineEntry(
                    stage=task.stage,
                    task=task.name,
                    index=index,
                    run_id=run_id,
                    attempt=attempt.number,
                    state=attempt.state,
                    testbed=testbed,
                    node=attempt.node_name,
                    released_at=task.released_at,
                    queued_at=attempt.placed_at,
                    started_at=attempt.started_at,
                    finished_at=attempt.finished_at,
                )
            )
    order = {stage.name: i for i, stage in enumerate(spec.stages)}
    entries.sort(key=lambda e: (order.get(e.stage, 0), e.task, e.index, e.attempt))
    return Timeline(
        workflow_id=workflow.id, stages=[stage.name for stage in spec.stages], entries=entries
    )
