"""spec_hash and taskdef_hash: stable, requests excluded, insensitive only to orders that mean nothing."""

from __future__ import annotations

import copy

import pytest

from ecsbg.domain.hashing import spec_hash
from ecsbg.domain.parsing import parse_release
from tests.unit.domain import builders as b


def _hash_of(mutate) -> str:
    spec = b.full_spec()
    mutate(spec)
    return parse_release(b.body(spec)).spec_hash


BASE = _hash_of(lambda s: None)


def test_hash_is_16_hex_and_stable():
    assert len(BASE) == 16 and int(BASE, 16) >= 0
    # A known value: the canonical form must not change silently between releases of the operator, or every
    # release would start a new attempt after an upgrade.
    assert spec_hash({"strategy": {"type": "BlueGreen", "bakeTimeInMinutes": 10}}) == spec_hash(
        {"strategy": {"bakeTimeInMinutes": 10.0, "type": "BlueGreen"}})


SAME = [
    ("requests-changed", lambda s: s.update(requests={"approve": 9, "abort": 9})),
    ("requests-removed", lambda s: s.pop("requests")),
    ("key-order", lambda s: s.update(target=dict(reversed(list(s["target"].items()))))),
    ("container-order", lambda s: s["taskDefinition"]["containers"].reverse()),
    ("environment-order", lambda s: s["taskDefinition"]["containers"][0]["environment"].insert(
        0, {"name": "A", "value": "1"}) or s["taskDefinition"]["containers"][0]["environment"].reverse()),
    ("hook-order", lambda s: s["lifecycleHooks"].reverse()),
    ("hook-stage-order", lambda s: s["lifecycleHooks"][0]["stages"].reverse()),
    ("alarm-order", lambda s: s["alarms"]["names"].reverse()),
    ("traffic-rule-order", lambda s: s["serviceConnect"]["testTrafficRules"].reverse()),
    ("integral-float", lambda s: s["strategy"].update(bakeTimeInMinutes=15.0)),
    ("explicit-default-alarm-flags", lambda s: s["alarms"].pop("rollback")),
]
SAME_BASELINE = {"environment-order"}  # compared to its own unreversed variant


@pytest.mark.parametrize("mutate", [row[1] for row in SAME], ids=[row[0] for row in SAME])
def test_changes_that_do_not_deploy_anything_new_keep_the_hash(mutate):
    if mutate is SAME[4][1]:
        expected = _hash_of(lambda s: s["taskDefinition"]["containers"][0]["environment"].insert(
            0, {"name": "A", "value": "1"}))
    else:
        expected = BASE
    assert _hash_of(mutate) == expected


DIFFERENT = [
    ("image", lambda s: s["taskDefinition"]["containers"][0].update(image="repo/web:1.4.3")),
    ("command-order", lambda s: s["taskDefinition"]["containers"][0]["command"].reverse()),
    ("env-value", lambda s: s["taskDefinition"]["containers"][0]["environment"][0].update(value="debug")),
    ("bake-time", lambda s: s["strategy"].update(bakeTimeInMinutes=16)),
    ("step-percent", lambda s: s["strategy"]["linear"].update(stepPercent=12.6)),
    ("hook-timeout", lambda s: s["lifecycleHooks"][0]["timeout"].update(minutes=31)),
    ("hook-details", lambda s: s["lifecycleHooks"][0]["hookDetails"].update(n=[2, 1])),
    ("cluster", lambda s: s["target"].update(cluster="prod2")),
    ("circuit-breaker", lambda s: s["circuitBreaker"].update(rollback=True)),
]


@pytest.mark.parametrize("mutate", [row[1] for row in DIFFERENT], ids=[row[0] for row in DIFFERENT])
def test_deploy_relevant_changes_change_the_hash(mutate):
    assert _hash_of(mutate) != BASE


def test_defaults_hash_like_explicit_values():
    implicit = b.containers_spec(strategy={"type": "Linear"})
    explicit = b.containers_spec(strategy={"type": "Linear", "bakeTimeInMinutes": 10,
                                           "linear": {"stepPercent": 10, "stepBakeTimeInMinutes": 6}})
    assert parse_release(b.body(implicit)).spec_hash == parse_release(b.body(explicit)).spec_hash


def test_spec_hash_does_not_mutate_its_input():
    spec = b.full_spec()
    before = copy.deepcopy(spec)
    spec_hash(spec)
    assert spec == before


def test_drift_policy_is_not_deployed():
    """Changing what to do about drift must not start a deployment."""
    assert spec_hash({**b.full_spec(), "driftPolicy": "Correct"}) == spec_hash(b.full_spec())
