"""The chart's EcsReleasePolicy support: policies from values, ECSBG_REQUIRE_POLICY, Secret reads by name only."""

from __future__ import annotations

import jsonschema

from ecsbg.domain.policy import parse_policy
from tests.delivery.conftest import CHART, NAMESPACE, find, render

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
    objects = render(POLICY)
    roles = {r["metadata"]["namespace"]: r for r in find(objects, "Role") if r["metadata"]["name"].endswith(
        "-policy-secrets")}
    assert set(roles) == {NAMESPACE, "ecsbg-secrets"}
    for role in roles.values():
        assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    bindings = [b for b in find(objects, "RoleBinding") if b["metadata"]["name"].endswith("-policy-secrets")]
    assert {b["metadata"]["namespace"] for b in bindings} == set(roles)
    (cluster_role,) = find(objects, "ClusterRole")
    assert all("secrets" not in rule["resources"] for rule in cluster_role["rules"])
    assert not [r for r in find(render(None, "rbac.create=false"), "Role")]


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
