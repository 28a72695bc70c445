"""/api/v1/testbeds: where runs can go. Admin only; credentials are write-only."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import asyncssh
from fastapi import APIRouter, Body, Request
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.deps import AdminDep, SessionDep, UnitOfWork
from services.api.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    Unprocessable,
    responses,
)
from services.api.examples import TESTBED_EXAMPLES
from services.api.routers.common import TOO_LARGE
from services.api.schemas import (
    Accepted,
    TestbedCreate,
    TestbedList,
    TestbedOut,
)
from shared import secrets
from shared.config import get_settings
from shared.db.models import REMOVED_PREFIX, Node, Run, Testbed
from shared.states import RUN_TERMINAL
from shared.testbeds.kubernetes.config import KubernetesConfig
from shared.testbeds.slurm.config import SlurmConfig
from shared.testbeds.ssh.config import SshConfig

ADMIN_ERRORS = responses(Unauthorized, Forbidden)
router = APIRouter(
    prefix="/testbeds",
    tags=["testbeds"],
    responses={**ADMIN_ERRORS, **responses(Unprocessable, Unavailable)},
)
SUPPORTED_KINDS = ("local", "slurm", "kubernetes", "ssh", "ec2")
PLANNED_KINDS: tuple[str, ...] = ()


def _invalid(error: ValidationError) -> Unprocessable:
    first = error.errors()[0]
    where = ".".join(str(part) for part in ("config", *first["loc"]))
    return Unprocessable.on(where, first["msg"])


def _checked_kubernetes(body: TestbedCreate) -> dict[str, Any]:
    """A kubernetes testbed: its config, and its kubeconfig (the credentials) unless in-cluster."""
    from shared.testbeds.kubernetes.client import kubeconfig_problem

    try:
        config = KubernetesConfig.model_validate(body.config)
    except ValidationError as error:
        raise _invalid(error) from None
    if config.in_cluster:
        if body.credentials:
            raise Unprocessable.on(
                "credentials", "not used with in_cluster (the pod's service account is)"
            )
    else:
        if not body.credentials:
            raise Unprocessable.on(
                "credentials", "required: a kubeconfig (YAML), or config.in_cluster: true"
            )
        problem = kubeconfig_problem(body.credentials, config.context)
        if problem is not None:
            raise Unprocessable.on("credentials", problem)
    return config.model_dump(mode="json", exclude_none=True)


def _private_key(body: TestbedCreate) -> None:
    if not body.credentials:
        raise Unprocessable.on("credentials", "required: the SSH private key (OpenSSH or PEM)")
    try:
        asyncssh.import_private_key(body.credentials)
    except (asyncssh.KeyImportError, ValueError):
        raise Unprocessable.on(
            "credentials", "not an unencrypted SSH private key (OpenSSH or PEM)"
        ) from None


def _checked_ssh(body: TestbedCreate) -> dict[str, Any]:
    """An ssh testbed: its hosts, each with its host key pinned, and the private key."""
    try:
        config = SshConfig.model_validate(body.config)
    except ValidationError as error:
        raise _invalid(error) from None
    for index, host in enumerate(config.hosts):
        if host.host_key is None:
            raise Unprocessable.on(
                f"config.hosts.{index}.host_key",
                f"required: the public host key of {host.host} (ssh-keyscan, then check it)",
            )
    _private_key(body)
    return config.model_dump(exclude_none=True)


def _checked_ec2(body: TestbedCreate) -> dict[str, Any]:
    """An ec2 testbed: its config, and an access key pair or none (the workers' role)."""
    from shared.testbeds.ec2.config import Ec2Config, credentials

    try:
        config = Ec2Config.model_validate(body.config)
    except ValidationError as error:
        raise _invalid(error) from None
    if body.credentials:
        try:
            credentials(body.credentials)
        except ValueError as error:
            raise Unprocessable.on(
                "credentials", str(error).removeprefix("credentials: ")
            ) from None
    return config.model_dump(mode="json", exclude_none=True)


def _checked_config(body: TestbedCreate) -> dict[str, Any]:
    """The kind's config, validated (422 naming the field); `local` takes any config as is."""
    if body.kind == "kubernetes":
        return _checked_kubernetes(body)
    if body.kind == "ec2":
        return _checked_ec2(body)
    if body.kind == "ssh":
        return _checked_ssh(body)
    if body.kind != "slurm":
        return body.config
    try:
        config = SlurmConfig.model_validate(body.config)
    except ValidationError as error:
        raise _invalid(error) from None
    if config.host_key is None and not get_settings().ssh_trust_on_first_use:
        raise Unprocessable.on(
            "config.host_key",
            "required: the login node's public host key (trust on first use is off; "
            "TESSERA_SSH_TRUST_ON_FIRST_USE turns it on)",
        )
    _private_key(body)
    return config.model_dump(exclude_none=True)


def _out(testbed: Testbed, nodes: int) -> TestbedOut:
    return TestbedOut(
        id=testbed.id,
        name=testbed.name,
        kind=testbed.kind,
        config=testbed.config,
        state=testbed.state,
        state_reason=testbed.state_reason,
        has_credentials=testbed.credentials is not None,
        refreshed_at=testbed.refreshed_at,
        created_at=testbed.created_at,
        nodes=nodes,
    )


async def _node_count(session: SessionDep, testbed_id: uuid.UUID) -> int:
    count = await session.execute(select(func.count()).where(Node.testbed_id == testbed_id))
    return int(count.scalar_one())


async def _get(session: SessionDep, testbed_id: uuid.UUID) -> Testbed:
    testbed = await session.get(Testbed, testbed_id)
    if testbed is None:
        raise NotFound(f"no testbed {testbed_id}")
    return testbed


@router.post(
    "",
    status_code=201,
    responses={**responses(Conflict), **TOO_LARGE},
    summary="Add a testbed",
    operation_id="create_testbed",
)
async def create(
    body: Annotated[TestbedCreate, Body(openapi_examples=TESTBED_EXAMPLES)],
    request: Request,
    _admin: AdminDep,
) -> TestbedOut:
    """Add a testbed; its nodes appear once the monitor has refreshed it."""
    if body.kind not in SUPPORTED_KINDS:
        planned = " (not available in this version)" if body.kind in PLANNED_KINDS else ""
        raise Unprocessable.on(
            "kind",
            f"unsupported testbed kind {body.kind!r}{planned}; "
            f"supported: {', '.join(SUPPORTED_KINDS)}",
        )
    config = _checked_config(body)
    testbed = Testbed(
        name=body.name,
        kind=body.kind,
        config=config,
        credentials=secrets.encrypt(body.credentials) if body.credentials else None,
        state="unknown",
    )
    async with UnitOfWork(request) as work:
        work.session.add(testbed)
        try:
            await work.session.flush()  # the INSERT now: a name taken is a 409, not a 503
        except IntegrityError:
            raise Conflict(f"a testbed named {body.name!r} exists") from None
        work.send(("monitor.refresh", str(testbed.id)))
        work.after_commit(request.app.state.candidates.clear)
    return _out(testbed, 0)


@router.get("", summary="List testbeds", operation_id="list_testbeds")
async def list_(session: SessionDep, _admin: AdminDep) -> TestbedList:
    """Every testbed with its node count, by name."""
    grouped = await session.execute(select(Node.testbed_id, func.count()).group_by(Node.testbed_id))
    counts = {row[0]: row[1] for row in grouped}
    rows = (
        await session.execute(select(Testbed).where(Testbed.live()).order_by(Testbed.name))
    ).scalars()
    return TestbedList(items=[_out(row, counts.get(row.id, 0)) for row in rows])


@router.get(
    "/{testbed_id}",
    responses=responses(NotFound),
    summary="A testbed",
    operation_id="get_testbed",
)
async def get(testbed_id: uuid.UUID, session: SessionDep, _admin: AdminDep) -> TestbedOut:
    """The testbed (its credentials are never returned)."""
    testbed = await _get(session, testbed_id)
    return _out(testbed, await _node_count(session, testbed.id))


@router.delete(
    "/{testbed_id}",
    status_code=204,
    responses=responses(NotFound, Conflict),
    summary="Remove a testbed",
    operation_id="delete_testbed",
)
async def delete(testbed_id: uuid.UUID, request: Request, _admin: AdminDep) -> None:
    """Remove a testbed that no unfinished run uses."""
    # A refresh writing the testbed's nodes at the same moment can deadlock with the delete
    # (its DELETE or UPDATE, which _remove flushes); PostgreSQL then aborts one of the two,
    # and the delete is simply tried again. The commit after it takes no row locks.
    async with UnitOfWork(request) as work:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                await _remove(work.session, testbed_id)
                break
            except DBAPIError as error:
                await work.session.rollback()
                if attempt == _ATTEMPTS or not _transient(error):
                    raise
        work.after_commit(request.app.state.candidates.clear)


_ATTEMPTS = 3
_TRANSIENT = {"40P01", "40001"}  # deadlock detected, serialization failure


def _transient(error: DBAPIError) -> bool:
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code in _TRANSIENT


async def _remove(session: AsyncSession, testbed_id: uuid.UUID) -> None:
    testbed = await _get(session, testbed_id)
    busy = await session.execute(
        select(func.count()).where(Run.testbed_id == testbed.id, Run.state.not_in(RUN_TERMINAL))
    )
    if busy.scalar_one():
        raise Conflict(f"testbed {testbed.name!r} has unfinished runs; cancel them first")
    used = await session.execute(select(func.count()).where(Run.testbed_id == testbed.id))
    if used.scalar_one():
        # Finished runs keep their history: the testbed goes offline instead of away.
        testbed.state, testbed.state_reason = "offline", "removed by an admin"
        testbed.name = f"{REMOVED_PREFIX}{testbed.id.hex[:12]}"
        await session.execute(
            update(Node)
            .where(Node.testbed_id == testbed.id)
            .values(state="offline", state_reason="testbed removed")
        )
    else:
        await session.delete(testbed)
    await session.flush()


@router.post(
    "/{testbed_id}/refresh",
    status_code=202,
    responses=responses(NotFound),
    summary="Refresh a testbed's nodes",
    operation_id="refresh_testbed",
)
async def refresh(
    testbed_id: uuid.UUID, request: Request, session: SessionDep, _admin: AdminDep
) -> Accepted:
    """Re-discover the testbed's nodes now."""
    testbed = await _get(session, testbed_id)
    async with UnitOfWork(request) as work:  # writes nothing: sends the task
        work.send(("monitor.refresh", str(testbed.id)))
    return Accepted(state=testbed.state)
