"""What the planner decides and what applying it produced.

The planner (domain.planning) returns exactly one Action per reconcile; ecsbg.aws applies it idempotently and
returns an ApplyResult; domain.status folds both into the new status. Actions carry everything the AWS layer
needs, so applying never re-reads the CR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecsbg.domain.autoscaling import Suspended
from ecsbg.domain.model import Difference, ReleaseSpec, RequestKind, Target
from ecsbg.domain.observation import AwsProblem
from ecsbg.domain.preflight import Finding


@dataclass(frozen=True)
class Wait:
    """Nothing to write to AWS; poll again."""

    reason: str = ""


@dataclass(frozen=True)
class RecordIntent:
    """Phase 1 of starting an attempt: persist attempt/specHash/base task definition before any AWS write."""

    attempt: int
    spec_hash: str
    base_task_definition_arn: str | None
    retry_of: int | None = None  # the attempt a retry request named
    drift: tuple[Difference, ...] = ()  # driftPolicy Correct: the differences this attempt corrects


@dataclass(frozen=True)
class StartDeployment:
    """Phase 2: resolve the task definition (register or reuse a tagged revision) and call UpdateService."""

    attempt: int
    spec: ReleaseSpec
    base_task_definition_arn: str | None
    taskdef_hash: str | None  # ecsbg.dev/taskdef-hash for the `containers` form, None for `arn`
    suspend_scaling: bool = False  # spec.autoScaling SuspendDuringDeployment, the state to restore is recorded


@dataclass(frozen=True)
class HoldAttempt:
    """spec.paused holds what would be RecordIntent: nothing is written to AWS. `refresh`: status.plan does not
    show this attempt's spec and base yet, so the AWS layer reads what starting it would send (reads only)."""

    attempt: int
    spec: ReleaseSpec
    base_task_definition_arn: str | None
    refresh: bool


@dataclass(frozen=True)
class ReuseRunning:
    """Phase 2 when ECS already runs exactly what the spec asks: no deployment; the attempt is done at once."""

    attempt: int
    task_definition_arn: str
    revision_arn: str | None
    current_deployment_arn: str | None = None  # ECS's current deployment (not started by this attempt)


@dataclass(frozen=True)
class AdoptDeployment:
    """ECS's current deployment is the one this attempt started (we crashed before recording it)."""

    attempt: int
    deployment_arn: str


@dataclass(frozen=True)
class ContinueHooks:
    """ContinueServiceDeployment for every AWAITING_ACTION PAUSE hook (approve -> CONTINUE, reject -> ROLLBACK)."""

    deployment_arn: str
    hook_ids: tuple[str, ...]
    action: str  # "CONTINUE" | "ROLLBACK"
    request: RequestKind


@dataclass(frozen=True)
class StopDeployment:
    """StopServiceDeployment(stopType=ROLLBACK): the abort request."""

    deployment_arn: str


@dataclass(frozen=True)
class RestoreScaling:
    """RegisterScalableTarget with the SuspendedState recorded before `attempt` suspended scaling (its intent)."""

    attempt: int
    suspended: Suspended
    target: Target


Action = Wait | RecordIntent | HoldAttempt | StartDeployment | ReuseRunning | AdoptDeployment | ContinueHooks | StopDeployment | RestoreScaling


@dataclass(frozen=True)
class ApplyResult:
    """What applying an action produced. `problem` is set when AWS refused (already classified)."""

    deployment_arn: str | None = None
    task_definition_arn: str | None = None
    problem: AwsProblem | None = None
    # (container, image@digest) of the task definition a start deployed when its images were pinned (status.images)
    images: tuple[tuple[str, str], ...] = ()
    # HoldAttempt with refresh: what starting the held attempt would send (ecsbg.aws.plan), or why it is unknown
    plan: Mapping[str, Any] | None = None
    plan_error: str | None = None
    # spec.preflight's findings: with Warn the start went ahead (a Warning Event), with Enforce `problem` refused it
    preflight: tuple[Finding, ...] = ()
    scaling_suspended: bool = False  # the start suspended the service's auto scaling
    scaling_restored: bool = False  # RestoreScaling wrote the recorded state back
