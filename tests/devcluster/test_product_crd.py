"""The product CRD (crds/ecsbluegreenreleases.ecsbg.dev.yaml) under the devcluster's schema enforcement."""

from __future__ import annotations

import json

import kopf
import pytest

from ecsbg_emulators.devcluster.errors import ApiError
from tests.plugins.k8s import REPO_ROOT

from .conftest import wait_for

CRD = REPO_ROOT / "crds" / "ecsbluegreenreleases.ecsbg.dev.yaml"
pytestmark = pytest.mark.skipif(not CRD.exists(), reason="crds/ecsbluegreenreleases.ecsbg.dev.yaml not written yet")
GROUP, VERSION, PLURAL = "ecsbg.dev", "v1alpha1", "ecsbluegreenreleases"
TASK_DEF = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7"


def release(name: str, ns: str, **strategy) -> dict:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "EcsBlueGreenRelease",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"target": {"region": "eu-west-1", "cluster": "prod", "service": "web"},
                     "taskDefinition": {"arn": TASK_DEF}, "strategy": {"type": "BlueGreen", **strategy}}}


def _get(kubectl, ns, name):
    return json.loads(kubectl("get", "ecsrelease", name, "-n", ns, "-o", "json").stdout)


def test_defaults_observed_generation_and_strategy(dev_cluster, kubectl, k8s_namespace):
    kubectl("apply", "-f", "-", input=json.dumps(release("r1", k8s_namespace)))
    obj = _get(kubectl, k8s_namespace, "r1")
    assert obj["status"]["observedGeneration"] == -1
    assert obj["spec"]["strategy"]["bakeTimeInMinutes"] == 10


def test_invalid_spec_refused_with_readable_message(dev_cluster, kubectl, k8s_namespace):
    bad = release("bad", k8s_namespace, type="Foo")
    result = kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert result.returncode != 0
    assert 'spec.strategy.type: Unsupported value: "Foo": supported values: "BlueGreen", "Linear", "Canary"' \
        in result.stderr
    if dev_cluster is not None:  # the apiserver's own text, before kubectl reformats it
        with pytest.raises(ApiError) as caught:
            dev_cluster.apply(bad)
        assert caught.value.code == 422
        # the CRD has CEL rules, so like kube-apiserver the enum error also reports that CEL was not run
        assert caught.value.message == (
            'EcsBlueGreenRelease.ecsbg.dev "bad" is invalid: [spec.strategy.type: Unsupported value: "Foo": '
            'supported values: "BlueGreen", "Linear", "Canary", <nil>: Invalid value: null: some validation '
            "rules were not checked because the object was invalid; correct the existing errors to complete "
            "validation]")


def test_cel_rule_of_product_crd(dev_cluster, kubectl, k8s_namespace):
    both = release("both", k8s_namespace)
    both["spec"]["taskDefinition"]["containers"] = [{"name": "web", "image": "nginx:1.27"}]
    result = kubectl("apply", "-f", "-", input=json.dumps(both), check=False)
    assert result.returncode != 0
    assert "exactly one of taskDefinition.arn, taskDefinition.containers or taskDefinition.template must be set" in result.stderr


@pytest.mark.parametrize("strategy", [
    {"type": "Linear", "linear": {"stepPercent": 25}},
    {"type": "Linear", "linear": {"stepPercent": 3.3}},
    {"type": "Canary", "canary": {"canaryPercent": 5}},
    {"type": "Linear", "linear": {"stepPercent": 3.05}},  # the operator, not the CRD, refuses it (Invalid)
], ids=["25", "3.3", "canary-5", "3.05"])
def test_percentages_are_accepted_whole_or_fractional(dev_cluster, kubectl, k8s_namespace, strategy):
    """The CRD declares no `multipleOf: 0.1`: kube-apiserver then refuses every integral value (`factor MultipleOf
    declared for spec.strategy.linear.stepPercent must be positive: 0`), even the CRD's own default of 10. The
    operator's parser checks the multiple of 0.1 instead (test_validation_before_writes)."""
    body = release("pct", k8s_namespace, **strategy)
    result = kubectl("apply", "-f", "-", input=json.dumps(body), check=False)
    assert result.returncode == 0, result.stderr


def test_unknown_status_field_from_operator_is_pruned(dev_cluster, run_kopf, kubectl, k8s_namespace):
    registry = kopf.OperatorRegistry()

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    def created(patch, meta, **_):
        patch.status["phase"] = "Deploying"
        patch.status["stage"] = "PRE_SCALE_UP"
        patch.status["observedGeneration"] = meta["generation"]
        patch.status["notInTheSchema"] = {"lost": True}

    run_kopf(registry, namespaces=[k8s_namespace])
    kubectl("apply", "-f", "-", input=json.dumps(release("r2", k8s_namespace)))
    kubectl("wait", "--for=jsonpath={.status.phase}=Deploying", "ecsrelease/r2", "-n", k8s_namespace,
            "--timeout=20s")
    status = wait_for(lambda: _get(kubectl, k8s_namespace, "r2")["status"], message="status")
    assert status["observedGeneration"] == 1 and status["stage"] == "PRE_SCALE_UP"
    assert "notInTheSchema" not in status and "created" not in status  # kopf's handler result is pruned too


def test_kubectl_get_ecsreleases_prints_printer_columns(dev_cluster, kubectl, k8s_namespace):
    kubectl("apply", "-f", "-", input=json.dumps(release("r3", k8s_namespace)))
    kubectl("patch", "ecsrelease", "r3", "-n", k8s_namespace, "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"phase": "Baking", "stage": "BAKE_TIME", "revision": "web:7",
                                   "targetRevision": "web:8", "traffic": {"production": 100, "summary": "100%"}}}))
    lines = kubectl("get", "ecsreleases", "-n", k8s_namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "STAGE", "TRAFFIC", "REVISION", "AGE"]
    assert lines[1].split()[:5] == ["r3", "Baking", "BAKE_TIME", "100%", "web:7"]
    wide = kubectl("get", "ecsrelease", "r3", "-n", k8s_namespace, "-o", "wide").stdout.splitlines()
    assert "ATTEMPT" in wide[0].split() and "TARGET" in wide[0].split()
    assert "web:8" in wide[1].split()
