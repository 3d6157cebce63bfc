"""Which release loops to wake for an ECS service: the event consumer (ecsbg.aws.events) runs in a thread, the
loops on the operator's event loop, so a wake is handed over with call_soon_threadsafe."""

from __future__ import annotations

import asyncio
import threading

from ecsbg.domain.ecsevents import ServiceKey


class Wakers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[int, ServiceKey] = {}  # id(owner) -> the service its release targets
        self._by_key: dict[ServiceKey, dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def register(self, owner: object, key: ServiceKey | None, wake: asyncio.Event) -> None:
        """(Re)register a release loop under its current target; called on the operator's event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._drop(id(owner))
            if key is not None:
                self._keys[id(owner)] = key
                self._by_key.setdefault(key, {})[id(owner)] = (loop, wake)

    def unregister(self, owner: object) -> None:
        with self._lock:
            self._drop(id(owner))

    def wake(self, key: ServiceKey) -> int:
        """Wake every release loop of the service; how many. Safe from any thread."""
        with self._lock:
            targets = list(self._by_key.get(key, {}).values())
        for loop, event in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)
        return len(targets)

    def _drop(self, owner: int) -> None:
        key = self._keys.pop(owner, None)
        if key is not None:
            entries = self._by_key.get(key, {})
            entries.pop(owner, None)
            if not entries:
                self._by_key.pop(key, None)
