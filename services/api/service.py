"""Inspections and deployments: accept, scope to the project, cancel. Endpoints stay thin."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.api.deps import Task, UnitOfWork
from services.api.errors import NotFound, Unprocessable
from services.api.submit import SubmitRows, deployment_rows, inspection_rows
from shared import hardware, placement
from shared.db.models import Build, Deployment, Inspection, Run, Testbed, utcnow
from shared.environment import environment_digest
from shared.schemas import HOST_BASE
from shared.specs import DeploymentSpec, InspectionSpec
from shared.states import BUILD_TERMINAL, REQUEST_TERMINAL, RUN_TERMINAL

Parent = TypeVar("Parent", bound=Inspection | Deployment)


@dataclass(frozen=True)
class Created:
    id: uuid.UUID
    state: str
    batch_size: int


class CandidateCache:
    """The online inventory, re-read at most every `ttl` seconds (submits read it each time).

    One read at a time: when the cache expires under load, every submit waiting for it
    shares the one query instead of each making its own.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._value: list[placement.Candidate] = []
        self._expires = 0.0
        self._loading: asyncio.Task[list[placement.Candidate]] | None = None
        self._generation = 0  # bumped by clear(): a read begun before it is not kept

    async def get(self, sessions: async_sessionmaker[AsyncSession]) -> list[placement.Candidate]:
        if time.monotonic() < self._expires:
            return self._value
        loading = self._loading
        if loading is None:
            loading = self._loading = asyncio.ensure_future(self._load(sessions))
            loading.add_done_callback(self._loaded)
        # Shielded: a request that goes away does not cancel the others' read.
        return await asyncio.shield(loading)

    async def _load(self, sessions: async_sessionmaker[AsyncSession]) -> list[placement.Candidate]:
        generation = self._generation
        async with sessions() as session:
            rows = await session.execute(placement.online_nodes())
            value = [placement.candidate(node, name, kind) for node, name, kind in rows]
        if generation == self._generation:
            self._value, self._expires = value, time.monotonic() + self.ttl
        return value

    def _loaded(self, task: asyncio.Task[list[placement.Candidate]]) -> None:
        if self._loading is task:
            self._loading = None
        if not task.cancelled():
            task.exception()  # retrieved: each waiter gets it; none left means no warning

    def clear(self) -> None:
        self._expires = 0.0
        self._generation += 1
        self._loading = None  # a read begun before the change is not shared from here on


Spec = TypeVar("Spec", InspectionSpec, DeploymentSpec)
Create = Callable[
    [uuid.UUID, Spec, list[placement.Candidate]], tuple[Created, SubmitRows, list[Task]]
]


async def accept(
    state: Any, work: UnitOfWork, create: Create[Spec], project_id: uuid.UUID, spec: Spec
) -> Created:
    """A submit: checked against the inventory, its rows and tasks handed to the request's
    unit of work (which writes them in one statement on PostgreSQL, else through its
    session, and sends the tasks once they are committed)."""
    candidates = await state.candidates.get(state.sessions)
    created, rows, tasks = create(project_id, spec, candidates)
    work.submit(rows)
    work.send(*tasks)
    return created


def _check_feasible(
    candidates: list[placement.Candidate],
    spec: hardware.HardwareSpec,
    *,
    testbed: str | None,
    image: str | None,
    spec_field: str,
    slurm: dict[str, str] | None = None,
) -> uuid.UUID | None:
    found = placement.feasible(
        spec, candidates, testbed=testbed, image=image, spec_field=spec_field, slurm=slurm
    )
    if isinstance(found, placement.Unmet):
        raise Unprocessable.on(found.field, found.reason)
    return found[0].testbed_id if testbed is not None else None


def create_inspection(
    project_id: uuid.UUID, spec: InspectionSpec, candidates: list[placement.Candidate]
) -> tuple[Created, SubmitRows, list[Task]]:
    image = None if spec.base == HOST_BASE else spec.base
    field = "run.requests.hardware" if spec.script is not None else "build.requests.hardware"
    requests = (
        spec.run_requests()
        if spec.script is not None
        else ((spec.build.requests if spec.build else None) or spec.run_requests())
    )
    testbed_id = _check_feasible(
        candidates,
        requests.spec(),
        testbed=spec.testbed,
        image=image,
        spec_field=field,
        slurm=requests.slurm_options(),
    )
    build_id, inspection_id = uuid.uuid4(), uuid.uuid4()
    batch_size = spec.batch_size if spec.script else 0
    rows = inspection_rows(
        build_id=build_id,
        inspection_id=inspection_id,
        project_id=project_id,
        spec_hash=environment_digest(spec),
        runtime="native" if image is None else "image",
        identifier=spec.identifier,
        specification=spec.model_dump(mode="json", exclude_none=True),
        testbed_id=testbed_id,
        batch_size=batch_size,
        at=utcnow(),
    )
    created = Created(inspection_id, "pending", batch_size)
    return created, rows, [("builder.build", str(build_id))]


