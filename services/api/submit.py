"""A submit's rows, built once for every database: build, inspection and runs; deployment
and runs.

`inspection_rows` and `deployment_rows` name every NOT NULL column, with the values the
models' defaults would give. The same rows go in through the request's session
(`insert_rows`, one INSERT per table: SQLite, the embedded default) or as the arrays of one
statement on PostgreSQL (services/api/submit_pg.py builds it from the rows' columns), so a
column added here lands in both.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import Build, Deployment, Inspection, Run

BUILDS: Table = Build.__table__  # type: ignore[assignment]
INSPECTIONS: Table = Inspection.__table__  # type: ignore[assignment]
DEPLOYMENTS: Table = Deployment.__table__  # type: ignore[assignment]
RUNS: Table = Run.__table__  # type: ignore[assignment]

Row = dict[str, Any]


class SubmitRows(NamedTuple):
    """One submit's rows by table, parents first; every row of a table has the same keys."""

    kind: str  # "inspection" or "deployment": PostgreSQL coalesces each kind apart
    tables: dict[Table, list[Row]]


def inspection_rows(
    *,
    build_id: uuid.UUID,
    inspection_id: uuid.UUID,
    project_id: uuid.UUID,
    spec_hash: str,
    runtime: str,
    identifier: str | None,
    specification: dict[str, Any],
    testbed_id: uuid.UUID | None,
    batch_size: int,
    at: datetime,
) -> SubmitRows:
    """The build, the inspection and its `batch_size` runs, all `pending`."""
    build = {
        "id": build_id,
        "project_id": project_id,
        "spec_hash": spec_hash,
        "runtime": runtime,
        "state": "pending",
        "cached": False,
        "created_at": at,
        "updated_at": at,
    }
    inspection = {
        "id": inspection_id,
        "project_id": project_id,
        "identifier": identifier,
        "specification": specification,
        "build_id": build_id,
        "testbed_id": testbed_id,
        "batch_size": batch_size,
        "state": "pending",
        "created_at": at,
        "updated_at": at,
    }
    runs = [
        _run(uuid.uuid4(), project_id, index, "pending", at, inspection_id=inspection_id)
        for index in range(batch_size)
    ]
    return SubmitRows("inspection", {BUILDS: [build], INSPECTIONS: [inspection], RUNS: runs})


def deployment_rows(
    *,
    deployment_id: uuid.UUID,
    project_id: uuid.UUID,
    identifier: str | None,
    specification: dict[str, Any],
    testbed_id: uuid.UUID | None,
    run_ids: list[uuid.UUID],
    at: datetime,
) -> SubmitRows:
    """The deployment (`running`) and one `queued` run per id, in order."""
    deployment = {
        "id": deployment_id,
        "project_id": project_id,
        "identifier": identifier,
        "specification": specification,
        "testbed_id": testbed_id,
        "batch_size": len(run_ids),
        "state": "running",
        "created_at": at,
        "updated_at": at,
    }
    runs = [
        _run(run_id, project_id, index, "queued", at, deployment_id=deployment_id)
        for index, run_id in enumerate(run_ids)
    ]
    return SubmitRows("deployment", {DEPLOYMENTS: [deployment], RUNS: runs})


def _run(
    run_id: uuid.UUID,
    project_id: uuid.UUID,
    index: int,
    state: str,
    at: datetime,
    *,
    inspection_id: uuid.UUID | None = None,
    deployment_id: uuid.UUID | None = None,
) -> Row:
    return {
        "id": run_id,
        "project_id": project_id,
        "inspection_id": inspection_id,
        "deployment_id": deployment_id,
        "index": index,
        "state": state,
        "cancel_requested": False,
        "created_at": at,
        "updated_at": at,
    }


async def insert_rows(session: AsyncSession, rows: SubmitRows) -> None:
    """Through a session: Core INSERTs (the ORM's unit of work costs more than the submit)."""
    for table, values in rows.tables.items():
        if values:
            await session.execute(table.insert(), values)
