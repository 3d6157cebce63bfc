"""Server-side checks ECS makes and botocore does not (enum values, cross-field rules, documented ranges).

botocore validates member names and the model's numeric min/max client-side but never enum values
(project ECS reference, section 1), so a typo such as strategy="BOGUS" reaches the server; ECS answers
InvalidParameterException. Ranges below are the documented ones quoted in stages.py.
"""

from __future__ import annotations

import math
from typing import Any

from . import stages
from .errors import invalid


def _in_range(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def _multiple_of_tenth(value: float) -> bool:
    return math.isclose(round(value * 10), value * 10, abs_tol=1e-6)


def check_enum(name: str, value: Any, allowed: frozenset[str] | set[str]) -> None:
    if value is not None and value not in allowed:
        raise invalid(f"Invalid value for {name}: {value!r}. Valid values: {', '.join(sorted(allowed))}.")


def check_deployment_configuration(cfg: dict[str, Any] | None) -> None:
    if not cfg:
        return
    strategy = cfg.get("strategy", "ROLLING")
    check_enum("deploymentConfiguration.strategy", strategy, stages.STRATEGIES)
    # "You must provide this parameter when you use the BLUE_GREEN deployment strategy." [model]
    if strategy == "BLUE_GREEN" and cfg.get("bakeTimeInMinutes") is None:
        raise invalid("bakeTimeInMinutes is required when the deployment strategy is BLUE_GREEN.")
    bake = cfg.get("bakeTimeInMinutes")
    if bake is not None and not _in_range(bake, *stages.BAKE_MINUTES_RANGE):
        raise invalid("bakeTimeInMinutes must be between 0 and 1440.")
    _check_linear(cfg.get("linearConfiguration"), strategy)
    _check_canary(cfg.get("canaryConfiguration"), strategy)
    _check_hooks(cfg.get("lifecycleHooks") or [])
    breaker = cfg.get("deploymentCircuitBreaker") or {}
    threshold = breaker.get("thresholdConfiguration")
    if threshold:
        check_enum("thresholdConfiguration.type", threshold.get("type"), {"COUNT", "BOUNDED_PERCENT", "UNBOUNDED_PERCENT"})


def _check_linear(linear: dict[str, Any] | None, strategy: str) -> None:
    if linear is None:
        return
    # "linearConfiguration ... only valid with strategy LINEAR" [model]
    if strategy != "LINEAR":
        raise invalid("linearConfiguration can only be specified when the deployment strategy is LINEAR.")
    step = linear.get("stepPercent")
    if step is not None and not (_in_range(step, *stages.STEP_PERCENT_RANGE) and _multiple_of_tenth(step)):
        raise invalid("stepPercent must be a multiple of 0.1 from 3.0 to 100.0.")
    bake = linear.get("stepBakeTimeInMinutes")
    if bake is not None and not _in_range(bake, *stages.BAKE_MINUTES_RANGE):
        raise invalid("stepBakeTimeInMinutes must be between 0 and 1440.")


def _check_canary(canary: dict[str, Any] | None, strategy: str) -> None:
    if canary is None:
        return
    if strategy != "CANARY":
        raise invalid("canaryConfiguration can only be specified when the deployment strategy is CANARY.")
    pct = canary.get("canaryPercent")
    if pct is not None and not (_in_range(pct, *stages.CANARY_PERCENT_RANGE) and _multiple_of_tenth(pct)):
        raise invalid("canaryPercent must be a multiple of 0.1 from 0.1 to 100.0.")
    bake = canary.get("canaryBakeTimeInMinutes")
    if bake is not None and not _in_range(bake, *stages.BAKE_MINUTES_RANGE):
        raise invalid("canaryBakeTimeInMinutes must be between 0 and 1440.")


def _check_hooks(hooks: list[dict[str, Any]]) -> None:
    counts = {"AWS_LAMBDA": 0, "PAUSE": 0}
    for hook in hooks:
        target_type = hook.get("targetType", "AWS_LAMBDA")
        check_enum("lifecycleHooks.targetType", target_type, stages.HOOK_TARGET_TYPES)
        counts[target_type] += 1
        hook_stages = hook.get("lifecycleStages") or []
        if not hook_stages:
            raise invalid("lifecycleStages must contain at least one lifecycle stage.")
        for stage in hook_stages:
            check_enum("lifecycleHooks.lifecycleStages", stage, stages.HOOK_STAGES)
            if target_type == "PAUSE" and stage in stages.LAMBDA_ONLY_STAGES:
                # model: "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT"
                raise invalid(f"PAUSE hooks cannot be configured at the {stage} lifecycle stage.")
        if target_type == "AWS_LAMBDA" and not hook.get("hookTargetArn"):
            raise invalid("hookTargetArn is required for AWS_LAMBDA lifecycle hooks.")
        if target_type == "PAUSE" and hook.get("hookTargetArn"):
            raise invalid("hookTargetArn is not supported for PAUSE lifecycle hooks.")
        timeout = hook.get("timeoutConfiguration") or {}
        minutes = timeout.get("timeoutInMinutes")
        low, high = stages.LAMBDA_HOOK_TIMEOUT_RANGE if target_type == "AWS_LAMBDA" else stages.HOOK_TIMEOUT_RANGE
        if minutes is not None and not _in_range(minutes, low, high):
            raise invalid(f"timeoutInMinutes for {target_type} lifecycle hooks must be between {low} and {high}.")
        check_enum("timeoutConfiguration.action", timeout.get("action"), stages.HOOK_ACTIONS)
    for target_type, count in counts.items():
        if count > stages.MAX_HOOKS_PER_TYPE:
            raise invalid(f"A service can have at most 10 {target_type} lifecycle hooks.")


def check_max_results(value: Any, low: int = 1, high: int = 100) -> None:
    if value is not None and not _in_range(value, low, high):
        raise invalid(f"maxResults must be between {low} and {high}.")


def check_batch(name: str, items: Any, limit: int) -> list:
    if not isinstance(items, list) or not items:
        raise invalid(f"{name} must contain at least one item.")
    if len(items) > limit:
        raise invalid(f"{name} can have at most {limit} items.")
    return items
