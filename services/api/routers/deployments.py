"""/api/v1/deployments: run an existing image or command, without a build."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request

from services.api import applications, service
from services.api.deps import PrincipalDep, SessionDep, UnitOfWork
from services.api.errors import NotFound, Unauthorized, Unavailable, Unprocessable, responses
from services.api.examples import DEPLOYMENT_EXAMPLES
from services.api.routers.common import TOO_LARGE, add_common_routes
from services.api.schemas import (
    DeploymentCreated,
    DeploymentOut,
    DeploymentPage,
)
from shared.db.models import Deployment
from shared.specs import DeploymentSpec

router = APIRouter(
    prefix="/deployments",
    tags=["deployments"],
    responses=responses(Unauthorized, Unprocessable, Unavailable),
)


@router.post(
    "",
    status_code=202,
    responses=TOO_LARGE,
    summary="Submit a deployment",
    operation_id="create_deployment",
)
async def create(
    spec: Annotated[DeploymentSpec, Body(openapi_examples=DEPLOYMENT_EXAMPLES)],
    request: Request,
    who: PrincipalDep,
) -> DeploymentCreated:
    """Accept a deployment: its runs are placed at once."""
    if spec.executable is not None:  # placed where its build node's hardware fits
        async with UnitOfWork(request) as check:
            spec = await applications.deployable(
                check.session, request.app.state.store, who.project_id, spec
            )
    async with UnitOfWork(request) as work:
        deployment = await service.accept(
            request.app.state, work, service.create_deployment, who.project_id, spec
        )
    return DeploymentCreated(
        deployment_id=deployment.id, state=deployment.state, batch_size=deployment.batch_size
    )


@router.get("", summary="List deployments", operation_id="list_deployments")
async def list_(
    session: SessionDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    state: Annotated[str | None, Query(examples=["running"])] = None,
) -> DeploymentPage:
    """The project's deployments, newest first."""
    rows, next_cursor = await service.page(
        session, Deployment, who.project_id, limit=limit, cursor=cursor, state=state
    )
    return DeploymentPage(
        items=[DeploymentOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/{item_id}",
    responses=responses(NotFound),
    summary="A deployment",
    operation_id="get_deployment",
)
async def get(item_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> DeploymentOut:
    """The deployment and its state."""
    return DeploymentOut.model_validate(
        await service.get_owned(session, Deployment, who.project_id, item_id)
    )


add_common_routes(router, Deployment)
