"""The release model: what the CR asks for and what we write back (what ECS reports: domain.observation).

Frozen dataclasses only. Names follow docs/design.md; ECS enum values are kept verbatim as strings because
ECS owns them (botocore does not validate response enums, and the lifecycleStage doc string already lists a
value its enum lacks: ../shared/reference/ecs-native-bluegreen.md section 2.9).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecsbg.domain.analysis.model import AnalysisRef, AnalysisRun
from ecsbg.domain.autoscaling import AutoScalingMode, ScalingStatus
from ecsbg.domain.images import ImageRules
from ecsbg.domain.preflight import PreflightMode


class Strategy(enum.Enum):
    """The CR's strategy names, mapped to ECS's DeploymentStrategy values."""

    BLUE_GREEN = "BlueGreen"
    LINEAR = "Linear"
    CANARY = "Canary"

    @property
    def ecs(self) -> str:
        return {"BlueGreen": "BLUE_GREEN", "Linear": "LINEAR", "Canary": "CANARY"}[self.value]


class Phase(enum.Enum):
    """The human-facing phase (docs/design.md "Phases"). Decided only by domain.status."""

    PENDING = "Pending"
    DEPLOYING = "Deploying"
    AWAITING_APPROVAL = "AwaitingApproval"
    BAKING = "Baking"
    SUCCEEDED = "Succeeded"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"
    INVALID = "Invalid"


class DriftPolicy(enum.Enum):
    """What the operator does when ECS no longer runs what the last successful attempt deployed."""

    REPORT = "Report"  # Drifted condition, Warning Event, metric; nothing is written to ECS
    CORRECT = "Correct"  # the same, then a new attempt deploys the spec again (normal blue/green)


class RequestKind(enum.Enum):
    APPROVE = "approve"
    REJECT = "reject"
    ABORT = "abort"
    RETRY = "retry"


# ServiceDeploymentLifecycleStage in lifecycle order ([doc: Amazon ECS blue/green service deployments workflow]).
# PRE_PRODUCTION_TRAFFIC_SHIFT is named by the ECS docs but missing from botocore's enum
# (../shared/reference/ecs-native-bluegreen.md 2.9): treat ECS stages as an open set and this as their order.
LIFECYCLE_STAGES: tuple[str, ...] = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)

# ServiceDeploymentStatus groups ([doc: View service history using Amazon ECS service deployments]).
ONGOING_STATUSES = frozenset({"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})
FINISHED_STATUSES = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
# StopServiceDeployment(ROLLBACK) is accepted from these ([doc: Stopping Amazon ECS service deployments]).
STOPPABLE_STATUSES = frozenset({"PENDING", "IN_PROGRESS"})


# ---------------------------------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class RoleSession:
    """How the role of an EcsReleasePolicy is assumed for one release (domain.decision): a session name and
    session tags naming the release (CloudTrail shows who deployed), and the policy's ExternalId."""

    name: str
    tags: tuple[tuple[str, str], ...] = ()
    external_id: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Target:
    region: str
    cluster: str
    service: str
    role_arn: str | None = None
    external_id: str | None = None
    session: RoleSession | None = None  # set by the policy gate (ecsbg.gating), never parsed from the spec


@dataclass(frozen=True)
class ContainerOverride:
    name: str
    image: str | None = None
    environment: tuple[tuple[str, str], ...] | None = None  # (name, value), merged by name
    command: tuple[str, ...] | None = None
    secrets: tuple[tuple[str, str], ...] | None = None  # (name, valueFrom ARN), merged by name
    cpu: int | None = None
    memory: int | None = None
    memory_reservation: int | None = None
    port_mappings: tuple[Mapping[str, Any], ...] | None = None  # replaces the container's
    health_check: Mapping[str, Any] | None = None  # replaces the container's


@dataclass(frozen=True)
class TaskDefinitionSource:
    """Exactly one of `arn` (deploy as is), `containers` (overrides on the service's current one) or `template`
    (a whole task definition, the RegisterTaskDefinition shape, kept in Git)."""

    arn: str | None = None
    containers: tuple[ContainerOverride, ...] = ()
    template: Mapping[str, Any] | None = None
    # with `containers`: containers added to the base (full container definitions) and the task's cpu/memory
    sidecars: tuple[Mapping[str, Any], ...] = ()
    cpu: str | None = None
    memory: str | None = None

    @property
    def derived(self) -> bool:
        """The `containers` form: its content depends on the service's task definition (the attempt's base)."""
        return self.arn is None and self.template is None

    @property
    def registers(self) -> bool:
        """The forms the operator registers, tagged with their content hash (`containers` and `template`)."""
        return self.arn is None


