"""Submits on PostgreSQL: many submits in one statement, one round trip, one commit.

A submit writes a build, an inspection (or a deployment) and its runs. Through the ORM
session that is five round trips (BEGIN, three INSERTs, COMMIT), each paying SQLAlchemy's
async machinery: four fifths of a submit's CPU. Here the rows go in as one INSERT with data-
modifying CTEs over arrays (`unnest`), a prepared statement on a small asyncpg pool of the
API's own; one statement is atomic without a transaction block.

Submits are coalesced, as a database coalesces commits: the ones that arrive while a
statement is on its way are written together by the next, so under load one round trip
and one commit carry many submits, and idle a submit goes at once. Each submit answers only
once its own rows are committed. When a batch fails on its data (a row naming a testbed
deleted meanwhile), each of its submits is written alone, so only the bad one fails.

Other databases (SQLite in the embedded default) keep the session path in
services/api/service.py; the rows written are the same.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from shared.coalesce import Coalescer
from shared.db.session import async_url

# Column lists name every NOT NULL column; the values mirror the models' Python defaults.
_INSPECTIONS = """
WITH submitted AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::uuid[], $9::int[], $10::timestamptz[])
        AS s(build_id, inspection_id, project_id, spec_hash, runtime, identifier,
             specification, testbed_id, batch_size, at)
), build AS (
    INSERT INTO builds (id, project_id, spec_hash, runtime, state, cached, created_at,
                        updated_at)
    SELECT build_id, project_id, spec_hash, runtime, 'pending', false, at, at FROM submitted
), inspection AS (
    INSERT INTO inspections (id, project_id, identifier, specification, build_id, testbed_id,
                             batch_size, state, created_at, updated_at)
    SELECT inspection_id, project_id, identifier, specification::jsonb, build_id, testbed_id,
           batch_size, 'pending', at, at
    FROM submitted
)
INSERT INTO runs (id, project_id, inspection_id, index, state, cancel_requested, created_at,
                  updated_at)
SELECT gen_random_uuid(), project_id, inspection_id, i, 'pending', false, at, at
FROM submitted, generate_series(0, batch_size - 1) AS i
"""

_DEPLOYMENTS = """
WITH deployment AS (
    INSERT INTO deployments (id, project_id, identifier, specification, testbed_id,
                             batch_size, state, created_at, updated_at)
    SELECT id, project_id, identifier, specification::jsonb, testbed_id, batch_size,
           'running', at, at
    FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::int[],
                $7::timestamptz[])
        AS s(id, project_id, identifier, specification, testbed_id, batch_size, at)
)
INSERT INTO runs (id, project_id, deployment_id, index, state, cancel_requested, created_at,
                  updated_at)
SELECT id, project_id, deployment_id, index, 'queued', false, at, at
FROM unnest($8::uuid[], $9::uuid[], $10::uuid[], $11::int[], $12::timestamptz[])
    AS r(id, project_id, deployment_id, index, at)
"""

# What a submit may wait for: a connection from the pool, and the statement itself.
_ACQUIRE_TIMEOUT_S = 10.0
_STATEMENT_TIMEOUT_S = 30.0
IN_FLIGHT = 2  # statements on their way at once: one commits while the next is written

# Errors that mean "the database cannot be reached now": answered 503, like SQLAlchemy's.
UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


class InspectionRows(NamedTuple):
    """One submit's values; its fields are the statement's parameters $1..$10, in order."""

    build_id: uuid.UUID
    inspection_id: uuid.UUID
    project_id: uuid.UUID
    spec_hash: str
    runtime: str
    identifier: str | None
    specification: str  # JSON
    testbed_id: uuid.UUID | None
    batch_size: int
    at: datetime


class DeploymentRows(NamedTuple):
    deployment_id: uuid.UUID
    project_id: uuid.UUID
    identifier: str | None
    specification: str  # JSON
    testbed_id: uuid.UUID | None
    run_ids: tuple[uuid.UUID, ...]
    at: datetime


def _inspection_args(batch: Sequence[InspectionRows]) -> list[list[Any]]:
    return [list(column) for column in zip(*batch, strict=True)]


def _deployment_args(batch: Sequence[DeploymentRows]) -> list[list[Any]]:
    runs = [(row, index, run_id) for row in batch for index, run_id in enumerate(row.run_ids)]
    return [
        [row.deployment_id for row in batch],
        [row.project_id for row in batch],
        [row.identifier for row in batch],
        [row.specification for row in batch],
        [row.testbed_id for row in batch],
        [len(row.run_ids) for row in batch],
        [row.at for row in batch],
        [run_id for _, _, run_id in runs],
        [row.project_id for row, _, _ in runs],
        [row.deployment_id for row, _, _ in runs],
        [index for _, index, _ in runs],
        [row.at for row, _, _ in runs],
    ]


def _row_error(error: Exception) -> bool:
    """An error of a submit's rows (a testbed deleted meanwhile), not of the database."""
    return isinstance(error, asyncpg.PostgresError) and not isinstance(error, UNAVAILABLE)


