"""domain.preflight: what ELBv2 reports about production, judged before UpdateService (table tests), and what the
Events make of the findings (Warn: the attempt went ahead; Enforce: refused)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ecsbg.domain.actions import ApplyResult
from ecsbg.domain.events import transitions
from ecsbg.domain.model import ReleaseStatus
from ecsbg.domain.observation import AwsProblem
from ecsbg.domain.parsing import InvalidSpec, parse_release
from ecsbg.domain.preflight import Finding, LoadBalancerView, PreflightMode, RuleView, check
from tests.unit.domain import builders as b

BLUE, GREEN, OTHER = (f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-{c}/0123456789abcdef"
                      for c in ("blue", "green", "other"))
PROD = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/1/2/3"
TEST = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/1/4/5"


def view(forwards=((BLUE, 100), (GREEN, 0)), *, serving=None, healthy=2, test=None, others=(), missing=(),
         rule=True) -> LoadBalancerView:
    return LoadBalancerView(
        target_group_arn=BLUE, alternate_target_group_arn=GREEN, production_rule_arn=PROD,
        production=RuleView(PROD, tuple(forwards), tuple(others)) if rule else None,
        test=RuleView(TEST, tuple(test)) if test is not None else None, test_rule_arn=TEST if test else None,
        serving_target_group=serving, healthy_targets=healthy, missing_target_groups=tuple(missing))


CASES = [
    ("steady on blue", view(), True, []),
    ("steady on green after a deployment", view(((BLUE, 0), (GREEN, 100)), serving=GREEN), True, []),
    ("ALB weights are relative: 1/0 is all on blue", view(((BLUE, 1), (GREEN, 0))), True, []),
    ("green only on the test rule", view(((BLUE, 100),), test=((GREEN, 100),)), True, []),
    ("rule reset to another target group", view(((OTHER, 100), (GREEN, 0))), True,
     ["ProductionRuleNotForwardingToBlue"]),
    ("rule forwards to blue while green serves", view(((BLUE, 100),), serving=GREEN), True,
     ["ProductionRuleNotForwardingToBlue"]),
    ("weights half way", view(((BLUE, 50), (GREEN, 50))), True, ["ProductionWeightsNotSettled"]),
    ("weights reset by IaC after a deployment", view(((BLUE, 100), (GREEN, 0)), serving=GREEN), True,
     ["ProductionWeightsNotSettled"]),
    ("half way while ECS deploys: mid-shift by design", view(((BLUE, 50), (GREEN, 50))), False, []),
    ("no healthy target", view(healthy=0), True, ["NoHealthyTargets"]),
    ("green on no rule", view(((BLUE, 100),)), True, ["AlternateTargetGroupNotAssociated"]),
    ("redirect beside forward", view(others=("redirect",)), True, ["ListenerRuleNotForwardOnly"]),
    ("rule missing", view(rule=False), True, ["ListenerRuleNotFound"]),
    ("target group missing", view(missing=(GREEN,)), True, ["TargetGroupNotFound"]),
    ("several at once", view(((BLUE, 50), (GREEN, 50)), healthy=0), True,
     ["ProductionWeightsNotSettled", "NoHealthyTargets"]),
]


@pytest.mark.parametrize(("case", "lb", "settled", "codes"), CASES, ids=[c[0] for c in CASES])
def test_check(case, lb, settled, codes):
    assert [f.code for f in check((lb,), settled=settled)] == codes


def test_findings_name_the_weights_readably():
    (finding,) = check((view(((BLUE, 50), (GREEN, 50))),), settled=True)
    assert "web-blue=50, web-green=50" in finding.message and BLUE in finding.message


def test_spec_preflight_parses_defaults_off_and_is_not_deployed():
    body = b.body()
    assert parse_release(body).preflight is PreflightMode.OFF
    enforced = b.body()
    enforced["spec"]["preflight"] = "Enforce"
    spec = parse_release(enforced)
    assert spec.preflight is PreflightMode.ENFORCE
    assert spec.spec_hash == parse_release(body).spec_hash  # switching it on starts no attempt
    enforced["spec"]["preflight"] = False  # a bare YAML Off
    with pytest.raises(InvalidSpec, match="spec.preflight"):
        parse_release(enforced)


FINDING = Finding("NoHealthyTargets", "target group web-blue has no healthy target")


def test_events_say_refused_or_went_ahead():
    prior = ReleaseStatus()
    refused = ApplyResult(problem=AwsProblem("NoHealthyTargets", "refused", True, "StartDeployment"),
                          preflight=(FINDING,))
    (event,) = [e for e in transitions(prior, prior, None, refused) if e.reason.startswith("Preflight")]
    assert (event.reason, event.type) == ("PreflightFailed", "Warning") and "nothing was written" in event.message
    warned = replace(refused, problem=None, deployment_arn="arn:dep")
    (event,) = [e for e in transitions(prior, prior, None, warned) if e.reason.startswith("Preflight")]
    assert event.reason == "PreflightWarning" and "NoHealthyTargets" in event.message
    assert not [e for e in transitions(prior, prior, None, ApplyResult()) if e.reason.startswith("Preflight")]
