"""deploy/flux: the Kustomization examples name the CRD's kind, and the CEL variant classifies every phase."""

from __future__ import annotations

import celpy
import pytest
import yaml

from ecsbg.metrics.vocabulary import PHASES
from tests.observability.kstatus import CURRENT, FAILED, IN_PROGRESS
from tests.observability.tools import REPO

FLUX = REPO / "deploy" / "flux"
CRD = yaml.safe_load((REPO / "crds" / "ecsbluegreenreleases.ecsbg.dev.yaml").read_text())
API_VERSIONS = {f"{CRD['spec']['group']}/{v['name']}" for v in CRD["spec"]["versions"] if v["served"]}
CEL_VARIANT = yaml.safe_load((FLUX / "kustomization-approval-as-healthy.yaml").read_text())
(EXPRS,) = CEL_VARIANT["spec"]["healthCheckExprs"]
WANT = {
    "Succeeded": CURRENT,
    "AwaitingApproval": CURRENT,
    "RolledBack": FAILED,
    "Failed": FAILED,
    "Invalid": FAILED,
}


def flux_health(obj: dict) -> str:
    """kustomize-controller's order: its generation check, then inProgress, failed, current (else in progress)."""
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"].get("generation"):
        return IN_PROGRESS
    env = celpy.Environment()
    activation = {key: celpy.json_to_cel(obj.get(key) or {}) for key in ("metadata", "spec", "status")}
    for field, verdict in (("inProgress", IN_PROGRESS), ("failed", FAILED), ("current", CURRENT)):
        if env.program(env.compile(EXPRS[field])).evaluate(activation):
            return verdict
    return IN_PROGRESS


@pytest.mark.parametrize("path", sorted(FLUX.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_check_the_crds_kind(path):
    spec = yaml.safe_load(path.read_text())["spec"]
    checks = spec.get("healthChecks", []) + spec.get("healthCheckExprs", [])
    assert checks
    for check in checks:
        assert check["apiVersion"] in API_VERSIONS and check["kind"] == CRD["spec"]["names"]["kind"]


@pytest.mark.parametrize("phase", PHASES)
def test_the_cel_variant_classifies_every_phase(phase):
    obj = {"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "phase": phase}}
    assert flux_health(obj) == WANT.get(phase, IN_PROGRESS)


def test_the_cel_variant_waits_for_the_operator():
    assert flux_health({"metadata": {"generation": 1}, "status": {"observedGeneration": -1}}) == IN_PROGRESS
    # observed but no phase (never written by the operator, but must not error): no expression matches
    assert flux_health({"metadata": {"generation": 1}, "status": {"observedGeneration": 1}}) == IN_PROGRESS
