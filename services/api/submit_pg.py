"""Submits on PostgreSQL in one statement and one round trip.

A submit writes a build, an inspection (or a deployment) and its runs. Through the ORM
session that is five round trips (BEGIN, three INSERTs, COMMIT), each paying SQLAlchemy's
async machinery: four fifths of a submit's CPU. Here the rows go in as one INSERT with data-
modifying CTEs, a prepared statement on a small asyncpg pool of the API's own; one statement
is atomic without a transaction block. Other databases (SQLite in the embedded default) keep
the session path in services/api/service.py; the rows written are the same.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from shared.db.session import async_url

# Column lists name every NOT NULL column; the values mirror the models' Python defaults.
_INSPECTION = """
WITH build AS (
    INSERT INTO builds (id, project_id, spec_hash, runtime, state, cached, created_at,
                        updated_at)
    VALUES ($1, $2, $3, $4, 'pending', false, $10, $10)
), inspection AS (
    INSERT INTO inspections (id, project_id, identifier, specification, build_id, testbed_id,
                             batch_size, state, created_at, updated_at)
    VALUES ($5, $2, $6, $7::jsonb, $1, $8, $9, 'pending', $10, $10)
)
INSERT INTO runs (id, project_id, inspection_id, index, state, cancel_requested, created_at,
                  updated_at)
SELECT gen_random_uuid(), $2, $5, i, 'pending', false, $10, $10
FROM generate_series(0, $9 - 1) AS i
"""

_DEPLOYMENT = """
WITH deployment AS (
    INSERT INTO deployments (id, project_id, identifier, specification, testbed_id,
                             batch_size, state, created_at, updated_at)
    VALUES ($1, $2, $3, $4::jsonb, $5, $6, 'running', $8, $8)
)
INSERT INTO runs (id, project_id, deployment_id, index, state, cancel_requested, created_at,
                  updated_at)
SELECT run_id, $2, $1, i - 1, 'queued', false, $8, $8
FROM unnest($7::uuid[]) WITH ORDINALITY AS r(run_id, i)
"""

# What a submit may wait for: a connection from the pool, and the statement itself.
_ACQUIRE_TIMEOUT_S = 10.0
_STATEMENT_TIMEOUT_S = 30.0


async def _keep(_connection: asyncpg.Connection) -> None:
    return None


class PgSubmits:
    """The pool and the two statements; made in the API's lifespan when the URL is Postgres."""

    def __init__(self, url: str, *, size: int = 10) -> None:
        self._dsn = async_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)
        self._size = size
        self._pool: asyncpg.Pool | None = None

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

    async def _execute(self, query: str, *args: Any) -> None:
        pool = await self._get_pool()
        # One deadline for the wait for a connection: asyncio.timeout, not acquire(timeout=),
        # which wraps the wait in a task of its own on every submit.
        async with asyncio.timeout(_ACQUIRE_TIMEOUT_S):
            connection = await pool.acquire()
        try:
            await connection.execute(query, *args)
        finally:
            await pool.release(connection)

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
        await self._execute(
            _INSPECTION,
            build_id,
            project_id,
            spec_hash,
            runtime,
            inspection_id,
            identifier,
            json.dumps(specification),
            testbed_id,
            batch_size,
            now,
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
        await self._execute(
            _DEPLOYMENT,
            deployment_id,
            project_id,
            identifier,
            json.dumps(specification),
            testbed_id,
            len(run_ids),
            run_ids,
            now,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


# Errors that mean "the database cannot be reached now": answered 503, like SQLAlchemy's.
UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)
