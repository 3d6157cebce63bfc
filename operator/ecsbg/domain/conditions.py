"""kstatus conditions (../shared/reference/ecosystem.md 1a; Flux fluxcd/pkg/apis/meta).

`Ready` is always present. `Reconciling` and `Stalled` use abnormal-true polarity and are present only when
True ("MUST only be present on the resource if the Condition is True"). `ObservationFailed` follows the same
polarity: present while reading ECS fails for a release, with the error as reason and message. kstatus, Flux and
Argo CD ignore condition types they do not know, so it reports a failing read without changing their verdict. Each carries observedGeneration, and
lastTransitionTime changes only when the condition's status changes (metav1.Condition semantics).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ecsbg.domain.model import Condition

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
DRIFTED = "Drifted"  # abnormal-true like Reconciling/Stalled: present only while ECS differs from the release
OBSERVATION_FAILED = "ObservationFailed"  # present only while reading ECS fails
PAUSED = "Paused"  # present only while spec.paused holds an attempt (Argo CD shows Suspended)
ORDER = (READY, RECONCILING, STALLED, DRIFTED, PAUSED, OBSERVATION_FAILED)


@dataclass(frozen=True)
class ConditionSpec:
    """What the phase says about the conditions: Ready's status and reason, and the reason of Reconciling or
    Stalled when that one is True (None: absent)."""

    ready: bool
    ready_reason: str
    reconciling_reason: str | None = None
    stalled_reason: str | None = None
    drifted_reason: str | None = None
    paused_reason: str | None = None
    observation: tuple[str, str] | None = None  # (reason, message) of ObservationFailed when reading ECS failed


def build_conditions(want: ConditionSpec, message: str, prior: tuple[Condition, ...], *, generation: int,
                     now: datetime) -> tuple[Condition, ...]:
    before = {c.type: c for c in prior}
    wanted = [(READY, "True" if want.ready else "False", want.ready_reason)]
    if want.reconciling_reason:
        wanted.append((RECONCILING, "True", want.reconciling_reason))
    if want.stalled_reason:
        wanted.append((STALLED, "True", want.stalled_reason))
    if want.drifted_reason:
        wanted.append((DRIFTED, "True", want.drifted_reason))
    if want.paused_reason:
        wanted.append((PAUSED, "True", want.paused_reason))
    built = [_condition(kind, status, reason, message, before.get(kind), generation, now)
             for kind, status, reason in wanted]
    if want.observation is not None:
        reason, text = want.observation
        built.append(_condition(OBSERVATION_FAILED, "True", reason, text, before.get(OBSERVATION_FAILED), generation,
                                now))
    return tuple(built)


def find(conditions: tuple[Condition, ...], kind: str) -> Condition | None:
    return next((c for c in conditions if c.type == kind), None)


def reason_of(text: str) -> str:
    """A metav1.Condition reason (^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$) from e.g. an ECS status or an AWS code:
    ROLLBACK_FAILED -> RollbackFailed, AccessDeniedException stays as is."""
    if "_" in text or text.isupper():
        text = "".join(part.capitalize() for part in re.split(r"[_\W]+", text) if part)
    text = re.sub(r"[^A-Za-z0-9_,:]", "", text).lstrip("0123456789_,:").rstrip(",:")
    return text or "Unknown"


def _condition(kind: str, status: str, reason: str, message: str, before: Condition | None, generation: int,
               now: datetime) -> Condition:
    since = before.last_transition_time if before is not None and before.status == status else now
    return Condition(type=kind, status=status, reason=reason_of(reason), message=message,
                     last_transition_time=since, observed_generation=generation)
