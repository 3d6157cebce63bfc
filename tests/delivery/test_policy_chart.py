"""The chart's EcsReleasePolicy support: policies from values, ECSBG_REQUIRE_POLICY, Secret reads by name only."""

from __future__ import annotations

import jsonschema

from ecsbg.domain.policy import parse_policy
from tests.delivery.conftest import CHART, NAMESPACE, find, render
from tests.delivery.test_rbac import operator_role

POLICY = CHART / "ci" / "policy-values.yaml"


def env(objects: list[dict]) -> dict[str, str]:
    (deployment,) = find(objects, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_require_policy_is_on_by_default_and_can_be_turned_off():
    assert env(render(None))["ECSBG_REQUIRE_POLICY"] == "true"
    assert env(render(None, "policy.requirePolicy=false"))["ECSBG_REQUIRE_POLICY"] == "false"


def test_policies_from_values_are_valid_policies():
    objects = render(POLICY)
    policies = {p["metadata"]["name"]: p for p in find(objects, "EcsReleasePolicy")}
    assert set(policies) == {"team-a", "team-b"}
    assert all("namespace" not in p["metadata"] for p in policies.values())  # cluster-scoped
    parsed = parse_policy(policies["team-a"])
    assert parsed.role.external_id.namespace == "ecsbg-secrets" and parsed.targets.services == ("web", "api-*")
    crd = next(v for v in __import__("yaml").safe_load(
        (CHART / "crds" / "ecsreleasepolicies.ecsbg.dev.yaml").read_text())["spec"]["versions"])
    for policy in policies.values():
        jsonschema.validate(policy["spec"], crd["schema"]["openAPIV3Schema"]["properties"]["spec"])
    assert not find(render(None), "EcsReleasePolicy")


def test_secrets_are_readable_by_name_only_where_policies_keep_them():
    def policy_roles(objects: list[dict], kind: str) -> dict[str, dict]:
        return {r["metadata"]["namespace"]: r for r in find(objects, kind) if r["metadata"]["name"].endswith(
            "-policy-secrets")}

    # cluster-wide: the operator's ClusterRole gets Secrets by name (analysis, policies), never lists or watches
    objects = render(POLICY)
    assert not policy_roles(objects, "Role") and not policy_roles(objects, "RoleBinding")
    secrets = [r for r in operator_role(objects)["rules"] if "secrets" in r["resources"]]
    assert secrets == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    # watched namespaces: a Role in each namespace holding policy Secrets that is not watched, and no ClusterRole
    # rule on Secrets
    objects = render(POLICY, "watchNamespaces={team-a}")
    roles = policy_roles(objects, "Role")
    assert set(roles) == {NAMESPACE, "ecsbg-secrets"}
    for role in roles.values():
        assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    assert set(policy_roles(objects, "RoleBinding")) == set(roles)
    assert all("secrets" not in rule["resources"] for rule in operator_role(objects)["rules"])
    watched = render(POLICY, f"watchNamespaces={{team-a,{NAMESPACE}}}")
    assert set(policy_roles(watched, "Role")) == {"ecsbg-secrets"}  # the watched namespace's Role has the rule
    assert not [r for r in find(render(POLICY, "rbac.create=false", "watchNamespaces={team-a}"), "Role")]


def test_policy_examples_are_valid_policies():
    import yaml

    from tests.delivery.conftest import ROOT
    from tests.delivery.test_examples import to_json_schema

    crd = yaml.safe_load((ROOT / "crds" / "ecsreleasepolicies.ecsbg.dev.yaml").read_text())
    [version] = crd["spec"]["versions"]
    schema = to_json_schema(version["schema"]["openAPIV3Schema"])
    examples = sorted((ROOT / "examples" / "policies").glob("*.yaml"))
    assert examples
    for path in examples:
        body = yaml.safe_load(path.read_text())
        jsonschema.validate(body, schema)
        assert parse_policy(body).role is not None, path.name
