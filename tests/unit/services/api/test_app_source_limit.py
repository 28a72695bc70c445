"""BodyLimit: a source upload has its own, larger limit; every other path keeps the small one."""

from __future__ import annotations

import re

from starlette.responses import JSONResponse
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from services.api.app import BodyLimit
from services.api.routers.applications import SOURCE_PATH


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app that reads the whole body and says its size."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await JSONResponse({"size": size, "path": scope["path"]})(scope, receive, send)


def _client() -> TestClient:
    return TestClient(BodyLimit(_echo, limit=10, larger=(SOURCE_PATH, 100)))


def test_the_source_path_takes_the_larger_limit() -> None:
    client = _client()
    answer = client.put("/api/v1/applications/x/source", content=b"a" * 50)
    assert answer.json()["size"] == 50
    assert client.post("/api/v1/deployments", content=b"a" * 50).status_code == 413


def test_over_the_source_limit_is_413_declared_or_streamed() -> None:
    client = _client()
    declared = client.put("/api/v1/applications/x/source", content=b"a" * 101)
    assert declared.status_code == 413 and declared.json()["error"] == "too_large"
    streamed = client.put("/api/v1/applications/x/source", content=iter([b"a" * 60, b"a" * 60]))
    assert streamed.status_code == 413


def test_the_pattern_is_only_the_source() -> None:
    assert SOURCE_PATH.fullmatch("/api/v1/applications/abc/source")
    assert not SOURCE_PATH.fullmatch("/api/v1/applications/abc/source/x")
    assert isinstance(SOURCE_PATH, re.Pattern)
