"""The operator embedded in another program: kopf's embedding API in a thread with its own event loop.

Used by `ecsbg demo` and by the tests' `run_kopf` fixture; `ecsbg run` uses kopf.run in the main thread instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any


class OperatorThread:
    """kopf.operator(registry=...) running until stop(). kopf accepts threading.Event as stop and ready flags."""

    def __init__(self, registry: Any, namespaces: Iterable[str], memo: Any = None, settings: Any = None) -> None:
        self.registry = registry
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(list(namespaces), memo, settings),
                                        name="kopf-operator", daemon=True)

    def _run(self, namespaces: list[str], memo: Any, settings: Any) -> None:
        import kopf

        memo = memo if memo is not None else kopf.Memo()
        if getattr(memo, "watched_namespaces", None) is None:  # what ecsbg.releasebook lists at startup
            memo.watched_namespaces = tuple(namespaces)
        try:
            asyncio.run(kopf.operator(registry=self.registry, settings=settings, standalone=True,
                                      namespaces=namespaces, memo=memo, stop_flag=self._stop,
                                      ready_flag=self._ready))
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()

    def start(self, timeout: float = 30) -> OperatorThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"kopf did not become ready within {timeout}s")
        if self._error is not None:
            raise RuntimeError("kopf failed to start") from self._error
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("kopf did not stop in time")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
