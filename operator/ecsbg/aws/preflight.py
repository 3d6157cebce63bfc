"""Read what load balancer pre-flight needs from ELBv2 (domain.preflight judges it).

Reads only, with the release's role: DescribeRules (ALB listener rules) or DescribeListeners (an NLB's
productionListenerRule is a listener ARN), DescribeTargetGroups, DescribeTargetHealth. The serving target group
comes from ECS itself: the serving revision's resolvedConfiguration.loadBalancers (DescribeServiceRevisions) names
the target group it registered into, which is where the last finished deployment left production.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecsbg.aws.calls import AwsCalls, AwsError
from ecsbg.aws.translate import RequestBuildError
from ecsbg.domain.preflight import Finding, LoadBalancerView, RuleView, check, summary

NOT_FOUND = frozenset({"RuleNotFound", "ListenerNotFound"})


class PreflightRefused(RequestBuildError):
    """spec.preflight Enforce and at least one finding: the attempt does not start (nothing was written)."""

    def __init__(self, findings: tuple[Finding, ...]) -> None:
        super().__init__(findings[0].code, "load balancer pre-flight refused the attempt: " + summary(findings))
        self.findings = findings


def load_balancers_of(request: Mapping[str, Any], described: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The load balancers the start would leave on the service: the request's, else the service's own."""
    return request.get("loadBalancers", described.get("loadBalancers")) or []


def findings(calls: AwsCalls, elb: AwsCalls, request: Mapping[str, Any], described: Mapping[str, Any],
             settled: bool) -> tuple[Finding, ...]:
    """Everything pre-flight finds for the UpdateService `request` about to be sent to the `described` service
    (the start and `kubectl ecsrelease plan` share it). `settled`: no ECS deployment is in flight."""
    load_balancers = load_balancers_of(request, described)
    if not load_balancers:
        return ()
    serving = serving_revision_arn(described)
    revisions = calls.call("DescribeServiceRevisions", serviceRevisionArns=[serving]).get(
        "serviceRevisions", []) if serving else []
    return check(read_views(elb, load_balancers, revisions, serving), settled=settled)


def read_views(elb: AwsCalls, load_balancers: Sequence[Mapping[str, Any]],
               revisions: Sequence[Mapping[str, Any]], serving_revision: str | None) -> tuple[LoadBalancerView, ...]:
    """One view per loadBalancers entry that has a production listener rule (the entries ECS shifts)."""
    serving = _serving_target_groups(revisions, serving_revision)
    views = []
    for entry in load_balancers:
        advanced = entry.get("advancedConfiguration") or {}
        rule_arn = advanced.get("productionListenerRule")
        if not rule_arn or not entry.get("targetGroupArn"):
            continue
        primary, alternate = entry["targetGroupArn"], advanced.get("alternateTargetGroupArn", "")
        test_arn = advanced.get("testListenerRule")
        blue = serving.get(rule_arn) or primary
        missing = _missing_target_groups(elb, [arn for arn in (primary, alternate) if arn])
        views.append(LoadBalancerView(
            target_group_arn=primary, alternate_target_group_arn=alternate, production_rule_arn=rule_arn,
            production=read_rule(elb, rule_arn), test_rule_arn=test_arn,
            test=read_rule(elb, test_arn) if test_arn else None,
            serving_target_group=serving.get(rule_arn), missing_target_groups=tuple(missing),
            healthy_targets=0 if blue in missing else _healthy(elb, blue)))
    return tuple(views)


def serving_revision_arn(described: Mapping[str, Any]) -> str | None:
    """The revision with the most running tasks: the one production reaches when no deployment is in flight."""
    revisions = described.get("currentServiceRevisions") or []
    best = max(revisions, key=lambda r: r.get("runningTaskCount", 0), default=None)
    return best.get("arn") if best else None


def _serving_target_groups(revisions: Sequence[Mapping[str, Any]], serving: str | None) -> dict[str, str]:
    """production listener rule -> the target group the serving revision registered into."""
    out: dict[str, str] = {}
    for revision in revisions:
        if revision.get("serviceRevisionArn") != serving:
            continue
        for lb in (revision.get("resolvedConfiguration") or {}).get("loadBalancers") or []:
            if lb.get("productionListenerRule") and lb.get("targetGroupArn"):
                out[lb["productionListenerRule"]] = lb["targetGroupArn"]
    return out


def read_rule(elb: AwsCalls, arn: str) -> RuleView | None:
    """An ALB rule's actions, or an NLB listener's default actions; None when ELBv2 says it does not exist."""
    try:
        if ":listener-rule/" in arn:
            found = elb.call("DescribeRules", RuleArns=[arn]).get("Rules", [])
        else:
            listeners = elb.call("DescribeListeners", ListenerArns=[arn]).get("Listeners", [])
            found = [{"Actions": listener.get("DefaultActions", [])} for listener in listeners]
    except AwsError as exc:
        if exc.problem.code in NOT_FOUND:
            return None
        raise
    if not found:
        return None
    return rule_view(arn, found[0].get("Actions") or [])


def rule_view(arn: str, actions: Sequence[Mapping[str, Any]]) -> RuleView:
    forwards: list[tuple[str, int]] = []
    others = []
    for action in actions:
        if action.get("Type") != "forward":
            others.append(str(action.get("Type")))
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            # ELBv2: a target group without Weight in a ForwardConfig counts as weight 1
            forwards += [(g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups]
        elif action.get("TargetGroupArn"):
            forwards.append((action["TargetGroupArn"], 1))
    return RuleView(arn=arn, forwards=tuple(forwards), other_actions=tuple(others))


def _missing_target_groups(elb: AwsCalls, arns: list[str]) -> list[str]:
    try:
        elb.call("DescribeTargetGroups", TargetGroupArns=arns)
        return []
    except AwsError as exc:
        if exc.problem.code != "TargetGroupNotFound":
            raise
    missing = []
    for arn in arns:  # the batch failed on one of them: ask for each to name it
        try:
            elb.call("DescribeTargetGroups", TargetGroupArns=[arn])
        except AwsError as exc:
            if exc.problem.code != "TargetGroupNotFound":
                raise
            missing.append(arn)
    return missing


def _healthy(elb: AwsCalls, target_group: str) -> int:
    described = elb.call("DescribeTargetHealth", TargetGroupArn=target_group).get("TargetHealthDescriptions", [])
    return sum(1 for d in described if (d.get("TargetHealth") or {}).get("State") == "healthy")
