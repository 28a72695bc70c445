"""Coalesced writes: many items in one write, each caller answered for its own."""

from __future__ import annotations

import asyncio

import pytest

from shared.coalesce import Coalescer


class BadItem(ValueError):
    pass


class Store:
    """Writes batches after a short wait; an item "bad" fails any batch holding it."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def write_many(self, items: list[str]) -> None:
        await asyncio.sleep(0.01)
        if "bad" in items:
            raise BadItem("bad")
        self.batches.append(items)


def test_items_waiting_go_together_in_order() -> None:
    async def main() -> Store:
        store = Store()
        coalescer = Coalescer[str](store.write_many, in_flight=1)
        await coalescer.write("first")  # idle: goes at once, alone
        await asyncio.gather(*(coalescer.write(str(n)) for n in range(50)))
        return store

    store = asyncio.run(main())
    assert store.batches[0] == ["first"] and len(store.batches) <= 3
    assert [item for batch in store.batches[1:] for item in batch] == [str(n) for n in range(50)]


@pytest.mark.parametrize("one_by_one", [True, False])
def test_a_bad_item_fails_alone_only_when_asked(one_by_one: bool) -> None:
    async def main() -> list[BaseException | None]:
        store = Store()
        coalescer = Coalescer[str](
            store.write_many, in_flight=1, one_by_one=lambda error: one_by_one
        )
        await coalescer.write("first")
        return await asyncio.gather(
            *(coalescer.write(item) for item in ("a", "bad", "b")), return_exceptions=True
        )

    results = asyncio.run(main())
    assert isinstance(results[1], BadItem)
    assert results[0::2] == ([None, None] if one_by_one else [results[1], results[1]])


def test_a_caller_that_goes_away_leaves_its_item_and_the_others() -> None:
    async def main() -> Store:
        store = Store()
        coalescer = Coalescer[str](store.write_many, in_flight=2)
        gone = asyncio.ensure_future(coalescer.write("gone"))
        kept = asyncio.ensure_future(coalescer.write("kept"))
        await asyncio.sleep(0)
        gone.cancel()
        await kept
        await coalescer.drain()
        return store

    store = asyncio.run(main())
    assert sorted(item for batch in store.batches for item in batch) == ["gone", "kept"]
