"""Load balancer pre-flight: is production safe to shift before UpdateService starts a deployment?

ECS shifts production by rewriting the weights of the production listener rule's forward action ([doc: Application
Load Balancer resources for blue/green, linear, and canary deployments]). It trusts what it finds there: a rule
that infrastructure-as-code reset, weights left half way, or a blue target group with no healthy target can send
production to nothing. `check` compares what ELBv2 reports with what the last finished deployment must have left
(all production weight on the target group the serving revision resolved to), before anything is written.

Pure: the AWS layer (ecsbg.aws.preflight) reads the rules, target groups and their health into `LoadBalancerView`s.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PreflightMode(enum.Enum):
    """spec.preflight. Off (default): no reads. Warn: findings become a Warning Event, the attempt starts.
    Enforce: any finding refuses the attempt before any write (phase Failed, the finding's reason)."""

    OFF = "Off"
    WARN = "Warn"
    ENFORCE = "Enforce"


@dataclass(frozen=True)
class RuleView:
    """One listener rule (ALB) or listener default action (NLB) as ELBv2 describes it."""

    arn: str
    forwards: tuple[tuple[str, int], ...]  # (target group ARN, weight) of the forward action
    other_actions: tuple[str, ...] = ()  # action types beside forward (redirect, fixed-response, authenticate-*)


@dataclass(frozen=True)
class LoadBalancerView:
    """One entry of the service's loadBalancers with what ELBv2 says about it. `serving_target_group` is the
    target group the serving revision resolved to (DescribeServiceRevisions), None when ECS does not say."""

    target_group_arn: str
    alternate_target_group_arn: str
    production: RuleView | None  # None: the rule (or listener) does not exist
    production_rule_arn: str
    test: RuleView | None = None
    test_rule_arn: str | None = None
    serving_target_group: str | None = None
    missing_target_groups: tuple[str, ...] = ()
    healthy_targets: int = 0  # of the blue (serving) target group


@dataclass(frozen=True)
class Finding:
    """`code` is the condition reason and the refusal's code; `message` says what is wrong and what to do."""

    code: str
    message: str


def blue(view: LoadBalancerView) -> str:
    """The target group production must reach now: the serving revision's, else the service's primary one."""
    return view.serving_target_group or view.target_group_arn


def check(views: tuple[LoadBalancerView, ...], *, settled: bool) -> tuple[Finding, ...]:
    """Every finding for every load balancer entry, in a stable order. `settled`: no ECS deployment is in flight,
    so production weights must be all on blue (a deployment in flight is mid-shift by design)."""
    out: list[Finding] = []
    for view in views:
        out += _target_groups(view) or _production(view, settled) + _health(view)
    return tuple(out)


def _target_groups(view: LoadBalancerView) -> list[Finding]:
    out = [Finding("TargetGroupNotFound", f"target group {arn} does not exist (ELBv2 DescribeTargetGroups); fix "
                   "the service's loadBalancers or spec.loadBalancers") for arn in view.missing_target_groups]
    if view.production is None:
        out.append(Finding("ListenerRuleNotFound", f"production listener rule {view.production_rule_arn} does not "
                           "exist (ELBv2); fix advancedConfiguration.productionListenerRule"))
    return out


def _production(view: LoadBalancerView, settled: bool) -> list[Finding]:
    rule = view.production
    assert rule is not None
    out: list[Finding] = []
    if rule.other_actions:
        # [doc: ALB resources page, Limitations]: blue/green fails on rules that mix forward and other actions
        out.append(Finding("ListenerRuleNotForwardOnly", f"production rule {rule.arn} has {', '.join(rule.other_actions)} "
                           "action(s) beside forward; ECS blue/green needs a rule whose only action is a weighted forward"))
    weights = dict(rule.forwards)
    primary = blue(view)
    if primary not in weights:
        out.append(Finding("ProductionRuleNotForwardingToBlue", f"production rule {rule.arn} forwards to "
                           f"{_describe(rule.forwards)}, not to the serving target group {primary}; production would "
                           "shift away from a target group that serves nothing. Restore the rule (infrastructure as "
                           "code may have reset it) to forward to both target groups with all weight on the serving one"))
        return out
    other = view.alternate_target_group_arn if primary == view.target_group_arn else view.target_group_arn
    test_groups = {arn for arn, _ in view.test.forwards} if view.test is not None else set()
    if other not in weights and other not in test_groups:
        # [doc: ALB resources]: "Both targetGroup and alternateTargetGroup must be associated with the
        # productionListenerRule or testListenerRule", else ECS rolls the deployment back
        out.append(Finding("AlternateTargetGroupNotAssociated", f"target group {other} is on neither the production "
                           f"rule {rule.arn} nor the test rule; ECS would roll the deployment back (invalid networking "
                           "configuration)"))
    shifted = [(arn, w) for arn, w in rule.forwards if arn != primary and w > 0]
    if settled and (shifted or weights[primary] <= 0):
        out.append(Finding("ProductionWeightsNotSettled", f"production rule {rule.arn} weights are "
                           f"{_describe(rule.forwards)}; the last finished deployment left all weight on {primary}. "
                           "Something else changed them (infrastructure as code, a person): restore them before "
                           "deploying"))
    return out


def _health(view: LoadBalancerView) -> list[Finding]:
    if view.healthy_targets > 0:
        return []
    return [Finding("NoHealthyTargets", f"target group {blue(view)} serves production and has no healthy target "
                    "(ELBv2 DescribeTargetHealth); a rollback would have nothing to return to. Fix the running "
                    "service first")]


def _describe(forwards: tuple[tuple[str, int], ...]) -> str:
    if not forwards:
        return "nothing"
    return ", ".join(f"{_short(arn)}={weight}" for arn, weight in forwards)


def _short(arn: str) -> str:
    """targetgroup/web-blue/0123456789abcdef -> web-blue: weights stay readable in a message."""
    parts = arn.split(":")[-1].split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "targetgroup" else arn


def summary(findings: tuple[Finding, ...]) -> str:
    return "; ".join(f"{f.code}: {f.message}" for f in findings)
