"""The closed label vocabularies of the ecsbg metrics (docs/design.md "Metrics") and their normalisation.

Every label value the operator emits goes through here, so no ARN, message or other unbounded string can become
a label (Prometheus naming guidance: "do not use labels to store dimensions with high cardinality"). Values
outside a closed set are a programming error and raise ValueError: the reconciler's tests use RecordingMetrics
(tests/fakes/metrics.py), which applies the same checks, so such a bug fails a test instead of a dashboard.
"""

from __future__ import annotations

import re

from ecsbg.domain import drift, notifications
from ecsbg.domain.model import LIFECYCLE_STAGES, Phase, RequestKind, Strategy
from ecsbg.domain.validation import HOOK_STAGES
from ecsbg.domain.waves import model as waves

CONTROLLER = "ecsbluegreenrelease"

PHASES: tuple[str, ...] = tuple(p.value for p in Phase)
STRATEGIES: tuple[str, ...] = tuple(s.value for s in Strategy)

ECS_STAGES = LIFECYCLE_STAGES  # an open set: any other upper-case identifier ECS reports is accepted
AWAITING_APPROVAL = "AWAITING_APPROVAL"  # the pseudo-stage of ecsbg_stage_duration_seconds for paused hooks

RELEASE_RESULTS = ("succeeded", "rolled_back", "failed", "aborted")
HOOK_OUTCOMES = ("succeeded", "failed", "timed_out", "approved", "rejected")
REQUESTS: tuple[str, ...] = tuple(k.value for k in RequestKind)
REQUEST_RESULTS = ("applied", "stale", "not_applicable", "invalid")
# domain.decision.REASONS plus the gate's own (ecsbg.gating): why an EcsReleasePolicy refused a release
POLICY_REFUSALS = ("ImageNotAllowed", "RoleNotAllowed", "TargetNotAllowed", "NamespaceNotSelected", "NoPolicy",
                   "ExternalIdUnavailable", "PromotionNotAllowed", "RegistryCredentialsUnavailable")
# controller-runtime's result label values (pkg/internal/controller/metrics/metrics.go).
RECONCILE_RESULTS = ("success", "error", "requeue", "requeue_after")
LISTENERS = ("production", "test")
DRIFT_FIELDS = drift.FIELDS  # the ECS members domain.drift compares
NOTIFICATION_TRIGGERS = notifications.TRIGGERS
NOTIFICATION_TYPES = ("slack", "msteams", "discord", "webhook", "unknown")  # unknown: the provider was not read
NOTIFICATION_OUTCOMES = ("delivered", "retry", "failed", "misconfigured")

WAVE_PHASES: tuple[str, ...] = tuple(p.value for p in waves.Phase)
WAVE_RESULTS = ("succeeded", "failed", "rolled_back", "aborted")  # how a wave attempt ended
WAVE_GATE_VERDICTS = waves.GATE_VERDICTS

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
_ERROR_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
OTHER_ERROR = "Other"
_STAGE = re.compile(r"^[A-Z][A-Z_]{0,63}$")
_HOOK_TYPES = {"PAUSE": "PAUSE", "AWS_LAMBDA": "AWS_LAMBDA", "LAMBDA": "AWS_LAMBDA"}
_ECS_STRATEGIES = {s.ecs: s.value for s in Strategy}


def one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return value


UNKNOWN_STRATEGY = "Unknown"


def strategy(value: str) -> str:
    """The CR's strategy name; ECS's DeploymentStrategy spelling (BLUE_GREEN) is accepted too. The strategy comes
    from the user's spec, which may be invalid (phase Invalid): anything else is one extra value, never an error."""
    value = _ECS_STRATEGIES.get(value, value)
    return value if value in STRATEGIES else UNKNOWN_STRATEGY


def stage(value: str, *, awaiting_approval: bool = False, unknown: bool = False) -> str:
    """An ECS lifecycle stage; `unknown` admits "" (a hook whose stage was never seen)."""
    if (awaiting_approval and value == AWAITING_APPROVAL) or (unknown and value == ""):
        return value
    if not _STAGE.match(value) or value == AWAITING_APPROVAL:
        raise ValueError(f"stage {value!r} is not an ECS lifecycle stage")
    return value


def hook_stage(value: str) -> str:
    """A stage a hook can run at (ECS's DeploymentLifecycleHookStage), or "" for a hook no stage was attributed
    to (one the spec does not declare): SCALE_UP, BAKE_TIME or CLEAN_UP can never carry a hook outcome."""
    if value != "" and value not in HOOK_STAGES:
        raise ValueError(f"stage {value!r} takes no lifecycle hook")
    return value


def hook_type(value: str) -> str:
    """ECS's targetType spelling: the CR says Lambda/Pause, DescribeServiceDeployments AWS_LAMBDA/PAUSE."""
    try:
        return _HOOK_TYPES[value.upper()]
    except KeyError:
        raise ValueError(f"hook type {value!r} is not Lambda/AWS_LAMBDA or Pause/PAUSE") from None


def identifier(value: str, what: str) -> str:
    """AWS service, operation and error-code names: short identifiers, never free text."""
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{what} {value!r} is not a short identifier")
    return value


def error_code(value: str) -> str:
    """AWS error codes come from the response: usually identifiers (ThrottlingException), the HTTP status when
    botocore cannot parse the body ("503"). Anything else is counted as Other instead of failing the call path
    that reports it."""
    return value if _ERROR_CODE.match(value) else OTHER_ERROR


def resource_name(value: str) -> str:
    """The name of a cluster or service given as a name or an ARN: ARNs never become label values.

    ECS ARNs end in `cluster/NAME` or `service/CLUSTER/NAME`; the last path segment is the name.
    """
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value
