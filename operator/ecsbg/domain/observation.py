"""What ECS reports for one release, read in one poll (aws.translate builds it; planning, status and drift read
it). Separate from domain.model, which holds what the CR asks for and what status records: the hook and step
details status records too stay there.

Frozen dataclasses only; ECS enum values are kept verbatim as strings because ECS owns them (domain.model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecsbg.domain.autoscaling import ObservedScaling
from ecsbg.domain.model import AlarmSpec, CircuitBreakerSpec, HookDetail, HookSpec, LoadBalancerSpec


@dataclass(frozen=True)
class RevisionSummary:
    """ServiceRevisionSummary, plus the task definition from DescribeServiceRevisions when known."""

    arn: str
    task_definition_arn: str | None = None
    requested_task_count: int = 0
    running_task_count: int = 0
    pending_task_count: int = 0
    production_weight: float | None = None
    test_weight: float | None = None


@dataclass(frozen=True)
class ObservedDeployment:
    arn: str
    status: str
    lifecycle_stage: str | None = None
    status_reason: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime | None = None
    source_revisions: tuple[RevisionSummary, ...] = ()
    target_revision: RevisionSummary | None = None
    hooks: tuple[HookDetail, ...] = ()
    rollback_reason: str | None = None
    rollback_started_at: datetime | None = None


@dataclass(frozen=True)
class RunningConfig:
    """What the release owns on the service as DescribeServices reports it, in the spec's terms (aws.translate),
    so domain.drift compares like with like. `strategy` is ECS's name (ROLLING is possible out of band)."""

    strategy: str | None = None
    bake_time_minutes: int | None = None
    linear: tuple[float | None, int | None] | None = None  # (stepPercent, stepBakeTimeInMinutes)
    canary: tuple[float | None, int | None] | None = None  # (canaryPercent, canaryBakeTimeInMinutes)
    hooks: tuple[HookSpec, ...] = ()
    alarms: AlarmSpec | None = None
    circuit_breaker: CircuitBreakerSpec | None = None
    load_balancers: tuple[LoadBalancerSpec, ...] = ()  # the entries that have an advancedConfiguration


@dataclass(frozen=True)
class ObservedService:
    arn: str
    status: str  # ACTIVE | DRAINING | INACTIVE
    task_definition_arn: str
    current_deployment_arn: str | None = None
    desired_count: int = 0
    running_count: int = 0
    deployment_controller: str = "ECS"
    scheduling_strategy: str = "REPLICA"
    config: RunningConfig | None = None  # None: not read (unit tests); drift then compares task definitions only
    owner_tag: str | None = None  # the service's ecsbg.dev/owner tag (domain.ownership.AWS_OWNER_TAG)


@dataclass(frozen=True)
class AwsProblem:
    """An AWS error, classified once in ecsbg.aws.errors."""

    code: str
    message: str
    terminal: bool
    operation: str = ""


@dataclass(frozen=True)
class Observation:
    """Everything the planner may know about ECS for one release, read in one poll.

    `service` is None when ECS says the service is MISSING. `current` is the service's currentServiceDeployment;
    `tracked` the deployment recorded in status (often the same). `current_target_taskdef_hash` is the
    content hash (domain.taskdefs) of the task definition the current deployment targets.
    `taskdef_hashes` maps task definition ARNs the planner may compare (the service's, the one the last attempt
    deployed, the serving revision's) to their content hash; `base_task_definition` is the described base of a
    `containers` attempt that is about to start (None otherwise). Task definitions are immutable: the AWS layer
    reads each once.
    """

    service: ObservedService | None = None
    current: ObservedDeployment | None = None
    tracked: ObservedDeployment | None = None
    current_target_taskdef_hash: str | None = None
    problem: AwsProblem | None = None
    taskdef_hashes: Mapping[str, str] = field(default_factory=dict)
    base_task_definition: Mapping[str, Any] | None = None
    scaling: ObservedScaling | None = None  # spec.autoScaling: the service's scalable target (None: none / not read)
