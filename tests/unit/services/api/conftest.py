"""The API in-process on SQLite (the embedded default) and on PostgreSQL, with its tasks
recorded instead of sent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.api.app import create_app
from services.cli.server import _migrate, _register_local, create_token
from shared.config import Settings, get_settings
from shared.db.models import Build, Run, Testbed
from tests.conftest import reset_settings

# What each task's argument names, so a recorded send can look for its row.
_ROW_OF = {
    "builder.build": Build.id,
    "deployer.place": Run.id,
    "deployer.cancel": Run.id,
    "monitor.refresh": Testbed.id,
}


@dataclass
class Recorder:
    """Stands in for the API's publisher: each task sent, and whether its row was visible
    from another session (committed) when it was sent."""

    sessions: async_sessionmaker[AsyncSession]
    sent: list[tuple[str, str, bool]] = field(default_factory=list)

    async def send(self, name: str, *args: str) -> bool:
        column = _ROW_OF[name]
        async with self.sessions() as session:
            found = await session.execute(select(column).where(column == uuid.UUID(args[0])))
        self.sent.append((name, args[0], found.first() is not None))
        return True

    async def close(self) -> None:
        return None


@dataclass
class Api:
    client: TestClient
    settings: Settings
    tasks: Recorder
    tokens: dict[str, str]

    def auth(self, who: str = "alpha") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@contextmanager
def running(
    database: str, monkeypatch: pytest.MonkeyPatch, postgres_url: str = ""
) -> Iterator[Api]:
    """The API on `database` ("sqlite" in the test's home, or "postgres" at postgres_url)."""
    if database == "postgres":
        monkeypatch.setenv("TESSERA_DATABASE_URL", postgres_url)
    else:
        monkeypatch.delenv("TESSERA_DATABASE_URL", raising=False)
    reset_settings()
    settings = get_settings()
    _migrate(settings)
    _register_local(settings)
    tokens = {"alpha": create_token("alpha", admin=False), "admin": create_token("a", admin=True)}
    app = create_app(settings)
    with TestClient(app) as client:
        recorder = Recorder(app.state.sessions)
        app.state.publisher = recorder
        yield Api(client, settings, recorder, tokens)


@pytest.fixture(params=["sqlite", "postgres"])
def stack(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    with running(request.param, monkeypatch, url) as api:
        yield api
