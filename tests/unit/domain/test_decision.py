"""The EcsReleasePolicy decision, table-tested: who, where, how, what; no policy; union of several."""

from __future__ import annotations

from typing import Any

import pytest

from ecsbg.domain.decision import ReleaseRequest, Verdict, decide, session_name
from ecsbg.domain.policy import parse_policy

ROLE_A = "arn:aws:iam::111111111111:role/ecsbg/team-a"
ROLE_B = "arn:aws:iam::222222222222:role/ecsbg/team-b"


def policy(name: str, **spec: Any) -> Any:
    return parse_policy({"metadata": {"name": name}, "spec": spec})


TEAM_A = policy("team-a", namespaceSelector={"names": ["team-a"]},
                targets={"accounts": ["111111111111"], "regions": ["eu-*"], "clusters": ["prod"],
                         "services": ["web", "api-*"]},
                role={"arn": ROLE_A, "externalIdSecretRef": {"namespace": "ecsbg-system", "name": "ext-a"}},
                images={"forbiddenTags": ["latest", "stable", "main"],
                        "registries": ["111111111111.dkr.ecr.*.amazonaws.com"]})
TEAM_B = policy("team-b", namespaceSelector={"labelSelector": {"matchLabels": {"team": "b"}}},
                targets={"accounts": ["222222222222"]}, role={"arn": ROLE_B})
ECR_A = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2"


def release(namespace: str = "team-a", **kw: Any) -> ReleaseRequest:
    fields: dict[str, Any] = {"name": "web", "region": "eu-west-1", "cluster": "prod", "service": "web",
                              "images": (ECR_A,)}
    fields.update(kw)
    return ReleaseRequest(namespace=namespace, **fields)


@pytest.mark.parametrize("request_, labels, verdict, reason", [
    # who
    (release(), {}, Verdict.ALLOWED, "PolicyAllows"),
    (release("team-c"), {}, Verdict.REFUSED, "NamespaceNotSelected"),
    (release("team-x", role_arn=ROLE_A), {"team": "b"}, Verdict.REFUSED, "RoleNotAllowed"),
    (release("team-x", region="us-east-1", cluster="any", service="any", images=()), {"team": "b"},
     Verdict.ALLOWED, "PolicyAllows"),
    (release("team-x", images=()), None, Verdict.REFUSED, "NamespaceNotSelected"),  # labels unknown
    # where
    (release(region="us-east-1"), {}, Verdict.REFUSED, "TargetNotAllowed"),
    (release(cluster="staging"), {}, Verdict.REFUSED, "TargetNotAllowed"),
    (release(service="api-orders"), {}, Verdict.ALLOWED, "PolicyAllows"),
    (release(service="arn:aws:ecs:eu-west-1:111111111111:service/prod/api-x"), {}, Verdict.ALLOWED, "PolicyAllows"),
    (release(service="billing"), {}, Verdict.REFUSED, "TargetNotAllowed"),
    # how: the policy's role, or the same role named; another role is refused
    (release(role_arn=ROLE_A), {}, Verdict.ALLOWED, "PolicyAllows"),
    (release(role_arn=ROLE_B), {}, Verdict.REFUSED, "RoleNotAllowed"),
    # what
    (release(images=("111111111111.dkr.ecr.eu-west-1.amazonaws.com/web:stable",)), {}, Verdict.REFUSED,
     "ImageNotAllowed"),
    (release(images=("docker.io/library/nginx:1.27",)), {}, Verdict.REFUSED, "ImageNotAllowed"),
    (release(images=("nginx:1.27",)), {}, Verdict.REFUSED, "ImageNotAllowed"),  # Docker Hub is not listed
    (release(images=(ECR_A.replace(":1.4.2", "@sha256:" + "a" * 64),)), {}, Verdict.ALLOWED, "PolicyAllows"),
])
def test_decision_table(request_, labels, verdict, reason):
    decision = decide(request_, labels, [TEAM_A, TEAM_B], require_policy=True)
    assert (decision.verdict, decision.reason) == (verdict, reason), decision.message


def test_allowed_release_gets_the_policy_role_session_and_secret():
    decision = decide(release(), {}, [TEAM_A, TEAM_B], require_policy=False)
    assert decision.policy == "team-a" and decision.role_arn == ROLE_A
    assert decision.session_name == "ecsbg@team-a.web"
    assert decision.session_tags == (("ecsbg.dev/namespace", "team-a"), ("ecsbg.dev/name", "web"))
    assert (decision.external_id.namespace, decision.external_id.name, decision.external_id.key) == (
        "ecsbg-system", "ext-a", "externalId")
    assert decision.to_status() == {"decision": "Allowed", "reason": "PolicyAllows", "name": "team-a",
                                    "roleArn": ROLE_A, "message": "allowed by EcsReleasePolicy team-a"}


