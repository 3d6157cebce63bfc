"""Flux and Argo CD health of release objects as the real kube-apiserver stores them, in every phase we can reach.

The operator (real kopf, the chart's identity) drives releases against the ECS emulator; the objects are read back
from the real API server (defaults, pruning and the operator's status patches applied there) and judged by:
- cli-utils' kstatus Compute (Go), the library Flux's health checks call: the verdicts docs/observability.md
  promises (InProgress while working or not yet observed, Current on success, Failed when stalled);
- the Argo CD health script in gopher-lua (Go) and in lupa: the same answer from both VMs.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.conftest import PLURAL, ReleaseEnv, release_manifest
from tests.integration.test_release import PAUSE_AFTER_TEST
from tests.observability.engines import argocd_health, kstatus
from tests.observability.kstatus import compute
from tests.observability.test_argocd_health import health as lupa_health

pytestmark = pytest.mark.parametrize("k8s_backend", ["apiserver"], indirect=True)

# docs/observability.md, "Flux": the kstatus verdict per release situation
PROMISED = {
    "created": "InProgress", "spec-changed": "InProgress",
    "Pending": "InProgress", "Deploying": "InProgress", "AwaitingApproval": "InProgress", "Baking": "InProgress",
    "RollingBack": "InProgress", "Succeeded": "Current",
    "RolledBack": "Failed", "Failed": "Failed", "Invalid": "Failed",
}
ALWAYS_REACHED = {"created", "spec-changed", "AwaitingApproval", "Baking", "Succeeded", "RolledBack", "Failed",
                  "Invalid"}
TERMINAL = ("Succeeded", "RolledBack", "Failed", "Invalid")


class Recorder:
    """Polls a release on the API server and keeps the first object seen in each phase."""

    def __init__(self, env: ReleaseEnv) -> None:
        self.env = env
        self.seen: dict[str, dict[str, Any]] = {}

    def snapshot(self, label: str, name: str) -> dict[str, Any]:
        obj = self.env.obj(name)
        self.seen.setdefault(label, obj)
        return obj

    def until(self, name: str, predicate, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            obj = self.env.obj(name)
            status = obj.get("status") or {}
            if status.get("phase") and status.get("observedGeneration") == obj["metadata"]["generation"]:
                self.seen.setdefault(status["phase"], obj)
            if predicate(status):
                return status
            time.sleep(0.01)
        raise AssertionError(f"timed out; phases seen: {sorted(self.seen)}")


def _drive_every_phase(env: ReleaseEnv) -> dict[str, dict[str, Any]]:
    record = Recorder(env)
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST,
                               strategy={"type": "BlueGreen", "bakeTimeInMinutes": 120}))
    record.snapshot("created", "web")  # no operator yet: the CRD's status default only
    env.start_operator()
    record.until("web", lambda s: s.get("phase") == "AwaitingApproval")
    env.annotate("web", "approve", "1")
    record.until("web", lambda s: s.get("phase") == "Succeeded")

    env.stop_operators()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST, image="public.ecr.aws/nginx/nginx:1.29",
                               strategy={"type": "BlueGreen", "bakeTimeInMinutes": 120}))
    record.snapshot("spec-changed", "web")  # Succeeded, of the previous generation
    env.start_operator()
    record.until("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "AwaitingApproval")
    env.annotate("web", "reject", "2")
    record.until("web", lambda s: s.get("phase") == "RolledBack")

    # one release per service: a second one for `web` is Invalid; one for a missing cluster is Failed
    env.apply(release_manifest("second", env.namespace))
    record.until("second", lambda s: s.get("phase") in TERMINAL)
    missing = release_manifest("lost", env.namespace)
    missing["spec"]["target"]["cluster"] = "nope"
    env.apply(missing)
    record.until("lost", lambda s: s.get("phase") in TERMINAL)
    return record.seen


def test_flux_and_argocd_health_of_real_objects_in_every_phase(release_env: ReleaseEnv) -> None:
    seen = _drive_every_phase(release_env)
    assert ALWAYS_REACHED <= set(seen), sorted(seen)
    labels, objects = list(seen), list(seen.values())
    for obj in objects:  # stored by the real server: the status default was applied, managedFields are there
        assert obj["metadata"]["managedFields"] and "observedGeneration" in obj["status"]

    flux = {label: verdict["status"] for label, verdict in zip(labels, kstatus(objects), strict=True)}
    assert flux == {label: PROMISED[label] for label in labels}
    assert flux == {label: compute(obj)[0] for label, obj in seen.items()}, "the Python re-implementation agrees"

    argo = argocd_health(objects)
    assert argo == [lupa_health(obj) for obj in objects], "gopher-lua and lupa agree"
    by_label = dict(zip(labels, (a["status"] for a in argo), strict=True))
    assert by_label["Succeeded"] == "Healthy" and by_label["AwaitingApproval"] == "Suspended"
    assert {by_label[p] for p in ("RolledBack", "Failed", "Invalid")} == {"Degraded"}
    assert {by_label[p] for p in ("created", "spec-changed", "Baking")} == {"Progressing"}


def test_kubectl_wait_on_the_conditions_flux_reads(release_env: ReleaseEnv) -> None:
    """`kubectl wait --for=condition=Ready` (the CI gate the README suggests) on the real server."""
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace))
    env.kubectl("wait", "--for=condition=Ready", f"{PLURAL}/web", "-n", env.namespace, "--timeout=60s", timeout=70)
    assert env.status("web")["phase"] == "Succeeded"
