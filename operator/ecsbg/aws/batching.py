"""Request coalescing and a small cache: the building blocks of the shared read path (ecsbg.aws.observer).

Releases ask for one item each (a service name, a deployment ARN); a Batcher collects the items asked for the
same key (account/role/region[/cluster]) during a short window and fetches them with one call per chunk of the
API's limit (DescribeServices 10, DescribeServiceDeployments/Revisions 20: botocore 1.44.5 model docs).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Runs a blocking function (a boto3 call) off the event loop: asyncio.to_thread or a bounded executor.
Runner = Callable[[Callable[[], Any]], Awaitable[Any]]


async def to_thread(fn: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(fn)


class Slots:
    """`async with slots():` lets at most `limit` holders in at once (None: no limit), on whichever event loop runs
    it: an asyncio.Semaphore belongs to the first loop that waits on it, and a process may run one loop after
    another (the tests do), so there is one per loop."""

    def __init__(self, limit: int | None, waiting: Callable[[int], None] = lambda delta: None) -> None:
        """`waiting(+1)` when a caller has to wait for a slot, `waiting(-1)` when it stops waiting."""
        if limit is not None and limit < 1:
            raise ValueError(f"a limit of holders at once must be at least 1, got {limit}")
        self.limit = limit
        self._waiting = waiting
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())

    def __call__(self) -> AbstractAsyncContextManager[Any]:
        if self.limit is None:
            return contextlib.nullcontext()
        loop = asyncio.get_running_loop()
        semaphore = self._per_loop.get(loop)
        if semaphore is None:
            semaphore = self._per_loop[loop] = asyncio.Semaphore(self.limit)
        return self._held(semaphore)

    @contextlib.asynccontextmanager
    async def _held(self, semaphore: asyncio.Semaphore) -> AsyncIterator[None]:
        if semaphore.locked():
            self._waiting(1)
            try:
                await semaphore.acquire()
            finally:
                self._waiting(-1)
        else:
            await semaphore.acquire()
        try:
            yield
        finally:
            semaphore.release()


class _Batch:
    def __init__(self) -> None:
        self.futures: dict[Hashable, asyncio.Future[Any]] = {}


class Batcher(Generic[K]):
    """`await get(key, item)` -> the fetched value for item, or None when the API did not return it.

    `fetch(key, items)` is synchronous (it runs through `run`) and returns {item: value} for the items found;
    an exception it raises (AwsError) is raised to every caller whose item was in that chunk, unless
    `split(exc)` says it may be caused by one item (a malformed name or ARN): then each item of the chunk is
    fetched alone, so one bad release cannot fail its neighbours.
    """

    def __init__(
        self,
        fetch: Callable[[K, Sequence[Any]], Mapping[Any, Any]],
        *,
        chunk: int,
        window: float,
        run: Runner = to_thread,
        split: Callable[[Exception], bool] = lambda exc: False,
    ) -> None:
        self._fetch = fetch
        self._split = split
        self._chunk = chunk
        self._window = window
        self._run = run
        self._open: dict[K, _Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: K, item: Hashable) -> Any:
        loop = asyncio.get_running_loop()
        batch = self._open.get(key)
        if batch is None:
            batch = self._open[key] = _Batch()
            task = loop.create_task(self._flush(key, batch))
            self._tasks.add(task)  # keep a reference: the loop holds tasks weakly
            task.add_done_callback(self._tasks.discard)
        future = batch.futures.get(item)
        if future is None:
            future = batch.futures[item] = loop.create_future()
        # shield: one caller being cancelled must not cancel the value other callers share
        return await asyncio.shield(future)

    async def _flush(self, key: K, batch: _Batch) -> None:
        await asyncio.sleep(self._window)
        if self._open.get(key) is batch:
            del self._open[key]
        items = list(batch.futures)
        chunks = [items[i : i + self._chunk] for i in range(0, len(items), self._chunk)]
        await asyncio.gather(*(self._fetch_chunk(key, chunk, batch) for chunk in chunks))

    async def _fetch_chunk(self, key: K, chunk: list[Hashable], batch: _Batch) -> None:
        try:
            found = await self._run(functools.partial(self._fetch, key, chunk))
        except Exception as exc:  # noqa: BLE001 - handed to every waiter of this chunk, raised there
            if len(chunk) > 1 and self._split(exc):
                await asyncio.gather(*(self._fetch_chunk(key, [item], batch) for item in chunk))
                return
            for item in chunk:
                _settle(batch.futures[item], exception=exc)
            return
        for item in chunk:
            _settle(batch.futures[item], result=found.get(item))


def _settle(future: asyncio.Future[Any], *, result: Any = None, exception: BaseException | None = None) -> None:
    if future.done():
        return
    if exception is not None:
        future.set_exception(exception)
        future.exception()  # mark retrieved: callers that were cancelled must not trigger a loop warning
    else:
        future.set_result(result)


class BoundedCache(Generic[K, V]):
    """Thread-safe LRU for immutable facts (service revisions, a revision's taskdef-hash tag).

    `max_idle` drops entries nobody used for that many seconds: the facts are immutable, but the releases move on
    to new revisions, and an LRU bounded by size alone keeps every past one until it is full. The 30-minute soak
    (bench/soak.py) showed it: RSS rose about 8.5 MiB per 10 minutes while the caches filled with revisions of
    finished attempts, and stayed flat with them bounded. With expiry, memory follows the releases' working set.
    """

    def __init__(self, size: int = 4096, max_idle: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._max_idle = max_idle
        self._clock = clock
        self._data: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def lookup(self, key: K) -> tuple[bool, V | None]:
        """(found, value): a cached value may itself be None (e.g. a revision without the hash tag)."""
        with self._lock:
            now = self._expire()
            if key not in self._data:
                return False, None
            value = self._data[key][0]
            self._data[key] = (value, now)
            self._data.move_to_end(key)
            return True, value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = (value, self._expire())
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def _expire(self) -> float:
        """Drop the least recently used entries while they are idle too long (LRU order = last-use order)."""
        now = self._clock()
        if self._max_idle is not None:
            while self._data:
                oldest = next(iter(self._data.values()))[1]
                if now - oldest <= self._max_idle:
                    break
                self._data.popitem(last=False)
        return now
