"""The chart upgrades its CRDs on `helm upgrade` with a pre-upgrade hook Job (docs/install.md "Upgrades").

`ecsbg crds-upgrade` itself is tested against the API server in tests/devcluster/test_crds_upgrade.py; here the
hook's objects: what Helm runs, with which CRDs, permissions and pod security.
"""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from tests.delivery.conftest import CHART, ROOT, find, render, render_hooks, the

HOOK = "helm.sh/hook"


def test_the_hook_carries_exactly_the_charts_crds():
    hooks = render_hooks(None)
    config = the(hooks, "ConfigMap")
    chart_crds = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    assert config["data"] == chart_crds
    names = sorted(yaml.safe_load(text)["metadata"]["name"] for text in chart_crds.values())
    role = the(hooks, "ClusterRole")
    named = [r for r in role["rules"] if r.get("resourceNames")]
    assert [sorted(r["resourceNames"]) for r in named] == [names]
    assert {v for r in named for v in r["verbs"]} == {"get", "update"}
    unnamed = [r for r in role["rules"] if not r.get("resourceNames")]
    assert [r["verbs"] for r in unnamed] == [["create"]]  # RBAC cannot name an object before it exists
    assert all(r["resources"] == ["customresourcedefinitions"] for r in role["rules"])


def test_the_job_runs_crds_upgrade_in_the_operators_image_before_the_upgrade():
    hooks = render_hooks(None)
    job = the(hooks, "Job")
    deployment = the(render(None), "Deployment")
    for obj in hooks:
        assert obj["metadata"]["annotations"][HOOK] == "pre-upgrade", obj["kind"]
        assert "hook-succeeded" in obj["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    # RBAC and the ConfigMap exist before the Job starts (lower weight runs first).
    weights = {o["kind"]: int(o["metadata"]["annotations"]["helm.sh/hook-weight"]) for o in hooks}
    assert all(w < weights["Job"] for kind, w in weights.items() if kind != "Job")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    operator = deployment["spec"]["template"]["spec"]
    assert container["image"] == operator["containers"][0]["image"]
    assert container["command"] == ["ecsbg", "crds-upgrade", "/crds"]
    assert container["securityContext"] == operator["containers"][0]["securityContext"]
    assert pod["securityContext"] == operator["securityContext"]
    assert pod["serviceAccountName"] == the(hooks, "ServiceAccount")["metadata"]["name"]
    binding = the(hooks, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == the(hooks, "ClusterRole")["metadata"]["name"]
    volume = {v["name"]: v for v in pod["volumes"]}["crds"]
    assert volume["configMap"]["name"] == the(hooks, "ConfigMap")["metadata"]["name"]


def test_the_hook_objects_are_valid_kubernetes():
    for obj in render_hooks(None):
        kubernetes_validate.validate(obj, "1.32.0", strict=True)


@pytest.mark.parametrize("sets", [("crds.upgradeOnHelmUpgrade=false",)])
def test_the_hook_can_be_turned_off(sets):
    assert render_hooks(None, *sets) == []


def test_plain_manifests_have_no_hook():
    objects = [o for o in yaml.safe_load_all((ROOT / "deploy/manifests/operator.yaml").read_text()) if o]
    assert not find(objects, "Job")
    assert not [o for o in objects if HOOK in (o["metadata"].get("annotations") or {})]