@dataclass(frozen=True)
class StrategySpec:
    type: Strategy
    bake_time_minutes: int
    step_percent: float | None = None  # Linear
    step_bake_time_minutes: int | None = None  # Linear
    canary_percent: float | None = None  # Canary
    canary_bake_time_minutes: int | None = None  # Canary


@dataclass(frozen=True)
class LoadBalancerSpec:
    target_group_arn: str
    alternate_target_group_arn: str
    production_listener_rule: str
    role_arn: str
    test_listener_rule: str | None = None


@dataclass(frozen=True)
class TestTrafficRule:
    port_name: str
    header_name: str
    header_exact: str | None = None


@dataclass(frozen=True)
class HookSpec:
    type: str  # "Lambda" | "Pause"
    stages: tuple[str, ...]
    function_arn: str | None = None
    role_arn: str | None = None
    hook_details: Mapping[str, Any] | None = None
    timeout_minutes: int | None = None
    timeout_action: str | None = None  # "Rollback" | "Continue"
    analysis: AnalysisRef | None = None  # Pause only: run it when the hook is AWAITING_ACTION (issue 11)


@dataclass(frozen=True)
class AlarmSpec:
    names: tuple[str, ...]
    rollback: bool = True
    enable: bool = True


@dataclass(frozen=True)
class CircuitBreakerSpec:
    enable: bool = True
    rollback: bool = True


@dataclass(frozen=True)
class RequestProblem:
    """A request value that is not an attempt number. `kind` is None when spec.requests itself is not an object."""

    kind: RequestKind | None
    message: str


@dataclass(frozen=True)
class Requests:
    """Attempt numbers named by each request kind, from spec.requests and the ecsbg.dev/* annotations."""

    approve: frozenset[int] = frozenset()
    reject: frozenset[int] = frozenset()
    abort: frozenset[int] = frozenset()
    retry: frozenset[int] = frozenset()
    # values that do not parse as an attempt number: reported (Warning, status.requestErrors), never Invalid
    problems: tuple[RequestProblem, ...] = ()

    def names(self, kind: RequestKind, attempt: int) -> bool:
        return attempt in getattr(self, kind.value)


@dataclass(frozen=True)
class ReleaseSpec:
    target: Target
    task_definition: TaskDefinitionSource
    strategy: StrategySpec
    load_balancers: tuple[LoadBalancerSpec, ...] = ()
    test_traffic_rules: tuple[TestTrafficRule, ...] = ()
    hooks: tuple[HookSpec, ...] = ()
    alarms: AlarmSpec | None = None
    circuit_breaker: CircuitBreakerSpec | None = None
    requests: Requests = field(default_factory=Requests)
    spec_hash: str = ""  # of everything but requests, onDelete and driftPolicy (domain.hashing)
    on_delete: str = "Leave"  # "Leave" | "Rollback": what deleting the release does to a deployment in flight
    # the image rules of the EcsReleasePolicy that allowed the release (ecsbg.gating), checked again on the task
    # definition the attempt deploys (an `arn`, or the rendered one) before anything is written; never parsed
    image_rules: ImageRules | None = None
    # (registry host, username, password) from the policy's dockerconfigjson Secrets, for digest resolution
    registry_credentials: tuple[tuple[str, str, str], ...] = field(default=(), repr=False)
    drift_policy: DriftPolicy = DriftPolicy.REPORT
    bake_analysis: AnalysisRef | None = None  # spec.strategy.bakeAnalysis: runs during BAKE_TIME
    paused: bool = False  # spec.paused: hold the next attempt (status.plan shows what it would deploy)
    preflight: PreflightMode = PreflightMode.OFF  # spec.preflight: load balancer checks before UpdateService
    auto_scaling: AutoScalingMode | None = None  # spec.autoScaling (domain.autoscaling); None: not read
    owner: str = ""  # this release's ecsbg.dev/owner tag value, set by the reconciler ("" : ownership tags off)
    takeover: str | None = None  # the ecsbg.dev/take-over annotation: the owner this release may displace


# ------------------------------------- what ECS reports that status records too (the rest: domain.observation)


