"""The wave's spec and what it observes of its child releases."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ecsbg.domain.analysis.model import AnalysisRef

KIND = "EcsReleaseWave"
PLURAL = "ecsreleasewaves"
PREFIX = "ecsbg.dev/"
LABEL_WAVE = PREFIX + "wave"  # on each child: the EcsReleaseWave's name
LABEL_STEP = PREFIX + "wave-step"  # the wave (entry of spec.waves) the child belongs to
LABEL_TARGET = PREFIX + "wave-target"  # the target's name
ANNOTATION_HASH = PREFIX + "wave-spec-hash"  # hash of the child spec the wave wrote: "is this child current?"
ANNOTATION_ATTEMPT = PREFIX + "wave-attempt"  # the wave attempt that last wrote the child
ANNOTATION_ROLLBACK = PREFIX + "wave-rollback"  # the wave attempt whose rollback rewrote the child


class Phase(enum.Enum):
    """The wave's phase, decided only by domain.waves.planning."""

    PENDING = "Pending"
    PROGRESSING = "Progressing"
    AWAITING_APPROVAL = "AwaitingApproval"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"
    INVALID = "Invalid"


# gate.verdict once a gate passed or failed: Passed when a later wave was found started (a process that recorded
# the verdict died first); ecsbg_wave_gate_verdicts counts these
GATE_VERDICTS = ("Baked", "Approved", "Passed", "AnalysisSuccessful", "AnalysisFailed")


class StepPhase(enum.Enum):
    """One entry of spec.waves."""

    PENDING = "Pending"
    PROGRESSING = "Progressing"
    GATING = "Gating"  # every target succeeded; the gate before the next wave has not passed yet
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ROLLING_BACK = "RollingBack"
    ROLLED_BACK = "RolledBack"


class TargetState(enum.Enum):
    """A target's child release, as the wave sees it for the current attempt."""

    ABSENT = "Absent"  # no child yet
    STALE = "Stale"  # a child from another attempt or spec: to be patched when its wave runs
    IN_FLIGHT = "InFlight"  # current spec, not finished (or the child has not observed its generation yet)
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"  # Failed, RolledBack or Invalid at the current spec
    ROLLING_BACK = "RollingBack"  # rewritten by the wave's rollback, not finished
    ROLLED_BACK = "RolledBack"  # the wave's rollback finished: the previous task definition serves again
    ROLLBACK_FAILED = "RollbackFailed"
    RETRYING = "Retrying"  # failed in the attempt a retry replaced: its own retry is asked for, not yet acted on


@dataclass(frozen=True)
class Target:
    name: str
    region: str
    cluster: str
    service: str
    role_arn: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    image_registry: str | None = None  # replaces the registry of every container image of the template
    overrides: dict[str, Any] = field(default_factory=dict)  # JSON merge patch on the template

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.region, self.cluster, self.service)


@dataclass(frozen=True)
class Gate:
    """What must hold after a wave's targets all succeeded, before the next wave starts. In this order, each
    when set: the bake, the analysis (domain.waves.gates), the approval."""

    bake_seconds: int = 0
    approval: bool = False
    analysis: AnalysisRef | None = None

    @property
    def empty(self) -> bool:
        return not self.bake_seconds and not self.approval and self.analysis is None


@dataclass(frozen=True)
class Step:
    """One entry of spec.waves (a "wave" in the docs; Step in code so it is not confused with the kind)."""

    name: str
    targets: tuple[str, ...]  # target names, in order
    max_parallel: int = 0  # 0: all targets of the wave at once
    gate: Gate = Gate()


@dataclass(frozen=True)
class WaveSpec:
    template: dict[str, Any]
    targets: dict[str, Target]
    steps: tuple[Step, ...]
    rollback: bool  # failurePolicy.rollback: return the waves that completed to their previous task definition
    spec_hash: str
    resolve_digests: bool = False  # spec.images.resolveDigests (a target's EcsReleasePolicy may ask it too)
    # image as rendered -> image@sha256:... for every child (domain.waves.images), set by the pass, not parsed
    pins: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Requests:
    """Operations, each naming what it applies to (docs/api.md "Release waves"): approve "<attempt>:<wave>",
    abort and retry "<attempt>"."""

    approve: frozenset[tuple[int, str]] = frozenset()
    abort: frozenset[int] = frozenset()
    retry: frozenset[int] = frozenset()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Child:
    """What the wave reads of one child EcsBlueGreenRelease (domain.waves.children.observe)."""

    name: str
    spec_hash: str  # ANNOTATION_HASH
    rollback_of: int | None  # ANNOTATION_ROLLBACK
    generation: int
    observed_generation: int
    phase: str | None
    attempt: int | None
    revision: str | None
    source_task_definition: str | None  # the task definition the child's attempt replaced (blue)
    task_definition_arn: str | None  # spec.taskDefinition.arn, when set
    owner_uid: str | None  # the controller ownerReference's uid
    abort: str | None = None  # its ecsbg.dev/abort annotation (the wave's abort is passed on to in-flight children)
    retry: str | None = None  # its ecsbg.dev/retry annotation (a wave's retry is passed on to its failed children)
