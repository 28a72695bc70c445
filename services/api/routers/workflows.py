"""/api/v1/workflows: DAGs of stages of tasks, placed stage by stage (late binding)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from services.api import service, timeline_svg, workflow_views
from services.api.deps import PrincipalDep, SessionDep, UnitOfWork
from services.api.errors import NotFound, Unauthorized, Unavailable, Unprocessable, responses
from services.api.examples import WORKFLOW_EXAMPLES
from services.api.routers.common import TOO_LARGE
from services.api.workflow_views import (
    TaskCopyPage,
    Timeline,
    WorkflowCancelled,
    WorkflowCreated,
    WorkflowOut,
    WorkflowPage,
    WorkflowSummary,
)
from shared.db.models import Workflow, WorkflowTask, utcnow
from shared.workflow_spec import WorkflowSpec

router = APIRouter(
    prefix="/workflows",
    tags=["workflows"],
    responses=responses(Unauthorized, Unprocessable, Unavailable),
)
ADVANCE = "monitor.workflow_advance"
SVG: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An SVG picture.",
        "content": {"image/svg+xml": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "",
    status_code=202,
    responses=TOO_LARGE,
    summary="Submit a workflow",
    operation_id="create_workflow",
)
async def create(
    spec: Annotated[WorkflowSpec, Body(openapi_examples=WORKFLOW_EXAMPLES)],
    request: Request,
    who: PrincipalDep,
) -> WorkflowCreated:
    """Accept a workflow: its first stages' tasks are placed at once, the others once the
    stages they depend on have succeeded."""
    await workflow_views.resolve_scripts(spec)
    now = utcnow()
    workflow_id = uuid.uuid4()
    async with UnitOfWork(request) as work:
        await workflow_views.check_testbeds(work.session, spec)
        store = request.app.state.store
        await workflow_views.check_executables(work.session, store, who.project_id, spec)
        work.session.add(
            Workflow(
                id=workflow_id,
                project_id=who.project_id,
                name=spec.name,
                specification=spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                state="pending",
                cancel_requested=False,
                created_at=now,
                updated_at=now,
            )
        )
        await work.session.flush()
        work.session.add_all(
            WorkflowTask(
                workflow_id=workflow_id,
                stage=stage.name,
                position=position,
                name=task.name,
                count=task.count,
                state="waiting",
            )
            for position, stage in enumerate(spec.stages)
            for task in stage.tasks
        )
        work.send((ADVANCE, str(workflow_id)))
    copies = sum(task.count for stage in spec.stages for task in stage.tasks)
    return WorkflowCreated(workflow_id=workflow_id, state="pending", copies=copies)


@router.get("", summary="List workflows", operation_id="list_workflows")
async def list_(
    session: SessionDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    state: Annotated[str | None, Query(examples=["running"])] = None,
) -> WorkflowPage:
    """The project's workflows, newest first."""
    rows, next_cursor = await service.page(
        session,
        Workflow,  # type: ignore[type-var]
        who.project_id,
        limit=limit,
        cursor=cursor,
        state=state,
    )
    return WorkflowPage(
        items=[WorkflowSummary.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/{workflow_id}",
    responses=responses(NotFound),
    summary="A workflow: its state and each stage's copies by state",
    operation_id="get_workflow",
)
async def get(workflow_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> WorkflowOut:
    workflow = await workflow_views.owned(session, who.project_id, workflow_id)
    return await workflow_views.describe(session, workflow)


@router.get(
    "/{workflow_id}/tasks",
    responses=responses(NotFound),
    summary="A workflow's task copies, in stage order",
    operation_id="list_workflow_tasks",
)
async def tasks(
    workflow_id: uuid.UUID,
    session: SessionDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> TaskCopyPage:
    workflow = await workflow_views.owned(session, who.project_id, workflow_id)
    return await workflow_views.copies_page(session, workflow, limit, cursor)


@router.get(
    "/{workflow_id}/timeline",
    responses=responses(NotFound),
    summary="Every attempt of the workflow's copies: testbed, node, placed/started/ended",
    operation_id="get_workflow_timeline",
)
async def timeline(workflow_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> Timeline:
    workflow = await workflow_views.owned(session, who.project_id, workflow_id)
    return await workflow_views.timeline(session, workflow)


@router.get(
    "/{workflow_id}/timeline.svg",
    response_class=Response,
    responses={**responses(NotFound), **SVG},
    summary="The timeline as a Gantt picture: a lane per node, a bar per attempt",
    operation_id="get_workflow_timeline_svg",
)
async def timeline_picture(
    workflow_id: uuid.UUID, session: SessionDep, who: PrincipalDep
) -> Response:
    workflow = await workflow_views.owned(session, who.project_id, workflow_id)
    drawn = timeline_svg.render(await workflow_views.timeline(session, workflow))
    return Response(drawn, media_type="image/svg+xml")


@router.delete(
    "/{workflow_id}",
    responses=responses(NotFound),
    summary="Cancel the workflow: every copy not ended, every stage not begun",
    operation_id="cancel_workflow",
)
async def cancel(workflow_id: uuid.UUID, request: Request, who: PrincipalDep) -> WorkflowCancelled:
    async with UnitOfWork(request) as work:
        workflow = await workflow_views.owned(work.session, who.project_id, workflow_id)
        if workflow.state in ("pending", "running"):
            workflow.cancel_requested = True
            work.send((ADVANCE, str(workflow_id)))
        state, asked = workflow.state, workflow.cancel_requested
    return WorkflowCancelled(state=state, cancel_requested=asked)
