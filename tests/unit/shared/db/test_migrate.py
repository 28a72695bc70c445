"""One Alembic history that runs on SQLite and Postgres and matches the models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect

from shared.db.migrate import MIGRATIONS, check, upgrade
from shared.db.models import Base

PG_ADMIN = os.environ.get("TESSERA_TEST_PG", "postgresql://postgres:tessera@127.0.0.1:5432")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"tessera_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN}/{name}"
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _tables(url: str) -> set[str]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_sqlite_upgrade_and_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    upgrade(url)  # again: nothing to do
    check(url)
    assert set(Base.metadata.tables) <= _tables(url)


def test_postgres_upgrade_and_check(postgres_url: str) -> None:
    upgrade(postgres_url)
    check(postgres_url)
    assert set(Base.metadata.tables) <= _tables(postgres_url)


def test_migration_files_are_date_prefixed() -> None:
    names = [p.name for p in (MIGRATIONS / "versions").glob("*.py")]
    assert names and all(name[:8].isdigit() and name[8] == "_" for name in names)
