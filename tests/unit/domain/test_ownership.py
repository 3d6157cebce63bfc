"""We test the one-release-per-service rule: keys normalise ARNs; the oldest claim owns the service."""

from __future__ import annotations

import pytest

from ecsbg.domain.ownership import ServiceOwnedElsewhere, check, claim_account, conflict, target_key


@pytest.mark.parametrize(("target", "key"), [
    ({"region": "us-east-1", "cluster": "demo", "service": "web"}, ("us-east-1", "demo", "web")),
    ({"region": "us-east-1", "cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/demo",
      "service": "arn:aws:ecs:us-east-1:123456789012:service/demo/web"}, ("us-east-1", "demo", "web")),
    ({"region": "us-east-1", "cluster": "demo"}, None),
    ({}, None),
], ids=["names", "arns", "no-service", "empty"])
def test_target_key(target, key):
    assert target_key(target) == key


@pytest.mark.parametrize(("me", "claims", "owner"), [
    ("ns/a", [], None),
    ("ns/a", [("2026-11-22T10:00:00Z", "ns/a")], None),
    ("ns/b", [("2026-11-22T10:00:00Z", "ns/a"), ("2026-11-22T10:05:00Z", "ns/b")], "ns/a"),
    ("ns/a", [("2026-11-22T10:05:00Z", "other/z"), ("2026-11-22T10:00:00Z", "ns/a")], None),
    ("ns/b", [("2026-11-22T10:00:00Z", "ns/b"), ("2026-11-22T10:00:00Z", "ns/a")], "ns/a"),
], ids=["alone-unindexed", "alone", "newer-loses", "older-wins", "tie-by-name"])
def test_the_oldest_claim_owns_the_service(me, claims, owner):
    assert conflict(me, claims) == owner


ROLE_A = "arn:aws:iam::111111111111:role/ecsbg-deployer"
ROLE_B = "arn:aws:iam::222222222222:role/ecsbg-deployer"


@pytest.mark.parametrize(("target", "account"), [
    ({"region": "us-east-1", "cluster": "demo", "service": "web"}, ""),
    ({"region": "us-east-1", "cluster": "demo", "service": "web", "roleArn": ROLE_A}, "111111111111"),
    ({"region": "us-east-1", "cluster": "arn:aws:ecs:us-east-1:333333333333:cluster/demo", "service": "web"},
     "333333333333"),
    ({"region": "us-east-1", "cluster": "demo", "service": "arn:aws:ecs:us-east-1:444444444444:service/demo/web"},
     "444444444444"),
], ids=["names", "role", "cluster-arn", "service-arn"])
def test_the_account_of_a_claim_comes_from_the_role_or_an_arn(target, account):
    assert claim_account(target) == account


@pytest.mark.parametrize(("account", "claims", "owner"), [
    ("111111111111", [("2026-11-22T10:00:00Z", "ns/a", "222222222222"), ("2026-11-22T10:05:00Z", "ns/b", "111111111111")],
     None),
    ("111111111111", [("2026-11-22T10:00:00Z", "ns/a", "111111111111"), ("2026-11-22T10:05:00Z", "ns/b", "111111111111")],
     "ns/a"),
    ("111111111111", [("2026-11-22T10:00:00Z", "ns/a", ""), ("2026-11-22T10:05:00Z", "ns/b", "111111111111")], "ns/a"),
    ("", [("2026-11-22T10:00:00Z", "ns/a", "222222222222"), ("2026-11-22T10:05:00Z", "ns/b", "")], "ns/a"),
], ids=["other-account-is-another-service", "same-account", "unknown-owner-account", "unknown-own-account"])
def test_claims_of_another_account_are_not_a_conflict(account, claims, owner):
    assert conflict("ns/b", claims, account) == owner


def test_same_names_in_two_accounts_are_two_services():
    target_b = {"region": "us-east-1", "cluster": "demo", "service": "web", "roleArn": ROLE_B}
    claims = [("2026-11-22T10:00:00Z", "ns/a", "111111111111"), ("2026-11-22T10:05:00Z", "ns/b", "222222222222")]
    check("ns", "b", target_b, claims)  # no conflict
    with pytest.raises(ServiceOwnedElsewhere, match="account 111111111111, us-east-1 is already released by ns/a"):
        check("ns", "b", {**target_b, "roleArn": ROLE_A}, [(*claims[0],), ("2026-11-22T10:05:00Z", "ns/b", "111111111111")])


def test_aws_owner_values_and_who_is_foreign():
    from ecsbg.domain.ownership import foreign_owner, owner_value

    mine = owner_value("cluster-a", "team", "web")
    assert mine == "cluster-a/team/web" and owner_value("", "team", "web") == ""
    long = owner_value("c" * 100, "n" * 63, "w" * 200)
    assert len(long) == 256 and long != owner_value("c" * 100, "n" * 63, "w" * 199 + "x")
    assert foreign_owner(None, mine, None) is None  # free: the first write claims it
    assert foreign_owner(mine, mine, None) is None
    assert foreign_owner("cluster-b/team/web", mine, None) == "cluster-b/team/web"
    assert foreign_owner("cluster-b/team/web", mine, "cluster-b/team/web") is None  # an explicit takeover
    assert foreign_owner("cluster-b/team/web", mine, "cluster-c/x/y") == "cluster-b/team/web"  # of someone else
    assert foreign_owner("cluster-b/team/web", "", None) is None  # ownership off (no ECSBG_OPERATOR_ID)
