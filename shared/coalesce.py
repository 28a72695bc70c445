"""Coalesced writes, as a database coalesces commits.

Items handed in while `in_flight` writes are on their way wait, and go together in the next
one: idle, an item goes at once; under load, one round trip carries many. `write` returns
once its own item is written, or raises what writing it raised. The submit path uses it for
its PostgreSQL statements (services/api/submit_pg.py) and for its Redis LPUSHes
(shared/broker.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
MAX_BATCH = 200


def _never(_error: Exception) -> bool:
    return False


def _settle(waiter: asyncio.Future[None], error: BaseException | None) -> None:
    if waiter.done():
        return
    if error is None:
        waiter.set_result(None)
        return
    waiter.set_exception(error)
    # Its caller may have gone away: retrieved here, so asyncio does not warn about it.
    waiter.add_done_callback(lambda done: done.exception())


class Coalescer(Generic[Item]):
    """`write_many` writes a batch; `in_flight` 1 keeps batches in the order items came.

    When a batch fails with an error `one_by_one(error)` accepts (an error of one item's
    data, not of the connection), each of its items is written alone, so only the bad one
    fails; any other error fails the whole batch alike.
    """

    def __init__(
        self,
        write_many: Callable[[list[Item]], Awaitable[None]],
        *,
        in_flight: int,
        one_by_one: Callable[[Exception], bool] = _never,
    ) -> None:
        self._write_many = write_many
        self._in_flight = in_flight
        self._one_by_one = one_by_one
        self._waiting: list[tuple[Item, asyncio.Future[None]]] = []
        self._flushers: set[asyncio.Task[None]] = set()
        # Counted in _flush itself, not by the tasks' done callbacks: those run a loop turn
        # after a flusher has stopped looking, and an item written in that turn would wait
        # for a flusher that never comes.
        self._active = 0

    async def write(self, item: Item) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, waiter))
        if self._active < self._in_flight:
            self._active += 1
            flusher = asyncio.ensure_future(self._flush())
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        # Shielded: a caller that goes away does not take the others' write with it.
        await asyncio.shield(waiter)

    async def _flush(self) -> None:
        batch: list[tuple[Item, asyncio.Future[None]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._write(batch)
        except BaseException as error:  # cancelled (the loop is closing): nothing is left hanging
            for _, waiter in batch:
                _settle(waiter, error)
            raise
        finally:
            self._active -= 1

    async def _write(self, batch: list[tuple[Item, asyncio.Future[None]]]) -> None:
        try:
            await self._write_many([item for item, _ in batch])
        except Exception as error:
            if len(batch) == 1 or not self._one_by_one(error):
                for _, waiter in batch:
                    _settle(waiter, error)
                return
            for item, waiter in batch:  # one bad item: find it, write the others
                try:
                    await self._write_many([item])
                except Exception as alone:
                    _settle(waiter, alone)
                else:
                    _settle(waiter, None)
        else:
            for _, waiter in batch:
                _settle(waiter, None)

    async def drain(self) -> None:
        """Wait for the writes under way (at shutdown)."""
        if self._flushers:
            await asyncio.gather(*self._flushers, return_exceptions=True)
