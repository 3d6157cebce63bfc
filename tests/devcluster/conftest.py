"""Shared helpers of the devcluster tests: the test CRD and polling with deadlines (no fixed sleeps)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
WIDGETS_CRD = HERE / "widgets-crd.yaml"
WIDGETS_GV = "test.ecsbg.dev/v1"


def wait_for(predicate, timeout: float = 20, interval: float = 0.05, message: str = "condition"):
    """Poll until predicate() returns a truthy value; fail with the last value after the deadline."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value: {value!r}")


@pytest.fixture(scope="session")
def widgets(dev_cluster):
    """The test CRD, applied with the real kubectl and waited for like on a cluster."""
    from tests.plugins.k8s import run_kubectl

    run_kubectl("apply", "-f", str(WIDGETS_CRD))
    run_kubectl("wait", "--for=condition=Established", "crd/widgets.test.ecsbg.dev", "--timeout=30s")
    return WIDGETS_GV


def widget_yaml(name: str, namespace: str, **spec) -> str:
    import json

    return json.dumps({"apiVersion": WIDGETS_GV, "kind": "Widget",
                       "metadata": {"name": name, "namespace": namespace}, "spec": spec})
