"""/api/v1/runs/{run_id}: one run by its id, whatever made it; its attempts, its log (live)
and result."""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import select

from services.api import logstream
from services.api.deps import PrincipalDep, SessionDep
from services.api.errors import Conflict, NotFound, Unauthorized, Unavailable, Unprocessable
from services.api.errors import responses as error_responses
from services.api.routers.common import store
from services.api.schemas import (
    AttemptList,
    AttemptOut,
    RunLinks,
    RunOut,
    RunPlacement,
    RunResult,
)
from shared.db.models import Run, RunAttempt, Testbed
from shared.states import RUN_TERMINAL
from shared.store import run_log_key, run_result_key

router = APIRouter(
    prefix="/runs",
    tags=["runs"],
    responses=error_responses(Unauthorized, NotFound, Unprocessable, Unavailable),
)


async def owned_run(
    session: SessionDep, project_id: uuid.UUID, run_id: uuid.UUID
) -> tuple[Run, str | None]:
    """The run and its testbed's name if it belongs to the project; else 404, as if absent."""
    row = (
        await session.execute(
            select(Run, Testbed.name)
            .outerjoin(Testbed, Run.testbed_id == Testbed.id)
            .where(Run.id == run_id, Run.project_id == project_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no run {run_id}")
    return row[0], row[1]


@router.get("/{run_id}", summary="A run by its id", operation_id="get_run")
async def get(run_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> RunOut:
    """A run of an inspection or a deployment of the caller's project."""
    run, testbed = await owned_run(session, who.project_id, run_id)
    out = RunOut.model_validate(run)
    out.testbed = testbed
    return out


@router.get(
    "/{run_id}/attempts",
    summary="A run's attempts: each placement, where and why, and how it ended",
    operation_id="list_run_attempts",
)
async def list_attempts(run_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> AttemptList:
    """Oldest first; the run's result is its last attempt's."""
    run, _ = await owned_run(session, who.project_id, run_id)
    rows = await session.execute(
        select(RunAttempt, Testbed.name)
        .outerjoin(Testbed, RunAttempt.testbed_id == Testbed.id)
        .where(RunAttempt.run_id == run.id)
        .order_by(RunAttempt.number)
    )
    items = []
    for attempt, testbed in rows:
        out = AttemptOut.model_validate(attempt)
        out.testbed = testbed
        items.append(out)
    return AttemptList(items=items)


@router.get(
    "/{run_id}/placement",
    summary="Where a run's current attempt was placed, and why there",
    operation_id="get_run_placement",
)
async def get_placement(run_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> RunPlacement:
    """The chosen node, what it offered (free devices, its testbed's queue, its active runs)
    and the next candidates, as stored when it was placed; 404 before it is first placed."""
    run, testbed = await owned_run(session, who.project_id, run_id)
    attempt = (
        await session.execute(
            select(RunAttempt, Testbed.name)
            .outerjoin(Testbed, RunAttempt.testbed_id == Testbed.id)
            .where(RunAttempt.run_id == run.id, RunAttempt.number == run.attempt)
        )
    ).first()
    if attempt is None:
        raise NotFound(f"run {run.id} has not been placed yet")
    row, name = attempt
    return RunPlacement(
        attempt=row.number, testbed=name, node_name=row.node_name, placement=row.placement
    )


@router.get(
    "/{run_id}/log",
    response_class=PlainTextResponse,
    responses=logstream.log_responses(),
    summary="A run's output (stdout and stderr), so far or live",
    operation_id="get_run_log",
)
async def log(
    run_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    who: PrincipalDep,
    follow: logstream.FollowDep,
) -> Response:
    """The interleaved output of the run; with `follow=true`, a live stream until it ends."""
    run, _ = await owned_run(session, who.project_id, run_id)
    probe = logstream.run_probe(request.app.state.sessions, run.id)
    return await logstream.respond(request, session, run_log_key(run.id), probe, follow, run.id)


@router.get(
    "/{run_id}/result",
    responses=error_responses(Conflict),
    summary="A run's result: hwinfo, stdout, stderr, exit code, usage",
    operation_id="get_run_result",
)
async def result(
    run_id: uuid.UUID, request: Request, session: SessionDep, who: PrincipalDep
) -> RunResult:
    """Ready when the run has ended (409 before)."""
    run, _ = await owned_run(session, who.project_id, run_id)
    if run.state not in RUN_TERMINAL:
        raise Conflict(f"run {run.id} is {run.state}; its result is ready when it ends")
    data = store(request).get(run_result_key(run.id))
    if data is None:
        raise NotFound(f"run {run.id} ended {run.state} without a result")
    return RunResult.model_validate(json.loads(data))


LINK_S = 3600


@router.get(
    "/{run_id}/links",
    summary="Presigned links to a run's log and result (S3 store)",
    operation_id="get_run_links",
)
async def links(
    run_id: uuid.UUID, request: Request, session: SessionDep, who: PrincipalDep
) -> RunLinks:
    """Links that download the stored log and result straight from the artifact store, for an
    hour; null where the store hands out none (the filesystem) or the result is not there."""
    run, _ = await owned_run(session, who.project_id, run_id)
    artifacts = store(request)
    ended = run.state in RUN_TERMINAL
    return RunLinks(
        log=await run_in_threadpool(artifacts.url, run_log_key(run.id), LINK_S),
        result=await run_in_threadpool(artifacts.url, run_result_key(run.id), LINK_S)
        if ended
        else None,
        expires_in_s=LINK_S,
    )