@pytest.mark.parametrize("require, verdict, reason", [
    (False, Verdict.NOT_REQUIRED, "NoPolicy"), (True, Verdict.REFUSED, "NoPolicy")])
def test_no_policy_at_all_is_todays_behaviour_unless_required(require, verdict, reason):
    decision = decide(release(role_arn=ROLE_B), {}, [], require_policy=require)
    assert (decision.verdict, decision.reason) == (verdict, reason)
    assert decision.allowed is (not require)


def test_several_matching_policies_are_a_union_and_the_first_allowing_one_is_used():
    eu = policy("a-eu", namespaceSelector={"names": ["team-a"]}, targets={"regions": ["eu-west-1"]},
                role={"arn": ROLE_A})
    us = policy("b-us", namespaceSelector={"names": ["team-*"]}, targets={"regions": ["us-east-1"]},
                role={"arn": ROLE_B})
    for region, name, role in (("eu-west-1", "a-eu", ROLE_A), ("us-east-1", "b-us", ROLE_B)):
        decision = decide(release(region=region, images=()), {}, [us, eu], require_policy=True)
        assert (decision.verdict, decision.policy, decision.role_arn) == (Verdict.ALLOWED, name, role)
    refused = decide(release(region="ap-south-1", images=()), {}, [us, eu], require_policy=True)
    assert refused.reason == "TargetNotAllowed" and refused.considered == ("a-eu", "b-us")
    assert "a-eu" in refused.message and "b-us" in refused.message


def test_most_specific_reason_wins_across_policies():
    wrong_role = policy("p1", namespaceSelector={}, role={"arn": ROLE_A})
    wrong_region = policy("p2", namespaceSelector={}, targets={"regions": ["us-*"]}, role={"arn": ROLE_B})
    decision = decide(release(role_arn=ROLE_B, images=()), {}, [wrong_role, wrong_region], require_policy=True)
    assert decision.reason == "TargetNotAllowed"  # p2 accepted the role and got further: its reason is more useful


def test_unknown_account_is_refused_by_a_policy_listing_accounts():
    no_role = policy("own", namespaceSelector={}, targets={"accounts": ["111111111111"]})
    decision = decide(release(images=()), {}, [no_role], require_policy=True)
    assert decision.reason == "TargetNotAllowed" and "unknown" in decision.message
    by_arn = release(images=(), cluster="arn:aws:ecs:eu-west-1:111111111111:cluster/prod")
    assert decide(by_arn, {}, [no_role], require_policy=True).verdict is Verdict.ALLOWED


def test_a_release_naming_a_role_is_refused_by_a_policy_without_one():
    own = policy("own", namespaceSelector={})
    assert decide(release(role_arn=ROLE_A, images=()), {}, [own], require_policy=True).reason == "RoleNotAllowed"
    allowed = decide(release(images=()), {}, [own], require_policy=True)
    assert allowed.verdict is Verdict.ALLOWED and allowed.role_arn is None and allowed.session_tags == ()


@pytest.mark.parametrize("expr, labels, selected", [
    ({"key": "env", "operator": "In", "values": ["prod", "stage"]}, {"env": "prod"}, True),
    ({"key": "env", "operator": "In", "values": ["prod"]}, {"env": "dev"}, False),
    ({"key": "env", "operator": "NotIn", "values": ["prod"]}, {}, True),
    ({"key": "env", "operator": "NotIn", "values": ["prod"]}, {"env": "prod"}, False),
    ({"key": "env", "operator": "Exists"}, {"env": ""}, True),
    ({"key": "env", "operator": "DoesNotExist"}, {"env": "x"}, False),
])
def test_label_expressions(expr, labels, selected):
    p = policy("p", namespaceSelector={"labelSelector": {"matchExpressions": [expr]}})
    assert p.namespace_selector.selects("ns", labels) is selected


def test_session_name_fits_sts_limits():
    name = session_name("a" * 40, "b/c" + "d" * 40)
    assert len(name) == 64 and "/" not in name


def test_a_target_arn_in_another_account_than_the_policy_role_is_refused():
    b_cluster = "arn:aws:ecs:eu-west-1:222222222222:cluster/prod"
    decision = decide(release(cluster=b_cluster), {}, [TEAM_A], require_policy=True)
    assert decision.reason == "TargetNotAllowed" and "222222222222" in decision.message
