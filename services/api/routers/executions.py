"""Executions as ALDE has them: restart a deployment; drain and resume nodes (admins)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Body, Request
from sqlalchemy import select, update

from services.api import service
from services.api.deps import AdminDep, PrincipalDep, UnitOfWork
from services.api.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    Unprocessable,
    responses,
)
from services.api.examples import DRAIN_EXAMPLES
from services.api.routers.common import store as store_of
from services.api.schemas import Out
from shared.applications.schemas import NodeDrain
from shared.db.models import Deployment, Node, Run, Testbed, utcnow
from shared.states import RUN_TERMINAL
from shared.store import ArtifactStore, run_log_key, run_result_key

router = APIRouter(responses=responses(Unauthorized, Unprocessable, Unavailable))


class Restarted(Out):
    deployment_id: uuid.UUID
    state: str
    restarted_runs: int


class NodeState(Out):
    node_id: uuid.UUID
    name: str
    testbed: str
    state: str
    drained: bool
    drain_reason: str | None
    drained_at: datetime | None


def keep_attempt(store: ArtifactStore, run_id: uuid.UUID, number: int) -> None:
    """The ended attempt's log and result, kept beside the run's (as a retry keeps them)."""
    for key, name in ((run_log_key(run_id), "log"), (run_result_key(run_id), "result")):
        data = store.get(key)
        if data:
            store.put(f"runs/{run_id}/attempts/{number}/{name}", data)
    store.put(run_log_key(run_id), b"")


@router.post(
    "/deployments/{item_id}/restart",
    status_code=202,
    tags=["deployments"],
    responses=responses(NotFound, Conflict),
    summary="Restart a deployment: a new attempt of each run",
    operation_id="restart_deployment",
)
async def restart(item_id: uuid.UUID, request: Request, who: PrincipalDep) -> Restarted:
    """Every run is placed again as its next attempt; the earlier attempts (their state,
    node, exit code, log and result) are kept. Only a deployment whose runs have all ended."""
    async with UnitOfWork(request) as work:
        deployment = await service.get_owned(work.session, Deployment, who.project_id, item_id)
        locked = await work.session.execute(
            select(Run).where(Run.deployment_id == deployment.id).with_for_update()
        )
        runs = list(locked.scalars())
        if any(run.state not in RUN_TERMINAL for run in runs):
            raise Conflict("some runs have not ended: cancel the deployment or wait")
        for run in runs:
            await anyio.to_thread.run_sync(keep_attempt, store_of(request), run.id, run.attempt)
        now = utcnow()
        await work.session.execute(
            update(Run)
            .where(Run.deployment_id == deployment.id)
            .values(
                state="queued",
                state_reason=f"restarted by request at {now.isoformat()}",
                cancel_requested=False,
                testbed_id=None,
                node_name=None,
                backend_ref=None,
                placed_at=None,
                started_at=None,
                finished_at=None,
                exit_code=None,
                hwinfo=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        deployment.state, deployment.state_reason = "running", None
        deployment.finished_at, deployment.updated_at = None, now
        work.send(*(("deployer.place", str(run.id)) for run in runs))
    return Restarted(deployment_id=item_id, state="running", restarted_runs=len(runs))


async def _node_state(request: Request, node_id: uuid.UUID, reason: str | None) -> NodeState:
    async with UnitOfWork(request) as work:
        found = (
            await work.session.execute(
                select(Node, Testbed.name)
                .join(Testbed, Node.testbed_id == Testbed.id)
                .where(Node.id == node_id)
            )
        ).first()
        if found is None:
            raise NotFound(f"no node {node_id}")
        node, testbed = found
        node.drained_at = utcnow() if reason is not None else None
        node.drain_reason = reason
        await work.session.flush()
        out = NodeState(
            node_id=node.id,
            name=node.name,
            testbed=testbed,
            state=node.state,
            drained=node.drained_at is not None,
            drain_reason=node.drain_reason,
            drained_at=node.drained_at,
        )
    request.app.state.candidates.clear()  # submits see it at once
    return out


@router.post(
    "/nodes/{node_id}/drain",
    tags=["nodes"],
    responses=responses(NotFound, Forbidden),
    summary="Drain a node (admin): placement no longer chooses it; its runs go on",
    operation_id="drain_node",
)
async def drain(
    node_id: uuid.UUID,
    body: Annotated[NodeDrain, Body(openapi_examples=DRAIN_EXAMPLES)],
    request: Request,
    _admin: AdminDep,
) -> NodeState:
    return await _node_state(request, node_id, body.reason)


@router.post(
    "/nodes/{node_id}/resume",
    tags=["nodes"],
    responses=responses(NotFound, Forbidden),
    summary="Resume a drained node (admin)",
    operation_id="resume_node",
)
async def resume(node_id: uuid.UUID, request: Request, _admin: AdminDep) -> NodeState:
    return await _node_state(request, node_id, None)
