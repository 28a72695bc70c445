"""The dashboard's reads, each scoped to the viewer's project as the API scopes them.

Rows of another project are simply not found (the pages answer 404). Nodes and their
accelerators are not project data: every token sees the inventory, as on /api/v1/nodes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.api import service
from services.api.errors import Unprocessable
from services.api.routers.nodes import free_counts
from services.api.web import views
from shared import placement
from shared.db.models import Build, Deployment, Inspection, Node, Run, RunAttempt, Testbed
from shared.states import RUN_TERMINAL

PAGE_SIZE = 25


def _parent_column(model: type[Inspection] | type[Deployment]) -> Any:
    return Run.inspection_id if model is Inspection else Run.deployment_id


async def _by_state(
    session: AsyncSession, column: Any, *where: ColumnElement[bool]
) -> dict[str, int]:
    rows = await session.execute(select(column, func.count()).where(*where).group_by(column))
    return {str(state): int(count) for state, count in rows}


@dataclass
class Overview:
    inspections: dict[str, int]
    deployments: dict[str, int]
    runs: dict[str, int]
    running_by_testbed: list[tuple[str, int]]
    bars: list[views.Bar]


async def overview(session: AsyncSession, project_id: uuid.UUID) -> Overview:
    running = await session.execute(
        select(func.coalesce(Testbed.name, "(none)"), func.count())
        .select_from(Run)
        .outerjoin(Testbed, Run.testbed_id == Testbed.id)
        .where(Run.project_id == project_id, Run.state == "running")
        .group_by(Testbed.name)
        .order_by(Testbed.name)
    )
    return Overview(
        inspections=await _by_state(session, Inspection.state, Inspection.project_id == project_id),
        deployments=await _by_state(session, Deployment.state, Deployment.project_id == project_id),
        runs=await _by_state(session, Run.state, Run.project_id == project_id),
        running_by_testbed=[(name, count) for name, count in running],
        bars=views.gpu_bars([entry for node in await nodes(session) for entry in node.entries]),
    )


@dataclass
class RequestRow:
    item: Inspection | Deployment
    done: int = 0
    total: int = 0
    testbeds: list[str] = field(default_factory=list)


@dataclass
class RequestPage:
    rows: list[RequestRow]
    next_cursor: str | None

    @property
    def live(self) -> bool:
        return any(row.item.state not in ("succeeded", "failed", "cancelled") for row in self.rows)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def requests_page(
    session: AsyncSession,
    model: type[Inspection] | type[Deployment],
    project_id: uuid.UUID,
    *,
    state: str | None,
    text: str | None,
    cursor: str | None,
    limit: int = PAGE_SIZE,
) -> RequestPage:
    """Newest first, keyset-paged on (created_at, id) like the API; `text` matches the
    identifier (a substring, any case) or the whole id."""
    query: Any = select(model).where(model.project_id == project_id)
    if state:
        query = query.where(model.state == state)
    if text:
        matches: ColumnElement[bool] = model.identifier.ilike(_like(text), escape="\\")
        try:
            matches = matches | (model.id == uuid.UUID(text.strip()))
        except ValueError:
            pass
        query = query.where(matches)
    if cursor:
        try:
            created_at, item_id = service.decode_cursor(cursor)
        except Unprocessable:
            pass  # a hand-edited cursor: the first page
        else:
            query = query.where(tuple_(model.created_at, model.id) < tuple_(created_at, item_id))
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    items = list((await session.execute(query)).scalars())
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = service.encode_cursor(items[-1].created_at, items[-1].id)
    rows = {item.id: RequestRow(item) for item in items}
    if rows:
        parent = _parent_column(model)
        counts = await session.execute(
            select(parent, Run.state, func.count())
            .where(parent.in_(rows))
            .group_by(parent, Run.state)
        )
        for item_id, run_state, count in counts:
            rows[item_id].total += count
            rows[item_id].done += count if run_state in RUN_TERMINAL else 0
        places = await session.execute(
            select(parent, Testbed.name)
            .join(Testbed, Run.testbed_id == Testbed.id)
            .where(parent.in_(rows))
            .distinct()
            .order_by(Testbed.name)
        )
        for item_id, name in places:
            rows[item_id].testbeds.append(name)
    return RequestPage(list(rows.values()), next_cursor)


@dataclass
class RunRow:
    run: Run
    testbed: str | None


@dataclass
class Detail:
    item: Inspection | Deployment
    build: Build | None
    runs: list[RunRow]

    @property
    def live(self) -> bool:
        return self.item.state not in ("succeeded", "failed", "cancelled") or any(
            row.run.state not in RUN_TERMINAL for row in self.runs
        )


async def detail(
    session: AsyncSession,
    model: type[Inspection] | type[Deployment],
    project_id: uuid.UUID,
    item_id: uuid.UUID,
) -> Detail | None:
    item: Inspection | Deployment | None = await session.get(model, item_id)
    if item is None or item.project_id != project_id:
        return None
    build = await session.get(Build, item.build_id) if isinstance(item, Inspection) else None
    runs = [RunRow(run, name) for run, name in await service.runs_of(session, item)]
    return Detail(item, build, runs)


@dataclass
class Attempt:
    number: int
    state: str
    state_reason: str | None
    testbed: str | None
    node_name: str | None
    backend_ref: str | None
    placement: dict[str, Any]
    exit_code: int | None
    placed_at: Any
    started_at: Any
    finished_at: Any
    fence_pending: bool = False


@dataclass
class RunDetail:
    run: Run
    testbed: str | None
    parent: Inspection | Deployment | None
    attempts: list[Attempt]

    @property
    def live(self) -> bool:
        return self.run.state not in RUN_TERMINAL


async def run_detail(
    session: AsyncSession, project_id: uuid.UUID, run_id: uuid.UUID
) -> RunDetail | None:
    row = (
        await session.execute(
            select(Run, Testbed.name)
            .outerjoin(Testbed, Run.testbed_id == Testbed.id)
            .where(Run.id == run_id, Run.project_id == project_id)
        )
    ).first()
    if row is None:
        return None
    run, testbed = row[0], row[1]
    parent: Inspection | Deployment | None = None
    if run.inspection_id is not None:
        parent = await session.get(Inspection, run.inspection_id)
    elif run.deployment_id is not None:
        parent = await session.get(Deployment, run.deployment_id)
    rows = await session.execute(
        select(RunAttempt, Testbed.name)
        .outerjoin(Testbed, RunAttempt.testbed_id == Testbed.id)
        .where(RunAttempt.run_id == run.id)
        .order_by(RunAttempt.number)
    )
    attempts = [
        Attempt(
            number=a.number,
            state=a.state,
            state_reason=a.state_reason,
            testbed=name,
            node_name=a.node_name,
            backend_ref=a.backend_ref,
            placement=a.placement or {},
            exit_code=a.exit_code,
            placed_at=a.placed_at,
            started_at=a.started_at,
            finished_at=a.finished_at,
            fence_pending=a.fence_pending,
        )
        for a, name in rows
    ]
    if not attempts and (run.node_name is not None or run.placed_at is not None):
        # No attempt rows yet (runs placed before they were written): the run's own
        # placement is its one attempt.
        attempts.append(
            Attempt(
                number=max(run.attempt, 1),
                state=run.state,
                state_reason=run.state_reason,
                testbed=testbed,
                node_name=run.node_name,
                backend_ref=run.backend_ref,
                placement={},
                exit_code=run.exit_code,
                placed_at=run.placed_at,
                started_at=run.started_at,
                finished_at=run.finished_at,
            )
        )
    return RunDetail(run, testbed, parent, attempts)


@dataclass
class NodeRow:
    node: Node
    testbed: str
    testbed_state: str
    testbed_reason: str | None
    # (model, count, free, usable) per accelerator entry
    entries: list[tuple[str, int, int | None, bool]]
    accelerators: list[dict[str, Any]]

    @property
    def usable(self) -> bool:
        return self.node.state == "online" and self.testbed_state == "online"


async def nodes(session: AsyncSession, model: str | None = None) -> list[NodeRow]:
    """Every node by testbed and name, its accelerators with the free count the API gives
    (placement.free_devices); with `model`, only nodes that have that accelerator model."""
    held = placement.held_by_node(await session.execute(placement.active_requests()))
    rows = await session.execute(
        select(Node, Testbed.name, Testbed.state, Testbed.state_reason)
        .join(Testbed, Node.testbed_id == Testbed.id)
        .where(Testbed.live())
        .order_by(Testbed.name, Node.name)
    )
    found = []
    for node, name, state, reason in rows:
        data = node.inventory or {}
        accelerators = [dict(a) for a in data.get("accelerators", [])]
        if model and not any(str(a.get("model")) == model for a in accelerators):
            continue
        usable = node.state == "online" and state == "online"
        free = free_counts(data, held.get((name, node.name), []), usable)
        entries: list[tuple[str, int, int | None, bool]] = []
        for accelerator, left in zip(accelerators, free, strict=True):
            accelerator["free"] = left
            entries.append(
                (
                    str(accelerator.get("model") or "?"),
                    int(accelerator.get("count") or 0),
                    left,
                    usable,
                )
            )
        found.append(NodeRow(node, name, state, reason, entries, accelerators))
    return found


@dataclass
class TestbedRow:
    testbed: Testbed
    nodes: int


async def testbeds(session: AsyncSession) -> list[TestbedRow]:
    grouped = await session.execute(select(Node.testbed_id, func.count()).group_by(Node.testbed_id))
    counts = {row[0]: int(row[1]) for row in grouped}
    rows = (
        await session.execute(select(Testbed).where(Testbed.live()).order_by(Testbed.name))
    ).scalars()
    return [TestbedRow(row, counts.get(row.id, 0)) for row in rows]
