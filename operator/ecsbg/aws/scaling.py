"""Application Auto Scaling of the release's service (spec.autoScaling; domain.autoscaling decides).

The scalable target of an ECS service is `ecs:service:DesiredCount` on resource `service/<cluster>/<service>`
([doc: Application Auto Scaling, RegisterScalableTarget, ResourceId]). Calling RegisterScalableTarget on an existing
target updates only what is given, here SuspendedState ([doc: Suspending and resuming scaling for Application
Auto Scaling]), so minimum, maximum and the policies stay as the platform team set them.
"""

from __future__ import annotations

from typing import Any

from ecsbg.aws.calls import AwsCalls
from ecsbg.domain.autoscaling import ObservedScaling, Suspended
from ecsbg.domain.model import Target

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"


def resource_id(target: Target) -> str:
    """service/<cluster name>/<service name>, from names or ARNs (cluster/<name>, service/<cluster>/<name>)."""
    cluster = target.cluster.rsplit("/", 1)[-1] if target.cluster.startswith("arn:") else target.cluster
    service = target.service.rsplit("/", 1)[-1] if target.service.startswith("arn:") else target.service
    return f"service/{cluster}/{service}"


def read(calls: AwsCalls, target: Target) -> ObservedScaling | None:
    """The scalable target and its policies; None when the service has no scalable target."""
    ident = _ident(target)
    found = calls.call("DescribeScalableTargets", ServiceNamespace=NAMESPACE, ResourceIds=[ident["ResourceId"]],
                       ScalableDimension=DIMENSION).get("ScalableTargets", [])
    if not found:
        return None
    policies = calls.call("DescribeScalingPolicies", **ident).get("ScalingPolicies", [])
    scalable = found[0]
    return ObservedScaling(min_capacity=int(scalable.get("MinCapacity", 0)),
                           max_capacity=int(scalable.get("MaxCapacity", 0)),
                           suspended=Suspended.from_api(scalable.get("SuspendedState")),
                           policies=tuple(f"{p['PolicyName']} ({p.get('PolicyType', '?')})" for p in policies))


def set_suspended(calls: AwsCalls, target: Target, state: Suspended) -> None:
    calls.call("RegisterScalableTarget", **_ident(target), SuspendedState=state.to_api())


def _ident(target: Target) -> dict[str, Any]:
    return {"ServiceNamespace": NAMESPACE, "ResourceId": resource_id(target), "ScalableDimension": DIMENSION}
