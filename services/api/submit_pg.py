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

The rows are services/api/submit.py's, the ones other databases (SQLite in the embedded
default) insert through the request's session; the statement is built from their columns.
"""

from __future__ import annotations

import asyncio
import functools
import json
import operator
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql

from services.api.submit import Row, SubmitRows
from shared.coalesce import Coalescer
from shared.db.session import async_url

# What a submit may wait for: a connection from the pool, and the statement itself.
_ACQUIRE_TIMEOUT_S = 10.0
_STATEMENT_TIMEOUT_S = 30.0
IN_FLIGHT = 2  # statements on their way at once: one commits while the next is written
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]  # (SQLAlchemy untyped)

# Errors that mean "the database cannot be reached now": answered 503, like SQLAlchemy's.
UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


# A table's columns, parents first: (table, column names, the parameter each one reads).
Shape = tuple[tuple[Table, tuple[str, ...], tuple[int, ...]], ...]


@functools.cache
def _types(table: Table) -> dict[str, tuple[str, bool]]:
    """Each column's PostgreSQL type, and whether it is JSON (which asyncpg takes as text)."""
    return {
        column.name: (column.type.compile(dialect=_DIALECT), isinstance(column.type, JSON))
        for column in table.c
    }


@functools.cache
def _statement(shape: Shape) -> str:
    """One INSERT per table, each from arrays (`unnest`), the parents' as data-modifying CTEs.

    Foreign keys are checked at the end of the statement, when every CTE has run.
    """
    quote = _DIALECT.identifier_preparer.quote
    inserts = []
    for table, columns, parameters in shape:
        types = _types(table)
        arrays = [
            f"${number}::{types[column][0]}[]"
            for column, number in zip(columns, parameters, strict=True)
        ]
        inserts.append(
            f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "
            f"SELECT * FROM unnest({', '.join(arrays)})"
        )
    *parents, last = inserts
    ctes = ", ".join(f"parent_{index} AS ({insert})" for index, insert in enumerate(parents))
    return f"WITH {ctes} {last}" if ctes else last


def _statement_args(batch: Sequence[SubmitRows]) -> tuple[str, list[list[Any]]]:
    """The statement and its arrays for the rows of all the batch's submits.

    Columns that hold the very same objects, row for row, go as one array: a submit's time
    in each created_at and updated_at, its project in every table, a parent's id in its
    children, a state. asyncpg encodes every element (a timestamp costs about 2 us), and the
    rows name each value once per table.
    """
    tables: dict[Table, list[Row]] = {}
    for submit in batch:
        for table, rows in submit.tables.items():
            if rows:
                tables.setdefault(table, []).extend(rows)
    shape, args = [], []
    seen: dict[tuple[str, tuple[int, ...]], int] = {}  # (type, each value's id) -> parameter
    for table, rows in tables.items():
        types, columns = _types(table), tuple(rows[0])
        getter = operator.itemgetter(*columns)
        parameters = []
        for column, values in zip(columns, zip(*map(getter, rows), strict=True), strict=True):
            key = (types[column][0], tuple(map(id, values)))  # the rows keep the objects alive
            if key not in seen:
                if types[column][1]:
                    values = tuple(None if v is None else json.dumps(v) for v in values)
                args.append(list(values))
                seen[key] = len(args)
            parameters.append(seen[key])
        shape.append((table, columns, tuple(parameters)))
    return _statement(tuple(shape)), args


def _row_error(error: Exception) -> bool:
    """An error of a submit's rows (a testbed deleted meanwhile), not of the database."""
    return isinstance(error, asyncpg.PostgresError) and not isinstance(error, UNAVAILABLE)


async def _keep(_connection: asyncpg.Connection) -> None:
    return None


class PgSubmits:
    """The pool and the coalesced writes; made in the API's lifespan when the URL is Postgres.

    Inspections and deployments each have `IN_FLIGHT` statements on their way at most: the
    pool never needs more connections than that."""

    def __init__(self, url: str, *, size: int = 2 * IN_FLIGHT) -> None:
        self._dsn = async_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)
        self._size = size
        self._pool: asyncpg.Pool | None = None
        self._coalescers = {
            kind: Coalescer[SubmitRows](self._write, in_flight=IN_FLIGHT, one_by_one=_row_error)
            for kind in ("inspection", "deployment")
        }

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

    async def _write(self, batch: list[SubmitRows]) -> None:
        await self._execute(*_statement_args(batch))

    async def write(self, rows: SubmitRows) -> None:
        """Write one submit's rows, together with those of the submits waiting beside it;
        returns once they are committed."""
        await self._coalescers[rows.kind].write(rows)

    async def close(self) -> None:
        for coalescer in self._coalescers.values():
            await coalescer.drain()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