@dataclass(frozen=True)
class StepInfo:
    """Step `number` of `count` of a Linear/Canary production shift, which moves production to `traffic_percent`."""

    number: int
    count: int
    traffic_percent: float


@dataclass(frozen=True)
class HookDetail:
    """DeploymentLifecycleHookDetail. ECS does not say which stage a hook belongs to: in status, `stage` (and
    `step`) are attributed from the spec and the stage order (domain.hookstages). The AWS layer fills `stage` with
    the deployment's lifecycleStage at the poll that saw the hook, a hint the status never uses."""

    hook_id: str
    target_type: str
    status: str
    stage: str | None = None
    step: StepInfo | None = None
    target_arn: str | None = None
    expires_at: datetime | None = None
    timeout_action: str | None = None



# -------------------------------------------------------------------------------------- what we write back


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    last_transition_time: datetime
    observed_generation: int


@dataclass(frozen=True)
class StageRecord:
    """One stage of the attempt's history. Observed: the first and last poll instants that bound it (first seen,
    first seen gone). Not observed (`observed=False`): ECS passed it between two polls; it ran entirely within
    [started_at, finished_at]. `rollback`: seen while ECS was rolling back (traffic going back to blue)."""

    stage: str
    started_at: datetime
    finished_at: datetime | None = None
    step: StepInfo | None = None
    observed: bool = True
    rollback: bool = False


@dataclass(frozen=True)
class DeploymentRecord:
    """The ECS deployment of an attempt. `reused`: the attempt needed none, because ECS already ran exactly
    what the spec asks; `arn` is then ECS's current deployment at that moment (not started by this attempt, kept
    so it is never adopted as the attempt's own) and `status` is empty. `adopted`: the ARN was found in ECS, not
    read from UpdateService's answer (the pass that started it stopped before recording it: a restart, a lost
    answer)."""

    attempt: int
    arn: str
    status: str
    status_reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    rollback_reason: str | None = None
    reused: bool = False
    adopted: bool = False


@dataclass(frozen=True)
class Difference:
    """One field where ECS differs from what the release deployed (domain.drift). `field` is a fixed ECS member
    name (a metric label); `key` says which entry, for lists (a target group name)."""

    field: str
    running: str
    expected: str
    key: str | None = None

    def describe(self) -> str:
        where = f"{self.field}[{self.key}]" if self.key else self.field
        return f"{where}: ECS has {self.running}, the release deployed {self.expected}"


@dataclass(frozen=True)
class RevisionRecord:
    revision_arn: str | None = None
    task_definition_arn: str | None = None


@dataclass(frozen=True)
class HeldPlan:
    """status.plan: the attempt spec.paused holds, and what starting it would send to ECS (ecsbg.aws.plan's
    StartPlan as a dict), or why that could not be read. Computed once per held spec and base."""

    attempt: int
    spec_hash: str
    base_task_definition_arn: str | None
    plan: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    computed_at: datetime | None = None


@dataclass(frozen=True)
class ReleaseStatus:
    observed_generation: int = -1
    phase: Phase | None = None
    stage: str | None = None
    message: str = ""
    attempt: int = 0
    attempt_started_at: datetime | None = None  # when the intent of `attempt` was written (the operator's clock)
    spec_hash: str | None = None
    base_task_definition_arn: str | None = None
    # ECS's currentServiceDeployment when the intent was written: a current deployment other than it is newer, so
    # one that deploys the spec is the attempt's own, even finished (domain.planning._newer_than_intent)
    base_deployment_arn: str | None = None
    revision: str | None = None  # the revision serving production
    target_revision: str | None = None  # the revision the current attempt deploys
    deployment: DeploymentRecord | None = None
    source: RevisionRecord | None = None
    target: RevisionRecord | None = None
    production_traffic: float | None = None
    test_traffic: float | None = None
    hooks: tuple[HookDetail, ...] = ()
    stages: tuple[StageRecord, ...] = ()
    step: StepInfo | None = None  # the Linear/Canary step in flight
    requests: Mapping[str, int | None] = field(default_factory=dict)
    request_errors: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    drift: tuple[Difference, ...] = ()  # set only while a Succeeded release no longer matches ECS
    analysis_runs: tuple[AnalysisRun, ...] = ()  # status.analysisRuns (domain.analysis.codec)
    plan: HeldPlan | None = None  # set only while spec.paused holds an attempt
    auto_scaling: ScalingStatus | None = None  # status.autoScaling (domain.autoscaling)
