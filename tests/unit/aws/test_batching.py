"""Batcher (coalescing, chunking, shared results and errors) and BoundedCache."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ecsbg.aws.batching import Batcher, BoundedCache


class Recorder:
    def __init__(self, fail: Exception | None = None, gate: threading.Event | None = None) -> None:
        self.batches: list[tuple[str, list[str]]] = []
        self.fail = fail
        self.gate = gate

    def __call__(self, key: str, items):
        self.batches.append((key, list(items)))
        if self.gate is not None:
            assert self.gate.wait(5)
        if self.fail is not None:
            raise self.fail
        return {item: item.upper() for item in items if item != "missing"}


async def test_items_within_the_window_share_chunked_calls():
    fetch = Recorder()
    batcher = Batcher(fetch, chunk=3, window=0.01)
    items = ["a", "b", "c", "d", "a", "missing"]
    results = await asyncio.gather(*(batcher.get("k", i) for i in items))
    assert results == ["A", "B", "C", "D", "A", None]
    assert sorted(len(items) for _, items in fetch.batches) == [2, 3]  # 5 distinct items, chunks of 3
    assert {key for key, _ in fetch.batches} == {"k"}


async def test_keys_are_batched_separately_and_later_calls_open_a_new_batch():
    fetch = Recorder()
    batcher = Batcher(fetch, chunk=10, window=0.01)
    await asyncio.gather(batcher.get("k1", "a"), batcher.get("k2", "a"))
    await batcher.get("k1", "b")
    assert sorted(fetch.batches) == [("k1", ["a"]), ("k1", ["b"]), ("k2", ["a"])]


async def test_an_error_reaches_every_caller_of_the_chunk():
    batcher = Batcher(Recorder(fail=RuntimeError("denied")), chunk=10, window=0.01)
    results = await asyncio.gather(batcher.get("k", "a"), batcher.get("k", "b"), return_exceptions=True)
    assert [str(r) for r in results] == ["denied", "denied"]


async def test_a_cancelled_caller_does_not_cancel_the_shared_result():
    gate = threading.Event()
    fetch = Recorder(gate=gate)
    batcher = Batcher(fetch, chunk=10, window=0.0)
    impatient = asyncio.create_task(batcher.get("k", "a"))
    patient = asyncio.create_task(batcher.get("k", "a"))
    await asyncio.sleep(0.05)
    impatient.cancel()
    gate.set()
    assert await patient == "A"
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert len(fetch.batches) == 1


def test_bounded_cache_is_lru_and_keeps_none_values():
    cache: BoundedCache[str, str | None] = BoundedCache(size=2)
    cache.put("a", None)
    cache.put("b", "B")
    assert cache.lookup("a") == (True, None)  # touch a: b is now the oldest
    cache.put("c", "C")
    assert cache.lookup("b") == (False, None)
    assert cache.lookup("a") == (True, None) and cache.lookup("c") == (True, "C")


def test_bounded_cache_drops_what_nobody_used_for_max_idle_seconds():
    now = [0.0]
    cache: BoundedCache[str, str] = BoundedCache(size=100, max_idle=60.0, clock=lambda: now[0])
    cache.put("old", "O")
    cache.put("used", "U")
    now[0] = 50.0
    assert cache.lookup("used") == (True, "U")  # used at 50: kept until 110
    now[0] = 61.0
    cache.put("new", "N")
    assert len(cache) == 2 and cache.lookup("old") == (False, None)
    now[0] = 111.0
    assert cache.lookup("used") == (False, None) and cache.lookup("new") == (True, "N")
    assert len(cache) == 1


async def test_a_splittable_error_is_retried_item_by_item():
    class OneBad(Recorder):
        def __call__(self, key, items):
            self.batches.append((key, list(items)))
            if "bad" in items:
                raise ValueError("bad item")
            return {i: i.upper() for i in items}

    fetch = OneBad()
    batcher = Batcher(fetch, chunk=10, window=0.01, split=lambda exc: isinstance(exc, ValueError))
    results = await asyncio.gather(*(batcher.get("k", i) for i in ("a", "bad", "c")), return_exceptions=True)
    assert results[0] == "A" and results[2] == "C" and str(results[1]) == "bad item"
    assert len(fetch.batches) == 4
