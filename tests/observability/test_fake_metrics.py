"""RecordingMetrics, the MetricsRecorder fake other tests use, records faithfully and refuses what Prometheus would."""

from __future__ import annotations

import pytest

from ecsbg.metrics.recorder import MetricsRecorder
from tests.fakes.metrics import Call, RecordingMetrics
from tests.observability.release_script import FINAL, SECONDS_PER_STEP, drive


def test_it_records_every_call_in_order_and_answers_queries():
    metrics = RecordingMetrics()
    recorder: MetricsRecorder = (
        metrics  # satisfies the protocol (checked by type checkers, used as such here)
    )
    drive(recorder)
    assert metrics.calls[0].method == "release_state"
    assert len(metrics.of("release_finished")) == 3
    assert metrics.of("release_finished", result="rolled_back") == [
        {"strategy": "Canary", "result": "rolled_back", "seconds": 4 * SECONDS_PER_STEP}  # ended in round 5
    ]
    for (namespace, name), (phase, stage) in FINAL.items():
        last = metrics.last_state(namespace, name)
        assert last is not None and (last["phase"], last["stage"]) == (phase, stage)
    assert metrics.last_state("nowhere", "nothing") is None
    assert metrics.sample("ecsbg_releases_finished_total", strategy="BlueGreen", result="succeeded") == 1
    assert metrics.sample("ecsbg_release_info", namespace="tmp", name="gone") is None  # forgotten


def test_a_refused_call_raises_and_is_not_recorded():
    metrics = RecordingMetrics()
    metrics.request(request="approve", result="applied")
    with pytest.raises(ValueError, match="request result"):
        metrics.request(request="approve", result="ok")
    assert metrics.calls == [Call("request", {"request": "approve", "result": "applied"})]
