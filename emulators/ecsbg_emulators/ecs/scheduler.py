"""Emulated time: one heap of due transitions, advanced by one thread and lazily on every request.

Waits are real seconds divided by `speed`, so a 10-minute bake at speed 2000 takes 0.3 s. All callbacks run
while holding the emulator's single state lock, so the state machine needs no other synchronisation, and
1,000 services with 100 deployments in flight cost one heap, not 100 threads.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, speed: float = 1.0, lock: threading.RLock | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = float(speed)
        self.lock = lock or threading.RLock()
        self._heap: list[tuple[float, int, Callable[[], None] | None]] = []
        self._seq = itertools.count()
        self._wake = threading.Condition(self.lock)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.executed = 0  # transitions run so far (the benchmark reports it)

    # -- time ------------------------------------------------------------------------------------------
    @staticmethod
    def now() -> float:
        """Wall-clock epoch seconds: what timestamps in responses carry."""
        return time.time()

    @staticmethod
    def iso(ts: float | None = None) -> str:
        return datetime.fromtimestamp(ts if ts is not None else time.time(), UTC).isoformat()

    def real_delay(self, emulated_seconds: float) -> float:
        return max(0.0, emulated_seconds) / self.speed

    # -- scheduling ------------------------------------------------------------------------------------
    def call_later(self, emulated_seconds: float, fn: Callable[[], None]) -> list:
        """Run fn (under the lock) after emulated_seconds; returns a handle for cancel()."""
        entry = [time.monotonic() + self.real_delay(emulated_seconds), next(self._seq), fn]
        with self.lock:
            heapq.heappush(self._heap, entry)  # type: ignore[arg-type]
            self._wake.notify()
        return entry

    @staticmethod
    def cancel(handle: list | None) -> None:
        if handle is not None:
            handle[2] = None  # lazily dropped when popped

    def run_due(self) -> int:
        """Run every callback that is due; returns how many ran."""
        ran = 0
        with self.lock:
            while self._heap and self._heap[0][0] <= time.monotonic():
                _, _, fn = heapq.heappop(self._heap)
                if fn is None:
                    continue
                try:
                    fn()
                except Exception:  # one broken transition must not stop every other deployment
                    log.exception("emulator transition failed")
                ran += 1
            self.executed += ran
        return ran

    def pending(self) -> int:
        with self.lock:
            return sum(1 for entry in self._heap if entry[2] is not None)

    # -- background thread -----------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="ecs-emulator-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self.lock:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        with self.lock:
            while not self._stopping:
                self.run_due()
                timeout = self._heap[0][0] - time.monotonic() if self._heap else 1.0
                self._wake.wait(timeout=min(max(timeout, 0.0), 1.0))
