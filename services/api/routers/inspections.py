"""/api/v1/inspections: build an environment, run a script in it on the hardware asked for."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import PlainTextResponse, Response

from services.api import logstream, scripts, service
from services.api.deps import PrincipalDep, SessionDep, UnitOfWork
from services.api.errors import NotFound, Unauthorized, Unavailable, Unprocessable, responses
from services.api.examples import INSPECTION_EXAMPLES
from services.api.routers.common import TOO_LARGE, add_common_routes
from services.api.schemas import (
    BuildOut,
    InspectionCreated,
    InspectionOut,
    InspectionPage,
)
from shared.db.models import Build, Inspection
from shared.specs import InspectionSpec
from shared.store import build_log_key

router = APIRouter(
    prefix="/inspections",
    tags=["inspections"],
    responses=responses(Unauthorized, Unprocessable, Unavailable),
)


def _out(inspection: Inspection, build: Build | None) -> InspectionOut:
    out = InspectionOut.model_validate(inspection)
    out.build = BuildOut.model_validate(build) if build is not None else None
    out.build_only = "script" not in inspection.specification
    return out


@router.post(
    "",
    status_code=202,
    responses=TOO_LARGE,
    summary="Submit an inspection",
    operation_id="create_inspection",
)
async def create(
    spec: Annotated[InspectionSpec, Body(openapi_examples=INSPECTION_EXAMPLES)],
    request: Request,
    who: PrincipalDep,
) -> InspectionCreated:
    """Accept an inspection: its build starts, then its runs are placed."""
    spec = await scripts.resolve(spec)
    async with UnitOfWork(request) as work:
        inspection = await service.accept(
            request.app.state, work, service.create_inspection, who.project_id, spec
        )
    return InspectionCreated(
        inspection_id=inspection.id,
        state=inspection.state,
        batch_size=inspection.batch_size,
        build_only=spec.script is None,
    )


@router.get("", summary="List inspections", operation_id="list_inspections")
async def list_(
    session: SessionDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    state: Annotated[str | None, Query(examples=["running"])] = None,
) -> InspectionPage:
    """The project's inspections, newest first."""
    rows, next_cursor = await service.page(
        session, Inspection, who.project_id, limit=limit, cursor=cursor, state=state
    )
    return InspectionPage(items=[_out(row, None) for row in rows], next_cursor=next_cursor)


@router.get(
    "/{item_id}",
    responses=responses(NotFound),
    summary="An inspection",
    operation_id="get_inspection",
)
async def get(item_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> InspectionOut:
    """The inspection with its build."""
    inspection = await service.get_owned(session, Inspection, who.project_id, item_id)
    return _out(inspection, await session.get(Build, inspection.build_id))


@router.get(
    "/{item_id}/build/log",
    response_class=PlainTextResponse,
    responses=logstream.log_responses(),
    summary="The build's log, so far or live",
    operation_id="get_inspection_build_log",
)
async def build_log(
    item_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    who: PrincipalDep,
    follow: logstream.FollowDep,
) -> Response:
    """The build's log so far; with `follow=true`, a live stream until the build ends."""
    inspection = await service.get_owned(session, Inspection, who.project_id, item_id)
    probe = logstream.build_probe(request.app.state.sessions, inspection.build_id)
    key = build_log_key(inspection.build_id)
    return await logstream.respond(request, session, key, probe, follow)


add_common_routes(router, Inspection)
