"""Fixtures every test may use: an isolated TESSERA_HOME and settings read afresh."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shared import celery_app
from shared.config import Settings, get_settings


def reset_settings() -> None:
    get_settings.cache_clear()
    celery_app._app = None


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings of the embedded default (SQLite database and broker) in a temporary home."""
    for name in list(os.environ):
        if name.startswith("TESSERA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TESSERA_HOME", str(tmp_path / "home"))
    reset_settings()
    yield get_settings()
    reset_settings()


PG_ADMIN = os.environ.get("TESSERA_TEST_PG", "postgresql://postgres:tessera@127.0.0.1:5432")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database of its own, dropped afterwards."""
    name = f"tessera_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN}/{name}"
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
