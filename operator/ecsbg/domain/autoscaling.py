"""Service auto scaling around a deployment (spec.autoScaling): what it is, and putting back exactly what was there.

Application Auto Scaling turns off scale-in during an ECS deployment but keeps scaling out, and a blue/green runs
the green revision beside the blue one, skewing per-target metrics ([doc: Troubleshooting service auto scaling in
Amazon ECS]). `SuspendDuringDeployment` suspends dynamic scale-in, dynamic scale-out and scheduled scaling for the
attempt (RegisterScalableTarget SuspendedState) and restores the state found before it afterwards.

Restart safety is the intent's: the state to restore is written to status.autoScaling.restore in the same patch
as the attempt's intent, before anything is suspended; the suspension is part of the start (idempotent, repeated
by a start that is repeated), and `RestoreScaling` is planned until a pass has written the old state back and
recorded it. An attempt superseded in flight hands its pending restore on: what is restored is always the state
before the first suspension.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any


class AutoScalingMode(enum.Enum):
    OBSERVE = "Observe"  # read and show the scalable target; change nothing
    SUSPEND = "SuspendDuringDeployment"


@dataclass(frozen=True)
class Suspended:
    """Application Auto Scaling's SuspendedState."""

    dynamic_in: bool = False
    dynamic_out: bool = False
    scheduled: bool = False

    def to_api(self) -> dict[str, bool]:
        return {"DynamicScalingInSuspended": self.dynamic_in, "DynamicScalingOutSuspended": self.dynamic_out,
                "ScheduledScalingSuspended": self.scheduled}

    @classmethod
    def from_api(cls, data: Mapping[str, Any] | None) -> Suspended:
        data = data or {}
        return cls(bool(data.get("DynamicScalingInSuspended")), bool(data.get("DynamicScalingOutSuspended")),
                   bool(data.get("ScheduledScalingSuspended")))


ALL_SUSPENDED = Suspended(True, True, True)


@dataclass(frozen=True)
class ObservedScaling:
    """The service's scalable target (ecs:service:DesiredCount) and its policies, as read this pass."""

    min_capacity: int
    max_capacity: int
    suspended: Suspended
    policies: tuple[str, ...] = ()  # "name (PolicyType)"


@dataclass(frozen=True)
class ScalingStatus:
    """status.autoScaling. `restore` is set from the intent of a suspending attempt until the state is back."""

    min_capacity: int
    max_capacity: int
    suspended: Suspended
    policies: tuple[str, ...] = ()
    restore: Suspended | None = None
    restore_attempt: int | None = None
    warning: str | None = None


def next_status(prior: ScalingStatus | None, observed: ObservedScaling | None, *, mode: AutoScalingMode | None,
                intent_attempt: int | None, desired_count: int, restored: bool, suspended_now: bool
                ) -> ScalingStatus | None:
    """The new status.autoScaling. `intent_attempt`: this pass records that attempt's intent; `restored`: this
    pass wrote the restore back; `suspended_now`: this pass suspended scaling (the observation predates it)."""
    pending = (prior.restore, prior.restore_attempt) if prior is not None and prior.restore is not None else (None, None)
    if restored:
        pending = (None, None)
    if intent_attempt is not None and mode is AutoScalingMode.SUSPEND and observed is not None:
        # keep an earlier attempt's pending restore: the state now observed is our own suspension
        pending = (pending[0] or observed.suspended, intent_attempt)
    if observed is None:
        if prior is None or pending[0] is None:
            return None  # no scalable target (or not read): nothing to show, nothing owed
        return replace(prior, restore=pending[0], restore_attempt=pending[1])
    suspended = ALL_SUSPENDED if suspended_now else observed.suspended
    if restored and pending[0] is None and prior is not None and prior.restore is not None:
        suspended = prior.restore
    return ScalingStatus(min_capacity=observed.min_capacity, max_capacity=observed.max_capacity,
                         suspended=suspended, policies=observed.policies, restore=pending[0],
                         restore_attempt=pending[1], warning=capacity_warning(observed, desired_count))


def capacity_warning(observed: ObservedScaling, desired_count: int) -> str | None:
    """Blue and green run side by side until CLEAN_UP, up to twice the desired count [doc: considerations]."""
    if desired_count * 2 <= observed.max_capacity:
        return None
    return (f"desired count {desired_count} runs as up to {desired_count * 2} tasks while blue and green overlap, "
            f"above the scalable target's maxCapacity {observed.max_capacity}: check the cluster's capacity "
            "(Fargate quota or capacity provider) for the overlap")


def owed(prior: ScalingStatus | None, attempt_over: bool) -> tuple[int, Suspended] | None:
    """(attempt, state) to restore, while one is owed and its attempt is over (phase ended, nothing in flight)."""
    if prior is None or prior.restore is None or not attempt_over:
        return None
    return prior.restore_attempt or 0, prior.restore


def suspend_for_start(prior: ScalingStatus | None, mode: AutoScalingMode | None) -> bool:
    """A start suspends scaling when its intent recorded a state to restore (so the old state is safe)."""
    return mode is AutoScalingMode.SUSPEND and prior is not None and prior.restore is not None


# ------------------------------------------------------------------------------------------------ status form

STATUS_KEYS = ("minCapacity", "maxCapacity", "suspended", "policies", "restore", "warning")  # nulled when absent

def to_dict(status: ScalingStatus | None) -> dict[str, Any] | None:
    if status is None:
        return None
    out: dict[str, Any] = {"minCapacity": status.min_capacity, "maxCapacity": status.max_capacity,
                           "suspended": _suspended_to_dict(status.suspended), "policies": list(status.policies)}
    if status.restore is not None:
        out["restore"] = {"attempt": status.restore_attempt, **_suspended_to_dict(status.restore)}
    if status.warning:
        out["warning"] = status.warning
    return out


def from_dict(data: Any) -> ScalingStatus | None:
    if not isinstance(data, Mapping) or not isinstance(data.get("maxCapacity"), int):
        return None
    restore = data.get("restore")
    return ScalingStatus(
        min_capacity=int(data.get("minCapacity") or 0), max_capacity=int(data["maxCapacity"]),
        suspended=_suspended_from_dict(data.get("suspended")),
        policies=tuple(str(p) for p in data.get("policies") or () if isinstance(p, str)),
        restore=_suspended_from_dict(restore) if isinstance(restore, Mapping) else None,
        restore_attempt=restore.get("attempt") if isinstance(restore, Mapping) and isinstance(
            restore.get("attempt"), int) else None,
        warning=data.get("warning") if isinstance(data.get("warning"), str) else None)


def _suspended_to_dict(s: Suspended) -> dict[str, bool]:
    return {"dynamicScalingIn": s.dynamic_in, "dynamicScalingOut": s.dynamic_out, "scheduledScaling": s.scheduled}


def _suspended_from_dict(data: Any) -> Suspended:
    data = data if isinstance(data, Mapping) else {}
    return Suspended(data.get("dynamicScalingIn") is True, data.get("dynamicScalingOut") is True,
                     data.get("scheduledScaling") is True)
