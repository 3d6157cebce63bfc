"""`ecsbg crds-upgrade`, the chart's pre-upgrade hook, against the API server: create, then replace."""

from __future__ import annotations

import copy
import subprocess
import sys

import yaml

from tests.plugins.k8s import KUBECONFIG_PATH, run_kubectl

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.upgrade.ecsbg.dev"},
    "spec": {
        "group": "upgrade.ecsbg.dev", "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
            "type": "object", "properties": {"spec": {"type": "object", "properties": {
                "size": {"type": "integer"}}}}}}}],
    },
}


def upgrade(directory) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecsbg", "crds-upgrade", str(directory),
                           "--kubeconfig", str(KUBECONFIG_PATH)], capture_output=True, text=True, timeout=60,
                          check=False)


def live_fields() -> set[str]:
    live = yaml.safe_load(run_kubectl("get", "crd", CRD["metadata"]["name"], "-o", "yaml").stdout)
    return set(live["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"])


def test_creates_then_replaces_the_crd_and_resources_keep_working(dev_cluster, tmp_path, k8s_namespace):
    (tmp_path / "gadgets.yaml").write_text(yaml.safe_dump(CRD))
    first = upgrade(tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "created gadgets.upgrade.ecsbg.dev"
    assert live_fields() == {"size"}
    run_kubectl("wait", "--for=condition=Established", "crd/gadgets.upgrade.ecsbg.dev", "--timeout=30s")
    gadget = {"apiVersion": "upgrade.ecsbg.dev/v1", "kind": "Gadget",
              "metadata": {"name": "g", "namespace": k8s_namespace}, "spec": {"size": 2, "colour": "red"}}
    refused = run_kubectl("apply", "-f", "-", input=yaml.safe_dump(gadget), check=False)
    assert refused.returncode != 0 and 'unknown field "spec.colour"' in refused.stderr  # the old schema

    newer = copy.deepcopy(CRD)
    newer["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["colour"] = {
        "type": "string"}
    (tmp_path / "gadgets.yaml").write_text(yaml.safe_dump(newer))
    second = upgrade(tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("replaced gadgets.upgrade.ecsbg.dev")
    assert live_fields() == {"size", "colour"}
    run_kubectl("apply", "-f", "-", input=yaml.safe_dump(gadget))
    kept = yaml.safe_load(run_kubectl("get", "gadget", "g", "-n", k8s_namespace, "-o", "yaml").stdout)
    assert kept["spec"] == {"size": 2, "colour": "red"}
    run_kubectl("delete", "crd", "gadgets.upgrade.ecsbg.dev", "--wait=false", check=False)


def test_an_empty_directory_is_an_error(tmp_path):
    result = upgrade(tmp_path)
    assert result.returncode == 2 and "no CustomResourceDefinition" in result.stderr
