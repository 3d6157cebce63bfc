"""The operator's metrics about itself: ecsbg_build_info and, in the operator process, process_* metrics."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest
from prometheus_client import generate_latest

import ecsbg
from ecsbg.metrics.prometheus import PrometheusRecorder
from ecsbg.metrics.server import add_process_metrics


def samples(rec: PrometheusRecorder, name: str) -> list:
    return [s for family in rec.registry.collect() for s in family.samples if s.name == name]


def test_build_info_names_the_version_revision_and_python():
    (sample,) = samples(PrometheusRecorder(revision="0123abc"), "ecsbg_build_info")
    assert sample.value == 1
    assert sample.labels == {"version": ecsbg.__version__, "revision": "0123abc",
                             "python_version": platform.python_version()}


def test_build_info_revision_defaults_to_unknown():
    (sample,) = samples(PrometheusRecorder(revision=""), "ecsbg_build_info")
    assert sample.labels["revision"] == "unknown"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ProcessCollector reads /proc")
def test_process_metrics_are_added_by_the_operator_process_only():
    bare = PrometheusRecorder()
    assert not samples(bare, "process_resident_memory_bytes")
    rec = PrometheusRecorder()
    add_process_metrics(rec)
    (rss,) = samples(rec, "process_resident_memory_bytes")
    assert rss.value > 0
    assert samples(rec, "process_cpu_seconds_total") and samples(rec, "process_start_time_seconds")
    assert b"process_open_fds" in generate_latest(rec.registry)


def test_the_image_passes_its_revision_to_the_operator():
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    assert 'ECSBG_REVISION="${REVISION}"' in dockerfile
