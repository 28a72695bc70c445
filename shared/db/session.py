"""Engines and sessions: async for the API, sync for the Celery workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
_SYNC_DRIVERS = {"postgresql": "postgresql+psycopg", "sqlite": "sqlite+pysqlite"}


def _driver_url(url: str, drivers: dict[str, str]) -> str:
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"TESSERA_DATABASE_URL: unsupported database {backend!r}")
    return parsed.set(drivername=drivers[backend]).render_as_string(hide_password=False)


def async_url(url: str) -> str:
    return _driver_url(url, _ASYNC_DRIVERS)


def sync_url(url: str) -> str:
    return _driver_url(url, _SYNC_DRIVERS)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; busy_timeout waits instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _engine_options(url: str, process: str, *, is_async: bool) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    if is_async:
        # No pre-ping on the API: it costs three round trips per request. A connection that
        # died is found by its first statement (the request answers 503 and the pool is
        # invalidated), so the API recovers by itself once the database is back.
        return {
            "pool_size": 20,
            "max_overflow": 10,
            "pool_pre_ping": False,
            "pool_timeout": 30,
            "connect_args": {
                "server_settings": {"application_name": f"tessera.{process}"},
                "timeout": 10,
                "command_timeout": 30,
            },
        }
    return {
        "pool_size": 5,
        "max_overflow": 5,
        "pool_pre_ping": True,
        "pool_timeout": 10,
        "connect_args": {"application_name": f"tessera.{process}", "connect_timeout": 10},
    }


def make_async_engine(url: str, process: str = "api") -> AsyncEngine:
    full = async_url(url)
    engine = create_async_engine(full, **_engine_options(full, process, is_async=True))
    if full.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sync_engine(url: str, process: str = "worker") -> Engine:
    full = sync_url(url)
    engine = create_engine(full, **_engine_options(full, process, is_async=False))
    if full.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def async_sessions(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def sync_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error."""
    with factory() as session, session.begin():
        yield session


_process_sessions: dict[tuple[int, str], sessionmaker[Session]] = {}


def process_sessions(database_url: str, process: str = "worker") -> sessionmaker[Session]:
    """Sessions for this worker process; made after fork, never shared with a parent."""
    key = (os.getpid(), database_url)
    if key not in _process_sessions:
        _process_sessions[key] = sync_sessions(make_sync_engine(database_url, process))
    return _process_sessions[key]
