"""`kubectl ecsrelease wait NAME --until ...`: whether a release reached a point, or can no longer reach it.

A CI step waits for a point of the current spec's attempt (ecspresso's `--wait-until` for ECS):

  succeeded      the attempt ended Succeeded
  deployed       the new revision serves all production traffic (bake time may still run), or Succeeded
  paused         a lifecycle hook of the attempt waits for approval (phase AwaitingApproval)
  stage:STAGE    ECS reached that lifecycle stage in this attempt (status.stages, so a stage ECS passed between
                 two polls counts too), or the attempt Succeeded (every stage is behind it)

While spec.paused holds the spec's attempt (status.plan), nothing is reached: the status is the previous
attempt's. It fails first when the attempt rolls back or fails (RollingBack, RolledBack, Failed, Invalid), with the
release's message as the reason. Nothing is judged until the operator has observed the current generation. Pure:
the CLI polls and passes each object read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecsbg.domain import shape

TARGETS = ("deployed", "paused", "succeeded")
FAILED = ("RollingBack", "RolledBack", "Failed", "Invalid")
_STAGE = re.compile(r"^stage:([A-Z][A-Z_]*)$")


class UsageError(ValueError):
    """An --until value that names no point."""


@dataclass(frozen=True)
class Until:
    target: str  # one of TARGETS, or "stage"
    stage: str | None = None

    def __str__(self) -> str:
        return f"stage:{self.stage}" if self.stage else self.target


def parse_until(text: str) -> Until:
    if text in TARGETS:
        return Until(text)
    match = _STAGE.match(text)
    if match:
        return Until("stage", match.group(1))
    raise UsageError(f"--until {text!r}: use deployed, paused, succeeded or stage:<ECS lifecycle stage>, "
                     "for example stage:BAKE_TIME")  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    state: str  # "reached", "failed" or "waiting"
    reason: str


def judge(release: Mapping[str, Any], until: Until) -> Verdict:
    meta, status = shape.child(release, "metadata"), shape.child(release, "status")
    name, phase = meta.get("name"), status.get("phase")
    if status.get("observedGeneration") != meta.get("generation"):
        return Verdict("waiting", f"generation {meta.get('generation')} of {name} not observed yet")
    message = status.get("message") or ""
    attempt = status.get("attempt")
    if phase in FAILED:
        return Verdict("failed", f"{name} is {phase} before reaching {until}: {message}".rstrip(": "))
    held = shape.child(status, "plan")
    if held:  # the spec's attempt has not started: what status shows is the previous attempt's
        return Verdict("waiting", f"{name}: spec.paused holds attempt {held.get('attempt')}; set spec.paused to "
                       "false to start it")
    if _reached(status, until):
        return Verdict("reached", f"{name} reached {until} (attempt {attempt}, phase {phase})")
    if phase == "Succeeded":  # only "paused" can be missed by a finished attempt
        return Verdict("failed", f"{name} Succeeded without pausing for approval (attempt {attempt})")
    return Verdict("waiting", f"{name}: {phase or 'not reconciled yet'} {message}".strip())


def _reached(status: Mapping[str, Any], until: Until) -> bool:
    phase = status.get("phase")
    if until.target == "succeeded":
        return phase == "Succeeded"
    if until.target == "paused":
        return phase == "AwaitingApproval"
    if phase == "Succeeded":
        return True
    if until.target == "deployed":
        traffic = shape.child(status, "traffic")
        return _current(status) and traffic.get("production") == 100
    listed = status.get("stages") if isinstance(status.get("stages"), list) else []
    stages = [s.get("stage") for s in listed if isinstance(s, Mapping) and not s.get("rollback")]
    return _current(status) and until.stage in stages


def _current(status: Mapping[str, Any]) -> bool:
    """The deployment block belongs to the current attempt (else traffic and stages are an older attempt's)."""
    return shape.child(status, "deployment").get("attempt") == status.get("attempt")
