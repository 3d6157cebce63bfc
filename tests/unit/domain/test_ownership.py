"""We test the one-release-per-service rule: keys normalise ARNs; the oldest claim owns the service."""

from __future__ import annotations

import pytest

from ecsbg.domain.ownership import conflict, target_key


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
