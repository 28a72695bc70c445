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


def test_concurrent_sends_share_one_lpush_in_order(
    scratch: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = RedisPublisher(URL, timeout=5)
    pushes: list[int] = []
    real = publisher._redis.lpush

    async def counted(queue: str, *values: str) -> int:
        pushes.append(len(values))
        return await real(queue, *values)

    monkeypatch.setattr(publisher._redis, "lpush", counted)

    async def publish() -> list[bool]:
        try:
            first = await publisher.send("deployer.place", "alone")  # idle: goes at once
            rest = await asyncio.gather(
                *(publisher.send("deployer.place", str(n)) for n in range(50))
            )
            return [first, *rest]
        finally:
            await publisher.close()

    assert asyncio.run(publish()) == [True] * 51
    assert pushes[0] == 1 and sum(pushes) == 51 and len(pushes) <= 3
    # LPUSH puts each value at the head; the worker takes from the tail: oldest first.
    bodies = [json.loads(raw)["body"] for raw in reversed(scratch.lrange("deploy", 0, -1))]
    args = [json.loads(base64.b64decode(body))[0][0] for body in bodies]
    assert args == ["alone", *[str(n) for n in range(50)]]


def test_a_refused_batch_is_false_for_each_send() -> None:
    publisher = RedisPublisher("redis://127.0.0.1:1/0", timeout=0.5)

    async def publish() -> list[bool]:
        try:
            return await asyncio.gather(
                *(publisher.send("builder.build", str(n)) for n in range(5))
            )
        finally:
            await publisher.close()

    assert asyncio.run(publish()) == [False] * 5
