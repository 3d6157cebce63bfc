"""Fixtures of the observability tests.

`metrics_source` is what the real Prometheus scrapes. Today it is a PrometheusRecorder driven through the scripted
release life (release_script.py) behind start_metrics_server; it can be swapped for the operator running an
emulated release, as long as it keeps the same shape: `target` ("host:port" of /metrics) and `run(between)`,
which performs the release and calls `between()` after each step so Prometheus scrapes every step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from ecsbg.metrics.prometheus import PrometheusRecorder
from ecsbg.metrics.server import start_metrics_server
from tests.observability.release_script import steps


@dataclass
class ScriptedMetricsSource:
    recorder: PrometheusRecorder
    target: str

    def run(self, between: Callable[[], None]) -> None:
        between()
        for step in steps():
            step(self.recorder)
            between()


@pytest.fixture(scope="module")
def metrics_source() -> Iterator[ScriptedMetricsSource]:
    recorder = PrometheusRecorder()
    server = start_metrics_server(0, recorder, addr="127.0.0.1")
    try:
        yield ScriptedMetricsSource(recorder, f"127.0.0.1:{server.port}")
    finally:
        server.stop()
