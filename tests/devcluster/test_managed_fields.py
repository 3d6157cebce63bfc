"""metadata.managedFields as the apiserver keeps it for Update operations (the real kubectl drives it)."""

from __future__ import annotations

import json

from .conftest import widget_yaml


def _managed(kubectl, ns: str, name: str) -> dict[tuple[str, str | None], dict]:
    obj = json.loads(kubectl("get", "widget", name, "-n", ns, "-o", "json", "--show-managed-fields").stdout)
    return {(e["manager"], e.get("subresource")): e for e in obj["metadata"]["managedFields"]}


def test_each_manager_owns_what_it_set_and_takes_what_it_changes(widgets, kubectl, k8s_namespace):
    ns = k8s_namespace
    kubectl("apply", "-f", "-", input=widget_yaml("w1", ns, size=1))
    kubectl("annotate", "widget", "w1", "-n", ns, "ecsbg.dev/approve=1")
    kubectl("patch", "widget", "w1", "-n", ns, "--subresource=status", "--type=merge", "-p",
            '{"status": {"phase": "Ready"}}', "--field-manager=the-operator")
    managed = _managed(kubectl, ns, "w1")
    annotate = managed[("kubectl-annotate", None)]
    assert annotate["operation"] == "Update" and annotate["fieldsType"] == "FieldsV1" and annotate["time"]
    assert annotate["fieldsV1"] == {"f:metadata": {"f:annotations": {"f:ecsbg.dev/approve": {}}}}
    assert managed[("the-operator", "status")]["fieldsV1"] == {"f:status": {"f:phase": {}}}
    assert "f:spec" in managed[("kubectl-client-side-apply", None)]["fieldsV1"]

    kubectl("annotate", "widget", "w1", "-n", ns, "ecsbg.dev/approve=2", "--overwrite", "--field-manager=alice")
    managed = _managed(kubectl, ns, "w1")
    assert ("kubectl-annotate", None) not in managed, "its only field was taken, so its entry is gone"
    assert managed[("alice", None)]["fieldsV1"] == {"f:metadata": {"f:annotations": {"f:ecsbg.dev/approve": {}}}}

    before = _managed(kubectl, ns, "w1")
    kubectl("annotate", "widget", "w1", "-n", ns, "ecsbg.dev/approve=2", "--overwrite", "--field-manager=bob")
    assert _managed(kubectl, ns, "w1") == before, "a write that changes nothing moves nothing"
