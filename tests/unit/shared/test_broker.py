"""The async Redis publisher writes the same message Celery itself would."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from shared.broker import RedisPublisher, queue_of
from shared.celery_app import make_celery
from shared.config import Settings

URL = "redis://127.0.0.1:6379/10"


@pytest.fixture
def scratch() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(URL)
    client.flushdb()
    yield client
    client.flushdb()


def _shape(value: Any) -> Any:
    """Keys and value types, not the values (ids differ)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


@pytest.mark.parametrize(
    ("name", "queue"),
    [("builder.build", "build"), ("deployer.place", "deploy"), ("monitor.refresh", "monitor")],
)
def test_queue_of(name: str, queue: str) -> None:
    assert queue_of(name) == queue


def test_message_matches_celerys_own(scratch: redis.Redis, settings: Settings) -> None:
    make_celery(settings.model_copy(update={"broker_url": URL})).send_task(
        "deployer.place", args=["abc"]
    )
    publisher = RedisPublisher(URL, timeout=5)

    async def publish() -> bool:
        try:
            return await publisher.send("deployer.place", "abc")
        finally:
            await publisher.close()

    assert asyncio.run(publish())
    theirs, ours = (json.loads(raw) for raw in scratch.lrange("deploy", 0, -1))
    ignored = {"ignore_result", "reply_to"}  # Tessera ignores results; no reply queue
    for part in ("headers", "properties"):
        for key in ignored:
            theirs[part].pop(key, None)
            ours[part].pop(key, None)
    assert _shape(ours) == _shape(theirs)
    assert base64.b64decode(ours["body"]) == base64.b64decode(theirs["body"])
    assert ours["headers"]["task"] == "deployer.place"
    assert ours["properties"]["delivery_info"] == theirs["properties"]["delivery_info"]


def test_unreachable_redis_is_false_not_an_error() -> None:
    publisher = RedisPublisher("redis://127.0.0.1:1/0", timeout=0.5)

    async def publish() -> bool:
        try:
            return await publisher.send("builder.build", "x")
        finally:
            await publisher.close()

    assert asyncio.run(publish()) is False
