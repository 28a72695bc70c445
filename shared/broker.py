"""Sending tasks from async code: straight to Redis when Redis is the broker.

Celery's own `send_task` is synchronous and costs about 2 ms of CPU per message (kombu's
producer machinery); on the API's hot path that was a third of a submit. With a Redis broker
a task message is one LPUSH of a JSON envelope (Celery message protocol 2 inside kombu's
Redis transport format), which this module writes with redis.asyncio. Any other broker goes
through Celery in a thread.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import socket
import uuid
from typing import Protocol

import redis.asyncio
from starlette.concurrency import run_in_threadpool

from shared.celery_app import ROUTES, send
from shared.coalesce import Coalescer
from shared.config import Settings

log = logging.getLogger(__name__)
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def queue_of(name: str) -> str:
    prefix = name.split(".", 1)[0] + ".*"
    return ROUTES.get(prefix, {"queue": "monitor"})["queue"]


def task_message(name: str, args: list[str], origin: str) -> tuple[str, str]:
    """(queue, message) as kombu's Redis transport stores a Celery protocol-2 task."""
    task_id = str(uuid.uuid4())
    queue = queue_of(name)
    body = json.dumps([args, {}, _EMBED]).encode()
    message = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": name,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(args),
            "kwargsrepr": "{}",
            "origin": origin,
            "ignore_result": True,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return queue, json.dumps(message)


class Publisher(Protocol):
    async def send(self, name: str, *args: str) -> bool: ...

    async def close(self) -> None: ...


class RedisPublisher:
    """Task messages to Redis, coalesced (shared/coalesce.py): the messages sent while an
    LPUSH is on its way go together in the next, one LPUSH per queue with many values, one
    at a time so the queue stays first in, first out. Each send returns once its own message
    is in Redis."""

    def __init__(self, url: str, timeout: float) -> None:
        self._redis = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._origin = f"{os.getpid()}@{socket.gethostname()}"
        self._queues: dict[str, Coalescer[str]] = {}

    async def send(self, name: str, *args: str) -> bool:
        queue, message = task_message(name, list(args), self._origin)
        if queue not in self._queues:
            self._queues[queue] = Coalescer[str](functools.partial(self._push, queue), in_flight=1)
        try:
            await self._queues[queue].write(message)
        except Exception:  # any broker failure (logged once per batch): the row is committed
            return False
        return True

    async def _push(self, queue: str, messages: list[str]) -> None:
        try:
            await self._redis.lpush(queue, *messages)
        except Exception as error:
            log.warning("could not send %d task(s) to %s: %s", len(messages), queue, error)
            raise

    async def close(self) -> None:
        for coalescer in self._queues.values():
            await coalescer.drain()
        await self._redis.aclose()


class CeleryPublisher:
    async def send(self, name: str, *args: str) -> bool:
        return await run_in_threadpool(send, name, *args)

    async def close(self) -> None:
        return None


def make_publisher(settings: Settings) -> Publisher:
    url = settings.celery_broker_url
    if url.startswith(("redis://", "rediss://")):
        return RedisPublisher(url, settings.broker_send_timeout_s)
    return CeleryPublisher()
