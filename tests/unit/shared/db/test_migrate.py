"""One Alembic history that runs on SQLite and Postgres and matches the models."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect

from shared.db.migrate import MIGRATIONS, check, upgrade
from shared.db.models import Base


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
