"""Liveness of the operator's own machinery: release loops that stopped completing passes, and a Kubernetes
API that has not answered for too long (issue 18 defect 2).

Every Kubernetes call has a timeout, so a pass cannot hang forever by design; this is the net under that: a
loop whose current pass has run longer than `stuck_after` seconds is logged once (naming the release) and
counted (`ecsbg_release_loops_stuck`), and the liveness probe (handlers.probe) fails while any loop is stuck or
the API has been unreachable for longer than `api_unreachable_after`, so the kubelet restarts the pod.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class Health:
    stuck_after: float = 600.0
    api_unreachable_after: float = 300.0
    now: Callable[[], float] = time.monotonic
    _passes: dict[str, float] = field(default_factory=dict)  # "namespace/name" -> start of the running pass
    _reported: set[str] = field(default_factory=set)
    _api_failing_since: float | None = None

    def pass_started(self, release: str) -> None:
        self._passes[release] = self.now()

    def pass_finished(self, release: str) -> None:
        self._passes.pop(release, None)
        if release in self._reported:
            self._reported.discard(release)
            logger.warning("release loop of %s completes passes again", release)

    def api_answered(self) -> None:
        if self._api_failing_since is not None:
            logger.warning("the Kubernetes API answers again after %.0f s", self.now() - self._api_failing_since)
        self._api_failing_since = None

    def api_failed(self) -> None:
        if self._api_failing_since is None:
            self._api_failing_since = self.now()

    def api_unreachable_seconds(self) -> float:
        return 0.0 if self._api_failing_since is None else self.now() - self._api_failing_since

    def stuck(self) -> dict[str, float]:
        now = self.now()
        return {release: now - started for release, started in self._passes.items()
                if now - started >= self.stuck_after}

    def check(self) -> list[str]:
        """What is wrong now (empty: healthy). Logs each newly stuck loop once, naming its release."""
        problems = []
        for release, seconds in sorted(self.stuck().items()):
            if release not in self._reported:
                self._reported.add(release)
                logger.error("release loop of %s is stuck: its pass has run for %.0f s (limit %.0f s)",
                             release, seconds, self.stuck_after)
            problems.append(f"release loop of {release} stuck for {seconds:.0f} s")
        unreachable = self.api_unreachable_seconds()
        if unreachable >= self.api_unreachable_after:
            problems.append(f"Kubernetes API unreachable for {unreachable:.0f} s")
        return problems
