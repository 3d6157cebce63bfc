"""The listener rules ECS rewrites while it shifts traffic, written to a real ELBv2 endpoint (moto's server).

"Amazon ECS automatically updates the listener rules" of `productionListenerRule` and `testListenerRule` to move
traffic between the two target groups ([doc: Application Load Balancer resources for blue/green, linear, and
canary deployments]); the weights are those of the revisions the deployment shifts. Without this, a load balancer
made in moto would keep the weights it was created with while the emulator reports traffic moved, and anything
reading ELBv2 (the operator's pre-flight) would see a production rule ECS never left that way.

ModifyRule / ModifyListener, RegisterTargets / DeregisterTargets in ELBv2's query protocol (ecs.query).
"""

from __future__ import annotations

from collections.abc import Sequence

from . import query

API_VERSION = "2015-12-01"


class Elbv2Sink:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout
        self._targets: dict[str, int] = {}  # target group ARN -> targets registered by us

    def targets(self, group: str, slot: int, count: int, port: int) -> None:
        """Keep `count` targets registered in `group`, one per running task: ECS registers a revision's tasks in
        its target group and deregisters them when it scales the revision in [doc: ALB resources]. Task
        addresses are made up per slot (10.0.1.x blue, 10.0.2.x green)."""
        before = self._targets.get(group, 0)
        if count == before:
            return
        action = "DeregisterTargets" if count < before else "RegisterTargets"
        # one target per request: ELBv2 refuses a whole DeregisterTargets when one target is already gone
        for i in range(count, before) if count < before else range(before, count):
            self._post({"Action": action, "Version": API_VERSION, "TargetGroupArn": group,
                        "Targets.member.1.Id": f"10.0.{slot + 1}.{10 + i % 240}",
                        "Targets.member.1.Port": str(port)}, group)
        self._targets[group] = count

    def forward(self, rule_or_listener: str, weights: Sequence[tuple[str, int]]) -> None:
        """Make the rule (ALB listener-rule ARN) or the listener's default action (NLB listener ARN) a weighted
        forward to `weights` ((target group ARN, weight) pairs)."""
        rule = ":listener-rule/" in rule_or_listener
        prefix = "Actions.member.1" if rule else "DefaultActions.member.1"
        params = {"Action": "ModifyRule" if rule else "ModifyListener", "Version": API_VERSION,
                  "RuleArn" if rule else "ListenerArn": rule_or_listener, f"{prefix}.Type": "forward"}
        for i, (group, weight) in enumerate(weights, start=1):
            params[f"{prefix}.ForwardConfig.TargetGroups.member.{i}.TargetGroupArn"] = group
            params[f"{prefix}.ForwardConfig.TargetGroups.member.{i}.Weight"] = str(weight)
        self._post(params, rule_or_listener)

    def _post(self, params: dict[str, str], arn: str) -> None:
        query.post(self.url, params, region=arn.split(":")[3], service="elasticloadbalancing", timeout=self.timeout)


def publish(sink: Elbv2Sink | None, revisions: Sequence[object], rule_key: str, weight_of: str) -> None:
    """Write each load balancer's `rule_key` rule (productionListenerRule / testListenerRule) as the revisions'
    `weight_of` weights (prod_weight / test_weight) summed per target group; a revision's target group is its
    tg_slot's (0: targetGroupArn, 1: alternateTargetGroupArn), as in resolvedConfiguration."""
    if sink is None or not revisions:
        return
    config = getattr(revisions[0], "config", {})
    for lb in config.get("loadBalancers") or []:
        advanced = lb.get("advancedConfiguration") or {}
        rule = advanced.get(rule_key)
        groups = (lb.get("targetGroupArn"), advanced.get("alternateTargetGroupArn"))
        if not rule or not all(groups):
            continue
        weights = {group: 0.0 for group in groups}
        running = {group: 0 for group in groups}
        for revision in revisions:
            group = groups[1 if getattr(revision, "tg_slot", 0) else 0]
            weights[group] += getattr(revision, weight_of) or 0.0
            running[group] += getattr(revision, "running", 0)
        for slot, group in enumerate(groups):
            sink.targets(group, slot, running[group], int(lb.get("containerPort") or 80))
        sink.forward(rule, [(group, round(weight)) for group, weight in weights.items()])