def create_deployment(
    project_id: uuid.UUID, spec: DeploymentSpec, candidates: list[placement.Candidate]
) -> tuple[Created, SubmitRows, list[Task]]:
    testbed_id = _check_feasible(
        candidates,
        spec.run_requests().spec(),
        testbed=spec.testbed,
        image=spec.image,
        spec_field="requests.hardware",
        slurm=spec.run_requests().slurm_options(),
    )
    deployment_id = uuid.uuid4()
    run_ids = [uuid.uuid4() for _ in range(spec.batch_size)]
    rows = deployment_rows(
        deployment_id=deployment_id,
        project_id=project_id,
        identifier=spec.identifier,
        specification=spec.model_dump(mode="json", exclude_none=True),
        testbed_id=testbed_id,
        run_ids=run_ids,
        at=utcnow(),
    )
    created = Created(deployment_id, "running", spec.batch_size)
    return created, rows, [("deployer.place", str(run_id)) for run_id in run_ids]


async def get_owned(
    session: AsyncSession, model: type[Parent], project_id: uuid.UUID, item_id: uuid.UUID
) -> Parent:
    """The row if it belongs to the project; another project's id is simply not found."""
    row = await session.get(model, item_id)
    if row is None or row.project_id != project_id:
        raise NotFound(f"no {model.__tablename__[:-1]} {item_id}")
    return row


def _parent_filter(parent: Inspection | Deployment) -> ColumnElement[bool]:
    if isinstance(parent, Inspection):
        return Run.inspection_id == parent.id
    return Run.deployment_id == parent.id


async def runs_of(
    session: AsyncSession, parent: Inspection | Deployment
) -> list[tuple[Run, str | None]]:
    rows = await session.execute(
        select(Run, Testbed.name)
        .outerjoin(Testbed, Run.testbed_id == Testbed.id)
        .where(_parent_filter(parent))
        .order_by(Run.index)
    )
    return [(run, name) for run, name in rows]


async def run_counts(session: AsyncSession, parent: Inspection | Deployment) -> dict[str, int]:
    rows = await session.execute(
        select(Run.state, func.count()).where(_parent_filter(parent)).group_by(Run.state)
    )
    return {row[0]: row[1] for row in rows}


async def run_at(session: AsyncSession, parent: Inspection | Deployment, index: int) -> Run:
    run = (
        await session.execute(select(Run).where(_parent_filter(parent), Run.index == index))
    ).scalar_one_or_none()
    if run is None:
        raise NotFound(f"no run {index}")
    return run


async def cancel(session: AsyncSession, parent: Inspection | Deployment) -> tuple[int, list[Task]]:
    """Cancel what has not ended: unplaced runs at once, placed ones through the deployer."""
    now = utcnow()
    tasks: list[Task] = []
    unplaced = await session.execute(
        update(Run)
        .where(_parent_filter(parent), Run.state.in_(("pending", "building", "queued")))
        .values(
            state="cancelled",
            cancel_requested=True,
            state_reason="cancelled by request",
            finished_at=now,
            updated_at=now,
        )
        .returning(Run.id)
    )
    count = len(unplaced.all())
    placed = await session.execute(
        update(Run)
        .where(_parent_filter(parent), Run.state.in_(("placed", "running")))
        .values(cancel_requested=True, updated_at=now)
        .returning(Run.id)
    )
    for (run_id,) in placed.all():
        tasks.append(("deployer.cancel", str(run_id)))
        count += 1
    if isinstance(parent, Inspection):
        await session.execute(
            update(Build)
            .where(Build.id == parent.build_id, Build.state == "pending")
            .values(state="cancelled", state_reason="cancelled by request", finished_at=now)
        )
    if parent.state not in REQUEST_TERMINAL:
        remaining = await session.execute(
            select(func.count()).where(_parent_filter(parent), Run.state.not_in(RUN_TERMINAL))
        )
        build_open = False
        if isinstance(parent, Inspection):
            build = await session.get(Build, parent.build_id)
            build_open = build is not None and build.state not in BUILD_TERMINAL
        if remaining.scalar_one() == 0 and not build_open:
            parent.state = "cancelled"
            parent.finished_at = now
        parent.state_reason = "cancelled by request"
    return count, tasks


def encode_cursor(created_at: datetime, item_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, item = raw.partition("|")
        return datetime.fromisoformat(stamp), uuid.UUID(item)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Unprocessable.on("cursor", "not a cursor this API gave out") from None


async def page(
    session: AsyncSession,
    model: type[Parent],
    project_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    state: str | None,
) -> tuple[list[Parent], str | None]:
    """Newest first, keyset-paged on (created_at, id): stable while rows are added."""
    query: Any = select(model).where(model.project_id == project_id)
    if state is not None:
        query = query.where(model.state == state)
    if cursor is not None:
        created_at, item_id = decode_cursor(cursor)
        query = query.where(tuple_(model.created_at, model.id) < tuple_(created_at, item_id))
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id)
    return rows, next_cursor
