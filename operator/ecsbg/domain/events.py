"""Events from status transitions (docs/design.md "Events"): one per transition, none when nothing changed.

Events are derived from (prior status, new status, plan), never from "what we did this time" alone, so a
reconcile that repeats (same status, requests already seen) emits nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ecsbg.domain.actions import ApplyResult, ContinueHooks, RecordIntent, StopDeployment
from ecsbg.domain.autoscaling import Suspended
from ecsbg.domain.conditions import OBSERVATION_FAILED, STALLED, find
from ecsbg.domain.model import (
    FINISHED_STATUSES,
    DeploymentRecord,
    Phase,
    ReleaseStatus,
    RequestKind,
    StepInfo,
)
from ecsbg.domain.preflight import summary

NORMAL = "Normal"
WARNING = "Warning"


# What the operator did or found, per reason: the Event's `action` (events.k8s.io: "what action was taken/failed
# regarding the regarding object"), so `kubectl get events` never shows a placeholder.
ACTIONS = {
    "AttemptStarted": "StartAttempt", "RetryRequested": "Retry", "DeploymentStarted": "UpdateService",
    "DeploymentSkipped": "ReuseRevision", "StageChanged": "MirrorDeployment",
    "AwaitingApproval": "MirrorDeployment", "Succeeded": "MirrorDeployment", "RollingBack": "MirrorDeployment",
    "RolledBack": "MirrorDeployment", "Failed": "Reconcile", "InvalidSpec": "ValidateSpec",
    "Approved": "ContinueServiceDeployment", "Rejected": "ContinueServiceDeployment",
    "AbortRequested": "StopServiceDeployment", "StaleRequest": "IgnoreRequest",
    "RequestNotApplicable": "IgnoreRequest", "AwsError": "CallAws", "Drifted": "DetectDrift",
    "DriftResolved": "DetectDrift", "CorrectingDrift": "CorrectDrift", "AttemptSuperseded": "StartAttempt",
    "RollbackOnDelete": "StopServiceDeployment", "RollbackOnDeleteFailed": "StopServiceDeployment",
    "ExternalIdIgnored": "ValidateSpec", "ObservationFailed": "DescribeServices",
    "ObservationRecovered": "DescribeServices", "Stalled": "DescribeServices", "InvalidRequest": "IgnoreRequest",
    "HookSucceeded": "MirrorDeployment", "HookFailed": "MirrorDeployment", "HookTimedOut": "MirrorDeployment",
    "PolicyDenied": "EvaluatePolicy", "NotificationFailed": "Notify", "InvalidNotification": "ValidateSpec",
}  # fmt: skip


@dataclass(frozen=True)
class EventRecord:
    type: str  # Normal | Warning
    reason: str
    message: str

    @property
    def action(self) -> str:
        return ACTIONS.get(self.reason, "Reconcile")


_PHASE_EVENTS = {
    Phase.AWAITING_APPROVAL: (NORMAL, "AwaitingApproval"),
    Phase.SUCCEEDED: (NORMAL, "Succeeded"),
    Phase.ROLLING_BACK: (NORMAL, "RollingBack"),
    Phase.ROLLED_BACK: (WARNING, "RolledBack"),
    Phase.FAILED: (WARNING, "Failed"),
    Phase.INVALID: (WARNING, "InvalidSpec"),
}
_REQUEST_EVENTS = {RequestKind.APPROVE: "Approved", RequestKind.REJECT: "Rejected"}
_IN_FLIGHT = frozenset({Phase.PENDING, Phase.DEPLOYING, Phase.AWAITING_APPROVAL, Phase.BAKING, Phase.ROLLING_BACK})


def transitions(prior: ReleaseStatus, new: ReleaseStatus, plan: object | None = None,
                result: ApplyResult | None = None, requesters: Mapping[str, str] | None = None) -> list[EventRecord]:
    """`plan` is the domain.planning.Plan of this reconcile (None when the spec was invalid); `result` what
    applying its action produced (requests count as done only when AWS accepted the call); `requesters` who set
    each request kind, when the Kubernetes API says (domain.requesters)."""
    by = _by(requesters or {})
    events = _drift_found(prior, new, plan) + _attempt(prior, new, plan, by)
    if new.deployment and new.deployment.reused and new.deployment.attempt == new.attempt and (
            prior.deployment is None or prior.deployment.attempt != new.attempt):
        events.append(EventRecord(NORMAL, "DeploymentSkipped", f"attempt {new.attempt}: ECS already runs "
                                  f"{new.revision or 'this task definition'} with this spec's deployment "
                                  "configuration; no deployment started"))
    elif new.deployment and new.deployment.attempt == new.attempt and (
            prior.deployment is None or prior.deployment.arn != new.deployment.arn):
        events.append(EventRecord(NORMAL, "DeploymentStarted", f"attempt {new.attempt}: ECS service deployment "
                                  f"{new.deployment.arn}{_adopted(new.deployment)}"))
    if new.stage and (new.stage, new.step) != (prior.stage, prior.step):
        events.append(EventRecord(NORMAL, "StageChanged", f"attempt {new.attempt}: ECS lifecycle stage "
                                  f"{_at(new.stage, new.step)}" + (f" (was {_at(prior.stage, prior.step)})"
                                                                   if prior.stage else "") + _passed(prior, new)))
    # what ECS reported first, then what this reconcile asked of it
    return (events + _hooks(prior, new) + _phase(prior, new) + _requests(plan, result, by) + _aws_error(prior, new)
            + _observation(prior, new) + _held(prior, new) + _preflight(result) + _scaling(prior, new, result))


def _adopted(deployment: DeploymentRecord) -> str:
    """How the ARN of a deployment found in ECS (not in UpdateService's answer) came to be recorded late."""
    if not deployment.adopted:
        return ""
    over = f"; ECS had finished it ({deployment.status})" if deployment.status in FINISHED_STATUSES else ""
    return (" (adopted: started by an earlier pass that stopped before recording it, after an operator restart or a "
            f"lost UpdateService answer{over})")


def _scaling(prior: ReleaseStatus, new: ReleaseStatus, result: ApplyResult | None) -> list[EventRecord]:
    """spec.autoScaling: suspended by a start, restored after the attempt, and the capacity warning (once)."""
    out = []
    done = result is not None and result.problem is None
    scaling = new.auto_scaling
    if done and result.scaling_suspended:
        out.append(EventRecord(NORMAL, "ScalingSuspended", f"attempt {new.attempt}: service auto scaling suspended "
                               "(dynamic scale-in, dynamic scale-out, scheduled) until the attempt ends"))
    if done and result.scaling_restored and scaling is not None:
        out.append(EventRecord(NORMAL, "ScalingRestored", "service auto scaling restored to its state before the "
                               f"attempt: {_suspended(scaling.suspended)}"))
    warning = scaling.warning if scaling is not None else None
    if warning and warning != (prior.auto_scaling.warning if prior.auto_scaling is not None else None):
        out.append(EventRecord(WARNING, "ScalingCapacity", warning))
    return out


def _suspended(state: Suspended) -> str:
    names = [n for n, on in (("dynamic scale-in", state.dynamic_in), ("dynamic scale-out", state.dynamic_out),
                             ("scheduled", state.scheduled)) if on]
    return "suspended: " + ", ".join(names) if names else "nothing suspended"


def _preflight(result: ApplyResult | None) -> list[EventRecord]:
    """spec.preflight's findings, from the one pass that checked them: a refusal (Enforce) or a start that went
    ahead despite them (Warn). A refused attempt is not checked again until a retry or a new spec."""
    if result is None or not result.preflight:
        return []
    what = summary(result.preflight)
    if result.problem is not None:
        return [EventRecord(WARNING, "PreflightFailed", f"load balancer pre-flight refused the attempt, nothing was "
                            f"written to ECS: {what}")]
    return [EventRecord(WARNING, "PreflightWarning", f"load balancer pre-flight found problems and spec.preflight is "
                        f"Warn, so the attempt started anyway: {what}")]


def _held(prior: ReleaseStatus, new: ReleaseStatus) -> list[EventRecord]:
    """spec.paused holding an attempt (once per held spec), and the hold ending without the attempt starting."""
    before, now = prior.plan, new.plan
    if now is not None and (before is None or (before.attempt, before.spec_hash) != (now.attempt, now.spec_hash)):
        return [EventRecord(NORMAL, "AttemptHeld", f"spec.paused holds attempt {now.attempt} (spec {now.spec_hash}); "
                            "status.plan shows what it would deploy")]
    if before is not None and now is None and new.attempt < before.attempt:
        return [EventRecord(NORMAL, "HoldEnded", f"attempt {before.attempt} is no longer held: the spec is the one "
                            f"attempt {new.attempt} deployed")]
    return []


def _at(stage: str | None, step: StepInfo | None) -> str:
    return f"{stage}, step {step.number} of {step.count} ({step.traffic_percent:g}%)" if step else str(stage)


def _passed(prior: ReleaseStatus, new: ReleaseStatus) -> str:
    """The stages ECS passed between the two polls (domain.stagepath), named in the StageChanged message."""
    known = {(r.stage, r.step, r.started_at) for r in prior.stages} if prior.attempt == new.attempt else set()
    passed = [_at(r.stage, r.step) for r in new.stages
              if not r.observed and (r.stage, r.step, r.started_at) not in known]
    if len(passed) > 6:  # a fast Linear deployment passes dozens: keep the Event short, status has them all
        passed = [*passed[:2], f"... {len(passed) - 4} more ...", *passed[-2:]]
    return f"; passed between polls: {'; '.join(passed)}" if passed else ""


_HOOK_RESULTS = {"SUCCEEDED": (NORMAL, "HookSucceeded", "succeeded"), "FAILED": (WARNING, "HookFailed", "failed"),
                 "TIMED_OUT": (WARNING, "HookTimedOut", "timed out")}


def _hooks(prior: ReleaseStatus, new: ReleaseStatus) -> list[EventRecord]:
    """One Event per hook execution reaching a result (ECS's hook status), including a timeout and what ECS does
    then (its timeoutAction)."""
    before = {h.hook_id: h.status for h in prior.hooks} if prior.attempt == new.attempt else {}
    out = []
    for hook in new.hooks:
        if hook.status not in _HOOK_RESULTS or before.get(hook.hook_id) == hook.status:
            continue
        kind, reason, verb = _HOOK_RESULTS[hook.status]
        name = "Pause hook" if hook.target_type == "PAUSE" else \
            f"Lambda hook {(hook.target_arn or '?').rsplit(':function:', 1)[-1]}"
        then = ""
        if hook.status == "TIMED_OUT":
            then = "; ECS rolls back" if (hook.timeout_action or "ROLLBACK") == "ROLLBACK" else "; ECS continues"
        where = _at(hook.stage or "an unknown stage", hook.step)
        out.append(EventRecord(kind, reason, f"attempt {new.attempt}: {name} at {where} {verb} ({hook.hook_id}){then}"))
    return out


def _by(requesters: Mapping[str, str]) -> Mapping[str, str]:
    return {kind: f" (requested by {who})" for kind, who in requesters.items() if who}


def _drift_found(prior: ReleaseStatus, new: ReleaseStatus, plan: object | None) -> list[EventRecord]:
    """Drift appearing or changing (Warning, each field with both values), and drift gone (Normal). With
    driftPolicy Correct the plan carries the differences: the release goes Pending at once."""
    action = getattr(plan, "action", None)
    found = action.drift if isinstance(action, RecordIntent) and action.drift else new.drift
    if found and found != prior.drift:
        return [EventRecord(WARNING, "Drifted", f"ECS no longer runs what attempt {prior.attempt} deployed: "
                            + "; ".join(d.describe() for d in found))]
    if prior.drift and not new.drift and new.attempt == prior.attempt:
        return [EventRecord(NORMAL, "DriftResolved", f"ECS runs what attempt {new.attempt} deployed again")]
    return []


def _attempt(prior: ReleaseStatus, new: ReleaseStatus, plan: object | None,
             by: Mapping[str, str]) -> list[EventRecord]:
    if new.attempt <= prior.attempt:
        return []
    action = getattr(plan, "action", None)
    out = []
    if isinstance(action, RecordIntent) and action.retry_of is not None:
        out.append(EventRecord(NORMAL, "RetryRequested", f"retrying attempt {action.retry_of}"
                               + by.get(RequestKind.RETRY.value, "")))
    if isinstance(action, RecordIntent) and action.drift:
        out.append(EventRecord(NORMAL, "CorrectingDrift", f"driftPolicy Correct: attempt {new.attempt} deploys "
                               f"the spec of attempt {prior.attempt} again, through a normal "
                               "deployment, because ECS drifted from it"))
    out.append(EventRecord(NORMAL, "AttemptStarted", f"attempt {new.attempt} started for spec {new.spec_hash}"))
    if prior.phase in _IN_FLIGHT and prior.deployment is not None and prior.deployment.attempt == prior.attempt:
        out.append(EventRecord(NORMAL, "AttemptSuperseded", f"attempt {prior.attempt} ({prior.phase.value}, "
                               f"deployment {prior.deployment.arn}) is superseded by attempt {new.attempt} for spec "
                               f"{new.spec_hash}; ECS stops it when attempt {new.attempt}'s deployment starts"))
    return out


def _requests(plan: object | None, result: ApplyResult | None, by: Mapping[str, str]) -> list[EventRecord]:
    # every kind of ignored request is bad input a person should see once: a stale one names another attempt,
    # a not-applicable one names this attempt but asks what it can no longer do (approve after success), an
    # invalid one names no attempt at all (ecsbg.dev/approve=yes)
    reasons = {"stale": "StaleRequest", "not_applicable": "RequestNotApplicable", "invalid": "InvalidRequest"}
    out = [EventRecord(WARNING, reasons[note.result], note.message + by.get(note.request.value, ""))
           for note in getattr(plan, "notes", ()) if note.result in reasons]
    # a request ECS carried out for a pass that was killed before it recorded it: announced now, once
    out += [EventRecord(NORMAL, _REQUEST_EVENTS[note.request], note.message + by.get(note.request.value, ""))
            for note in getattr(plan, "notes", ()) if note.result == "applied" and note.request in _REQUEST_EVENTS]
    action = getattr(plan, "action", None)
    if result is not None and result.problem is not None:
        return out
    if isinstance(action, ContinueHooks) and action.request in _REQUEST_EVENTS:
        out.append(EventRecord(NORMAL, _REQUEST_EVENTS[action.request],
                               f"ContinueServiceDeployment {action.action} for hook(s) {', '.join(action.hook_ids)}"
                               + by.get(action.request.value, "")))
    if isinstance(action, StopDeployment):
        out.append(EventRecord(NORMAL, "AbortRequested", f"StopServiceDeployment ROLLBACK for {action.deployment_arn}"
                               + by.get(RequestKind.ABORT.value, "")))
    return out


def _phase(prior: ReleaseStatus, new: ReleaseStatus) -> list[EventRecord]:
    if new.phase not in _PHASE_EVENTS:
        return []
    changed = new.phase != prior.phase
    if not changed and new.phase in (Phase.FAILED, Phase.INVALID):
        changed = _reason(prior, STALLED) != _reason(new, STALLED) or prior.message != new.message
    if not changed:
        return []
    kind, reason = _PHASE_EVENTS[new.phase]
    return [EventRecord(kind, reason, new.message)]


def _aws_error(prior: ReleaseStatus, new: ReleaseStatus) -> list[EventRecord]:
    """A retryable AWS error shows as the message's "(retrying: ...)" suffix (domain.status): announce it when it
    appears or names another error, not on every poll that repeats it."""
    error = _retry_note(new.message)
    if error is None or error == _retry_note(prior.message) or find(new.conditions, OBSERVATION_FAILED):
        return []  # a failing read is announced by _observation
    return [EventRecord(WARNING, "AwsError", new.message)]


def _observation(prior: ReleaseStatus, new: ReleaseStatus) -> list[EventRecord]:
    """Reading ECS failing: one Warning when it starts (or fails with another error), one when it stalls the
    release, one Normal when a read succeeds again; nothing on the polls in between."""
    before, after = find(prior.conditions, OBSERVATION_FAILED), find(new.conditions, OBSERVATION_FAILED)
    if after is None:
        if before is None:
            return []
        return [EventRecord(NORMAL, "ObservationRecovered", f"reading ECS works again (it failed with {before.reason} "
                            "since " + before.last_transition_time.strftime("%Y-%m-%dT%H:%M:%SZ") + ")")]
    out = []
    if before is None or before.reason != after.reason:
        phase = new.phase.value if new.phase else "Pending"
        out.append(EventRecord(WARNING, "ObservationFailed", f"{after.message}; phase {phase} is kept until a read "
                               "succeeds"))
    stalled_now = _reason(new, STALLED) == after.reason
    if stalled_now and _reason(prior, STALLED) != after.reason:
        out.append(EventRecord(WARNING, "Stalled", new.message))
    return out


def _retry_note(message: str) -> str | None:
    _, mark, note = message.partition(" (retrying: ")
    return note if mark else None


def _reason(status: ReleaseStatus, kind: str) -> str | None:
    condition = find(status.conditions, kind)
    return condition.reason if condition else None
