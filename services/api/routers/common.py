"""Endpoints that inspections and deployments share: status, runs, logs, results, cancel."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response

from services.api import logstream, service
from services.api.deps import PrincipalDep, SessionDep, UnitOfWork
from services.api.errors import Conflict, ErrorBody, NotFound, responses
from services.api.schemas import BuildOut, Cancelled, RunList, RunOut, RunResult, Status
from shared.db.models import Build, Deployment, Inspection
from shared.states import RUN_TERMINAL
from shared.store import ArtifactStore, run_log_key, run_result_key

RunIndex = Annotated[int, Path(ge=0, le=1_000_000, description="The run's index in the batch.")]
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "too_large: the body is over TESSERA_MAX_BODY_BYTES"}
}
SPECIFICATION: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The specification as accepted (defaults filled in, nulls left out).",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def store(request: Request) -> ArtifactStore:
    artifacts: ArtifactStore = request.app.state.store
    return artifacts


def add_common_routes(router: APIRouter, model: type[Inspection] | type[Deployment]) -> None:
    """Register the shared endpoints under /{id} for `model`."""
    _add_parent_routes(router, model)
    _add_run_routes(router, model)


def _add_parent_routes(router: APIRouter, model: type[Inspection] | type[Deployment]) -> None:
    """The inspection's or deployment's state, specification and cancellation."""
    name = model.__tablename__[:-1]

    async def status(item_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> Status:
        parent = await service.get_owned(session, model, who.project_id, item_id)
        build = None
        if isinstance(parent, Inspection):
            row = await session.get(Build, parent.build_id)
            build = BuildOut.model_validate(row) if row is not None else None
        return Status(
            state=parent.state,
            state_reason=parent.state_reason,
            build=build,
            runs=await service.run_counts(session, parent),
            created_at=parent.created_at,
            finished_at=parent.finished_at,
        )

    async def specification(
        item_id: uuid.UUID, session: SessionDep, who: PrincipalDep
    ) -> dict[str, Any]:
        parent = await service.get_owned(session, model, who.project_id, item_id)
        return parent.specification

    async def cancel(item_id: uuid.UUID, request: Request, who: PrincipalDep) -> Cancelled:
        async with UnitOfWork(request) as work:
            parent = await service.get_owned(work.session, model, who.project_id, item_id)
            count, tasks = await service.cancel(work.session, parent)
            work.send(*tasks)
        return Cancelled(state=parent.state, cancelled_runs=count)

    router.add_api_route(
        "/{item_id}/status",
        status,
        responses=responses(NotFound),
        summary=f"The {name}'s state, its build's and its runs' by state",
        operation_id=f"get_{name}_status",
    )
    router.add_api_route(
        "/{item_id}/specification",
        specification,
        responses={**responses(NotFound), **SPECIFICATION},
        summary=f"The {name} as it was accepted",
        operation_id=f"get_{name}_specification",
    )
    router.add_api_route(
        "/{item_id}",
        cancel,
        methods=["DELETE"],
        responses=responses(NotFound),
        summary=f"Cancel the {name}",
        operation_id=f"cancel_{name}",
    )


def _add_run_routes(router: APIRouter, model: type[Inspection] | type[Deployment]) -> None:
    """The runs of an inspection or a deployment, and each run's log and result."""
    name = model.__tablename__[:-1]

    async def runs(item_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> RunList:
        parent = await service.get_owned(session, model, who.project_id, item_id)
        items = []
        for run, testbed in await service.runs_of(session, parent):
            out = RunOut.model_validate(run)
            out.testbed = testbed
            items.append(out)
        return RunList(items=items)

    async def run_log(
        item_id: uuid.UUID,
        index: RunIndex,
        request: Request,
        session: SessionDep,
        who: PrincipalDep,
        follow: logstream.FollowDep,
    ) -> Response:
        parent = await service.get_owned(session, model, who.project_id, item_id)
        run = await service.run_at(session, parent, index)
        probe = logstream.run_probe(request.app.state.sessions, run.id)
        key = run_log_key(run.id)
        return await logstream.respond(request, session, key, probe, follow, run.id)

    async def run_result(
        item_id: uuid.UUID,
        index: RunIndex,
        request: Request,
        session: SessionDep,
        who: PrincipalDep,
    ) -> RunResult:
        parent = await service.get_owned(session, model, who.project_id, item_id)
        run = await service.run_at(session, parent, index)
        if run.state not in RUN_TERMINAL:
            raise Conflict(f"run {index} is {run.state}; its result is ready when it ends")
        data = store(request).get(run_result_key(run.id))
        if data is None:
            raise NotFound(f"run {index} ended {run.state} without a result")
        return RunResult.model_validate(json.loads(data))

    router.add_api_route(
        "/{item_id}/runs",
        runs,
        responses=responses(NotFound),
        summary=f"The {name}'s runs",
        operation_id=f"list_{name}_runs",
    )
    router.add_api_route(
        "/{item_id}/runs/{index}/log",
        run_log,
        response_class=PlainTextResponse,
        responses=logstream.log_responses(),
        summary="A run's output (stdout and stderr), so far or live",
        operation_id=f"get_{name}_run_log",
    )
    router.add_api_route(
        "/{item_id}/runs/{index}/result",
        run_result,
        responses={**responses(NotFound), **responses(Conflict)},
        summary="A run's result: hwinfo, stdout, stderr, exit code, usage",
        operation_id=f"get_{name}_run_result",
    )
