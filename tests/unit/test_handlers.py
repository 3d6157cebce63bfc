"""ecsbg.handlers.StatuslessDiffBase: the essence kopf compares and stores is the one kopf's own annotation
storage builds, for bodies with a status, kopf's own annotations, kubectl's, labels and none of these."""

from __future__ import annotations

import copy

import kopf
import pytest

from ecsbg.handlers import StatuslessDiffBase

FULL = {
    "apiVersion": "ecsbg.dev/v1alpha1", "kind": "EcsBlueGreenRelease",
    "metadata": {"name": "web", "namespace": "team-a", "uid": "u-1", "resourceVersion": "42", "generation": 3,
                 "labels": {"app": "web"},
                 "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"spec\": {}}",
                                 "kopf.ecsbg.dev/last-handled-configuration": "{\"spec\": {}}",
                                 "ecsbg.dev/approve": "1"},
                 "finalizers": ["ecsbg.dev/rollback"], "managedFields": [{"manager": "kubectl"}]},
    "spec": {"onDelete": "Rollback", "target": {"cluster": "prod", "service": "web"}},
    "status": {"phase": "Progressing", "history": [{"phase": "Pending"}] * 30},
}


@pytest.mark.parametrize("body", [
    FULL,
    {**FULL, "status": {}},
    {k: v for k, v in FULL.items() if k != "status"},
    {**FULL, "metadata": {"name": "web", "namespace": "team-a"}},
], ids=["everything", "empty-status", "no-status", "bare-metadata"])
def test_the_essence_is_kopfs_own(body):
    ours = StatuslessDiffBase(prefix="kopf.ecsbg.dev", key="last-handled-configuration")
    theirs = kopf.AnnotationsDiffBaseStorage(prefix="kopf.ecsbg.dev", key="last-handled-configuration")
    before = copy.deepcopy(body)
    essence = ours.build(body=kopf.Body(copy.deepcopy(body)))
    assert essence == theirs.build(body=kopf.Body(copy.deepcopy(body)))
    assert "status" not in essence and body == before
    # what kopf then diffs: a status change is no change of the essence
    changed = copy.deepcopy(body)
    changed["status"] = {"phase": "Succeeded"}
    assert ours.build(body=kopf.Body(changed)) == essence
