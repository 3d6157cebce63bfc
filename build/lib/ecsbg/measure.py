"""Turns one reconcile outcome into metric observations.

Durations are recorded once, on the transition that ends them (a stage closing in the history, a release
reaching a terminal phase, a hook leaving AWAITING_ACTION), after the status carrying that transition was
written. `Marks` remembers the few instants the status does not hold (when a pause started awaiting), per release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecsbg.domain import actions, shape
from ecsbg.domain.model import FINISHED_STATUSES, Phase, ReleaseStatus
from ecsbg.metrics.recorder import MetricsRecorder

TERMINAL_RESULTS = {
    Phase.SUCCEEDED: "succeeded",
    Phase.ROLLED_BACK: "rolled_back",
    Phase.FAILED: "failed",
    Phase.INVALID: "failed",
}
HOOK_OUTCOMES = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timed_out"}
# A PAUSE hook ends SUCCEEDED when continued and FAILED when rolled back (ContinueServiceDeployment's action)
PAUSE_OUTCOMES = {"SUCCEEDED": "approved", "FAILED": "rejected", "TIMED_OUT": "timed_out"}
AWAITING_APPROVAL_STAGE = "AWAITING_APPROVAL"


@dataclass
class Marks:
    awaiting_since: dict[str, datetime] = field(default_factory=dict)  # hookId -> first seen AWAITING_ACTION
    aborted_attempt: int | None = None


def record(
    *,
    metrics: MetricsRecorder,
    marks: Marks,
    namespace: str,
    name: str,
    prior: ReleaseStatus,
    outcome: Any,
    body: Mapping[str, Any],
    now: datetime,
) -> None:
    new: ReleaseStatus = outcome.status
    if new.phase is None:  # compute_status always decides a phase; nothing to report without one
        return
    spec = shape.child(body, "spec")  # any JSON may arrive here (domain.shape)
    strategy = shape.text(shape.child(spec, "strategy").get("type")) or "unknown"
    target = shape.child(spec, "target")
    metrics.release_state(
        namespace=namespace, name=name, strategy=strategy,
        cluster=shape.text(target.get("cluster")), service=shape.text(target.get("service")),
        phase=new.phase.value, stage=new.stage,
        production=new.production_traffic, test=new.test_traffic,
    )
    metrics.release_step(namespace=namespace, name=name, number=new.step.number if new.step else None,
                         count=new.step.count if new.step else None)
    _drift(metrics, namespace, name, outcome.plan, prior, new)
    _requests(metrics, marks, outcome.plan, new.attempt)
    _stages(metrics, strategy, prior, new)
    _hooks(metrics, marks, prior, new, now, strategy)
    _finished(metrics, marks, strategy, prior, new, now)


def _drift(metrics: MetricsRecorder, namespace: str, name: str, plan: Any, prior: ReleaseStatus,
           new: ReleaseStatus) -> None:
    """Fields newly found drifted (by the status, or by a Correct plan that went straight to a new attempt)."""
    action = getattr(plan, "action", None)
    found = action.drift if isinstance(action, actions.RecordIntent) and action.drift else new.drift
    before = {d.field for d in prior.drift}
    detected = tuple(dict.fromkeys(d.field for d in found if d.field not in before))
    metrics.release_drift(namespace=namespace, name=name, drifted=bool(new.drift), detected=detected)


def _requests(metrics: MetricsRecorder, marks: Marks, plan: Any, attempt: int) -> None:
    action = getattr(plan, "action", None)
    if isinstance(action, actions.ContinueHooks):
        metrics.request(request=action.request.value, result="applied")
    elif isinstance(action, actions.StopDeployment):
        metrics.request(request="abort", result="applied")
    elif isinstance(action, actions.RecordIntent) and action.retry_of is not None:
        metrics.request(request="retry", result="applied")
    for note in getattr(plan, "notes", ()):  # requests seen for the first time and not acted on
        metrics.request(request=note.request.value, result=note.result)
    if isinstance(action, actions.StopDeployment):
        marks.aborted_attempt = attempt  # so its rollback counts as "aborted", not "rolled_back"


def _stages(metrics: MetricsRecorder, strategy: str, prior: ReleaseStatus, new: ReleaseStatus) -> None:
    """Durations of observed stages only: a stage ECS passed between two polls has bounds, not a duration."""
    closed_before = {(r.stage, r.step, r.started_at) for r in prior.stages if r.finished_at is not None}
    for record in new.stages:
        if not record.observed or record.finished_at is None or (record.stage, record.step,
                                                                  record.started_at) in closed_before:
            continue
        seconds = (record.finished_at - record.started_at).total_seconds()
        metrics.stage_finished(strategy=strategy, stage=record.stage, seconds=max(seconds, 0.0))


def _hooks(
    metrics: MetricsRecorder, marks: Marks, prior: ReleaseStatus, new: ReleaseStatus, now: datetime, strategy: str
) -> None:
    before = {h.hook_id: h.status for h in prior.hooks}
    for hook in new.hooks:
        if hook.status == "AWAITING_ACTION":
            marks.awaiting_since.setdefault(hook.hook_id, now)
            continue
        if before.get(hook.hook_id) == hook.status:
            continue
        since = marks.awaiting_since.pop(hook.hook_id, None)
        if since is not None:
            seconds = max((now - since).total_seconds(), 0.0)
            metrics.stage_finished(strategy=strategy, stage=AWAITING_APPROVAL_STAGE, seconds=seconds)
        outcome = (PAUSE_OUTCOMES if hook.target_type == "PAUSE" else HOOK_OUTCOMES).get(hook.status)
        if outcome:
            # hook.stage is attributed from the spec (domain.hookstages): always a hookable stage, or unknown
            metrics.hook_outcome(hook_type=hook.target_type, stage=hook.stage or "", outcome=outcome)


def _finished(
    metrics: MetricsRecorder, marks: Marks, strategy: str, prior: ReleaseStatus, new: ReleaseStatus, now: datetime
) -> None:
    result = TERMINAL_RESULTS.get(new.phase) if new.phase else None
    if result is None or not _ended(new) or (_ended(prior) and prior.attempt == new.attempt):
        return  # each attempt's end is counted once, whatever phases follow it (judged from status: restart-safe)
    if result == "rolled_back" and marks.aborted_attempt == new.attempt:
        result = "aborted"
    started = new.deployment.started_at if new.deployment and new.deployment.started_at else None
    if started is None and new.stages:
        started = new.stages[0].started_at
    seconds = max((now - started).total_seconds(), 0.0) if started else 0.0
    metrics.release_finished(strategy=strategy, result=result, seconds=seconds)


def _ended(status: ReleaseStatus) -> bool:
    """Whether the status records the end of its attempt. An Invalid spec ends no attempt ECS is running (the
    deployment goes on): it counts only for a release that never started one, or whose deployment had finished."""
    if status.phase in (Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED):
        return True
    if status.phase is not Phase.INVALID:
        return False
    record = status.deployment
    return status.attempt == 0 or (record is not None and record.attempt == status.attempt
                                   and record.status in FINISHED_STATUSES)