async def _keep(_connection: asyncpg.Connection) -> None:
    return None


class PgSubmits:
    """The pool and the two statements; made in the API's lifespan when the URL is Postgres.

    Inspections and deployments each have `IN_FLIGHT` statements on their way at most: the
    pool never needs more connections than that."""

    def __init__(self, url: str, *, size: int = 2 * IN_FLIGHT) -> None:
        self._dsn = async_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)
        self._size = size
        self._pool: asyncpg.Pool | None = None
        self._inspections = Coalescer[InspectionRows](
            self._write_inspections, in_flight=IN_FLIGHT, one_by_one=_row_error
        )
        self._deployments = Coalescer[DeploymentRows](
            self._write_deployments, in_flight=IN_FLIGHT, one_by_one=_row_error
        )

    async def _get_pool(self) -> asyncpg.Pool:
        # Made on first use, not at start: the API starts (and answers 503) with the
        # database down, as it does through SQLAlchemy.
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=0,
                max_size=self._size,
                timeout=_ACQUIRE_TIMEOUT_S,
                command_timeout=_STATEMENT_TIMEOUT_S,
                server_settings={"application_name": "tessera.api.submit"},
                # No reset on release: these connections run one INSERT outside any
                # transaction and leave no session state, and asyncpg's reset is a round trip.
                reset=_keep,
            )
        return self._pool

    async def _execute(self, query: str, args: list[list[Any]]) -> None:
        pool = await self._get_pool()
        # One deadline for the wait for a connection: asyncio.timeout, not acquire(timeout=),
        # which wraps the wait in a task of its own.
        async with asyncio.timeout(_ACQUIRE_TIMEOUT_S):
            connection = await pool.acquire()
        try:
            await connection.execute(query, *args)
        finally:
            await pool.release(connection)

    async def _write_inspections(self, batch: list[InspectionRows]) -> None:
        await self._execute(_INSPECTIONS, _inspection_args(batch))

    async def _write_deployments(self, batch: list[DeploymentRows]) -> None:
        await self._execute(_DEPLOYMENTS, _deployment_args(batch))

    async def inspection(
        self,
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
        now: datetime,
    ) -> None:
        await self._inspections.write(
            InspectionRows(
                build_id,
                inspection_id,
                project_id,
                spec_hash,
                runtime,
                identifier,
                json.dumps(specification),
                testbed_id,
                batch_size,
                now,
            )
        )

    async def deployment(
        self,
        *,
        deployment_id: uuid.UUID,
        project_id: uuid.UUID,
        identifier: str | None,
        specification: dict[str, Any],
        testbed_id: uuid.UUID | None,
        run_ids: list[uuid.UUID],
        now: datetime,
    ) -> None:
        await self._deployments.write(
            DeploymentRows(
                deployment_id,
                project_id,
                identifier,
                json.dumps(specification),
                testbed_id,
                tuple(run_ids),
                now,
            )
        )

    async def close(self) -> None:
        await self._inspections.drain()
        await self._deployments.drain()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
