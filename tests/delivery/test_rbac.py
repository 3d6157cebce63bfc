"""RBAC grants exactly the permissions docs/design.md lists, at the scope `watchNamespaces` asks for."""

from __future__ import annotations

import pytest

from tests.delivery import design
from tests.delivery.conftest import CHART, NAMESPACE, find, render, the

NAMESPACED = CHART / "ci" / "namespaced-values.yaml"


def grants(rules: list[dict]) -> dict[str, set[str]]:
    """Resource -> verbs of a rule list; wildcards are refused outright (least privilege)."""
    found: dict[str, set[str]] = {}
    for rule in rules:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert not rule.get("resourceNames") and not rule.get("nonResourceURLs"), rule
        for resource in rule["resources"]:
            assert rule["apiGroups"] == [design.API_GROUPS[resource]], f"{resource}: {rule['apiGroups']}"
            found.setdefault(resource, set()).update(rule["verbs"])
    return found


def _policy_secrets(obj: dict) -> bool:
    """Roles granted beside the design's release permissions: the policy Secrets (tests/delivery/
    test_policy_chart.py) and the leader-election Lease (tests/delivery/test_render.py)."""
    return obj["metadata"]["name"].endswith(("-policy-secrets", "-leader-election"))


def operator_role(objects: list[dict]) -> dict:
    """The operator's ClusterRole: the one its ClusterRoleBinding names (the chart also has roles for people)."""
    name = the(objects, "ClusterRoleBinding")["roleRef"]["name"]
    (role,) = find(objects, "ClusterRole", name)
    return role


def bound_subject(binding: dict, objects: list[dict]) -> None:
    account = the(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]


def test_cluster_wide_install_grants_exactly_the_design_permissions():
    objects = render(None)
    role = operator_role(objects)
    assert grants(role["rules"]) == design.permissions()
    binding = the(objects, "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    bound_subject(binding, objects)
    assert not [r for r in find(objects, "Role") + find(objects, "RoleBinding") if not _policy_secrets(r)]


def test_watch_namespaces_moves_release_permissions_into_roles():
    objects = render(NAMESPACED)
    wanted = design.permissions()
    cluster_only = {r: v for r, v in wanted.items() if r in design.CLUSTER_SCOPED}
    per_namespace = {r: v for r, v in wanted.items() if r not in design.CLUSTER_SCOPED}
    assert grants(operator_role(objects)["rules"]) == cluster_only
    roles = {r["metadata"]["namespace"]: r for r in find(objects, "Role") if not _policy_secrets(r)}
    bindings = {b["metadata"]["namespace"]: b for b in find(objects, "RoleBinding") if not _policy_secrets(b)}
    assert set(roles) == set(bindings) == {"team-a", "team-b"}
    for namespace, role in roles.items():
        assert grants(role["rules"]) == per_namespace
        assert bindings[namespace]["roleRef"]["name"] == role["metadata"]["name"]
        bound_subject(bindings[namespace], objects)


def test_rbac_create_false_renders_no_rbac():
    objects = render(None, "rbac.create=false")
    assert not [o for o in objects if o["apiVersion"].startswith("rbac.authorization.k8s.io")]


@pytest.mark.parametrize("resource", sorted(design.API_GROUPS))
def test_design_permission_is_granted_somewhere(resource: str):
    """Fails by name when the design adds or changes a permission the chart does not grant."""
    granted = grants(operator_role(render(None))["rules"])
    assert granted.get(resource) == design.permissions()[resource]
