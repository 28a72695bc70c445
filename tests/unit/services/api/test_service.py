"""The inventory cache submits read: one database read however many submits wait for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from services.api.service import CandidateCache


class Sessions:
    """Stands in for an async_sessionmaker: counts reads, each taking `delay` seconds."""

    def __init__(self, delay: float = 0.01, fail: bool = False) -> None:
        self.reads = 0
        self.delay = delay
        self.fail = fail

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Sessions]:
        yield self

    async def execute(self, _statement: Any) -> list[Any]:
        self.reads += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("database down")
        return []


def test_concurrent_submits_share_one_read() -> None:
    async def main() -> None:
        sessions = Sessions()
        cache = CandidateCache(ttl=60)
        results = await asyncio.gather(*(cache.get(sessions) for _ in range(32)))  # type: ignore[arg-type]
        assert results == [[]] * 32 and sessions.reads == 1
        await cache.get(sessions)  # type: ignore[arg-type]
        assert sessions.reads == 1, "within the ttl: no read"
        cache.clear()
        await cache.get(sessions)  # type: ignore[arg-type]
        assert sessions.reads == 2

    asyncio.run(main())


def test_a_failed_read_reaches_every_waiter_and_the_next_get_tries_again() -> None:
    async def main() -> None:
        sessions = Sessions(fail=True)
        cache = CandidateCache(ttl=60)
        results = await asyncio.gather(
            *(cache.get(sessions) for _ in range(4)),  # type: ignore[arg-type]
            return_exceptions=True,
        )
        assert all(isinstance(result, ConnectionError) for result in results)
        assert sessions.reads == 1
        sessions.fail = False
        assert await cache.get(sessions) == []  # type: ignore[arg-type]
        assert sessions.reads == 2

    asyncio.run(main())


def test_a_read_begun_before_clear_is_not_kept() -> None:
    async def main() -> None:
        sessions = Sessions(delay=0.05)
        cache = CandidateCache(ttl=60)
        early = asyncio.ensure_future(cache.get(sessions))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        cache.clear()  # a testbed was added while that read was under way
        await early
        await cache.get(sessions)  # type: ignore[arg-type]
        assert sessions.reads == 2

    asyncio.run(main())


def test_a_cancelled_waiter_does_not_cancel_the_read() -> None:
    async def main() -> None:
        sessions = Sessions(delay=0.05)
        cache = CandidateCache(ttl=60)
        first = asyncio.ensure_future(cache.get(sessions))  # type: ignore[arg-type]
        second = asyncio.ensure_future(cache.get(sessions))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        first.cancel()
        assert await second == []
        with pytest.raises(asyncio.CancelledError):
            await first
        assert sessions.reads == 1

    asyncio.run(main())
