"""The analysis model, shaped after Argo Rollouts' AnalysisTemplate and Flagger's MetricTemplate.

A template (`EcsAnalysisTemplate`, namespaced, or `ClusterEcsAnalysisTemplate`) has `args` and `metrics[]`; a
release references a template where it acts (a Pause hook, the bake time) with argument values. A run of a
template is recorded in the release's status: its metrics, each with its counters and its newest measurements.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TEMPLATE_KIND = "EcsAnalysisTemplate"
CLUSTER_TEMPLATE_KIND = "ClusterEcsAnalysisTemplate"
PROVIDERS = ("web", "prometheus", "cloudWatch")


class Verdict(enum.Enum):
    """Phase of a measurement, a metric and a run (Argo's AnalysisPhase names)."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"

    @property
    def done(self) -> bool:
        return self in (Verdict.SUCCESSFUL, Verdict.FAILED, Verdict.INCONCLUSIVE, Verdict.ERROR)


# ---------------------------------------------------------------------------------------------- the template


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str


@dataclass(frozen=True)
class ArgSpec:
    """A template argument: a default `value`, a Secret by reference, or neither (the reference must set it)."""

    name: str
    value: str | None = None
    secret: SecretRef | None = None


@dataclass(frozen=True)
class Condition:
    """A CEL expression over `result`, compiled at parse time (domain.analysis.cel)."""

    expression: str
    program: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    provider: str  # one of PROVIDERS
    config: Mapping[str, Any]  # the provider's block, `{{args.x}}` placeholders not yet resolved
    interval_seconds: float = 0.0
    count: int | None = 1  # None: measure until the run is stopped (background analysis)
    initial_delay_seconds: float = 0.0
    success: Condition | None = None
    failure: Condition | None = None
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = 4


@dataclass(frozen=True)
class Template:
    kind: str
    name: str
    args: tuple[ArgSpec, ...]
    metrics: tuple[MetricSpec, ...]


# ---------------------------------------------------------------------------------- what a release references


@dataclass(frozen=True)
class AnalysisRef:
    """`analysis:` on a Pause hook or `strategy.bakeAnalysis`: the template and the argument values."""

    template_name: str
    cluster_scope: bool = False
    args: tuple[tuple[str, str], ...] = ()

    @property
    def kind(self) -> str:
        return CLUSTER_TEMPLATE_KIND if self.cluster_scope else TEMPLATE_KIND

    @property
    def display(self) -> str:
        return f"{self.kind}/{self.template_name}"


# --------------------------------------------------------------------------------------------- runs in status


@dataclass(frozen=True)
class Measurement:
    phase: Verdict
    started_at: datetime
    finished_at: datetime
    value: str | None = None  # compact JSON of the provider's result, truncated
    message: str | None = None


@dataclass(frozen=True)
class MetricRun:
    name: str
    phase: Verdict = Verdict.RUNNING
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    measurements: tuple[Measurement, ...] = ()  # the newest MAX_MEASUREMENTS
    message: str | None = None


@dataclass(frozen=True)
class AnalysisRun:
    """One run of a template for one attempt at one place: `hook_id` for a Pause hook, None for the bake."""

    attempt: int
    template: str  # "<Kind>/<name>"
    started_at: datetime
    hook_id: str | None = None
    stage: str | None = None  # the ECS stage the run judges (a hook's stage, or BAKE_TIME)
    phase: Verdict = Verdict.RUNNING
    metrics: tuple[MetricRun, ...] = ()
    finished_at: datetime | None = None
    message: str | None = None
    action: str | None = None  # the ECS call the verdict made: CONTINUE, ROLLBACK (hook) or STOP_ROLLBACK (bake)

    @property
    def key(self) -> tuple[int, str]:
        return (self.attempt, self.hook_id or "bake")
