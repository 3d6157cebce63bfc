"""The status function: the ONLY place a phase is decided (docs/design.md "Phases").

compute_status folds the spec, what ECS reports, the plan and what applying it produced into the new status.
The phase comes from an ordered list of rules, first match wins, each returning the phase, a message for
humans and what the kstatus conditions say (in the spirit of argo-rollouts' CalculateRolloutPhase).
`transitions` (domain.events) turns the difference between two statuses into Events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from ecsbg.domain.actions import ApplyResult, HoldAttempt, RecordIntent, Wait
from ecsbg.domain.autoscaling import ScalingStatus
from ecsbg.domain.autoscaling import next_status as next_scaling
from ecsbg.domain.codec import format_time
from ecsbg.domain.conditions import (
    DRIFTED,
    OBSERVATION_FAILED,
    READY,
    RECONCILING,
    STALLED,
    ConditionSpec,
    build_conditions,
    find,
    reason_of,
)
from ecsbg.domain.drift import drift
from ecsbg.domain.events import EventRecord, transitions
from ecsbg.domain.model import (
    Difference,
    DriftPolicy,
    HeldPlan,
    HookDetail,
    Phase,
    ReleaseSpec,
    ReleaseStatus,
)
from ecsbg.domain.observation import AwsProblem, Observation
from ecsbg.domain.parsing import InvalidSpec
from ecsbg.domain.planning import Plan, service_blocker
from ecsbg.domain.progress import Progress, progress

__all__ = ["EventRecord", "Verdict", "compute_status", "transitions"]

PROGRESSING = "Progressing"
WITH_RETRY = "ProgressingWithRetry"
RETRY_MARK = " (retrying: "
STALL_MARK = " (stalled: "
# Codes of an AWS endpoint that cannot be resolved or reached (ecsbg.aws.errors): named as such when they stall.
UNREACHABLE_CODES = frozenset({"ConnectionError", "Timeout", "EndpointConnectionError"})
# Phases in which the attempt is over: nothing is in flight that a retry could be progressing.
ENDED = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED, Phase.INVALID})


@dataclass(frozen=True)
class Verdict:
    phase: Phase
    message: str
    conditions: ConditionSpec


@dataclass(frozen=True)
class _Facts:
    spec: ReleaseSpec
    obs: Observation
    result: ApplyResult | None
    prior: ReleaseStatus
    now_: Progress

    @property
    def status(self) -> ReleaseStatus:
        return self.now_.status


def compute_status(*, spec: ReleaseSpec | None, invalid: InvalidSpec | None, observation: Observation | None,
                   plan: Plan | None, result: ApplyResult | None, prior: ReleaseStatus, generation: int,
                   now: datetime, stall_after: float | None = None) -> ReleaseStatus:
    """`stall_after`: seconds of continuously failing reads after which the release is Stalled (None: never)."""
    if spec is None or invalid is not None:
        errors = invalid.errors if invalid is not None else ["spec could not be read"]
        reason = getattr(invalid, "reason", "InvalidSpec")  # e.g. a policy refusal's (ecsbg.gating.PolicyRefused)
        verdict = Verdict(Phase.INVALID, "invalid spec: " + "; ".join(errors),
                          ConditionSpec(False, reason, stalled_reason=reason))
        return _finish(prior, verdict, generation, now)
    obs = observation or Observation()
    requests = dict(plan.requests_seen) if plan is not None else dict(prior.requests)
    problem = obs.problem or (result.problem if result else None)
    if obs.problem is not None and _read_failure_keeps_phase(obs.problem, spec, prior):
        # nothing new is known: keep everything, and say that reading failed (ObservationFailed)
        verdict = _observation_failed(prior, obs.problem, now, stall_after)
        return _finish(replace(prior, requests=requests), verdict, generation, now)
    facts = _Facts(spec, obs, result, prior, progress(spec, obs, plan.action if plan else Wait(), result, prior, now))
    verdict = next(v for rule in PHASE_RULES if (v := rule(facts)) is not None)
    differences = drift(spec, obs, facts.status) if verdict.phase is Phase.SUCCEEDED else ()
    if differences:
        verdict = _drifted(facts, verdict, differences)
    if problem is not None and not problem.terminal:
        verdict = _retrying(verdict, problem)
    held = None
    if plan is not None and isinstance(plan.action, HoldAttempt):
        verdict, held = _held(facts, verdict, plan.action, now)
    request_errors = tuple(problem.message for problem in spec.requests.problems)
    return _finish(replace(facts.status, requests=requests, drift=differences, request_errors=request_errors,
                           plan=held, auto_scaling=_scaling(spec, obs, plan, result, prior)), verdict, generation, now)


def _scaling(spec: ReleaseSpec, obs: Observation, plan: Plan | None, result: ApplyResult | None,
             prior: ReleaseStatus) -> ScalingStatus | None:
    action = plan.action if plan is not None else None
    done = result is not None and result.problem is None
    return next_scaling(prior.auto_scaling, obs.scaling, mode=spec.auto_scaling,
                        intent_attempt=action.attempt if isinstance(action, RecordIntent) else None,
                        desired_count=obs.service.desired_count if obs.service else 0,
                        restored=done and result.scaling_restored, suspended_now=done and result.scaling_suspended)


def _finish(status: ReleaseStatus, verdict: Verdict, generation: int, now: datetime) -> ReleaseStatus:
    conditions = build_conditions(verdict.conditions, verdict.message, status.conditions, generation=generation,
                                  now=now)
    return replace(status, observed_generation=generation, phase=verdict.phase, message=verdict.message,
                   conditions=conditions)


def _held(f: _Facts, verdict: Verdict, action: HoldAttempt, now: datetime) -> tuple[Verdict, HeldPlan]:
    """spec.paused holds the next attempt: the phase and Ready of the last attempt stay (nothing changed in ECS),
    the Paused condition and the message say what is held, status.plan what starting it would send."""
    held = f.prior.plan
    if action.refresh or held is None:
        result = f.result or ApplyResult()
        held = HeldPlan(attempt=action.attempt, spec_hash=action.spec.spec_hash,
                        base_task_definition_arn=action.base_task_definition_arn, plan=dict(result.plan or {}),
                        error=result.plan_error if result.plan is None else None, computed_at=now)
    what = (f"spec.paused holds attempt {action.attempt} (spec {action.spec.spec_hash}): status.plan shows what it "
            "would deploy; set spec.paused to false to start it")
    if held.error:
        what += f" (the plan could not be read: {held.error})"
    if f.prior.attempt == 0:  # nothing was ever deployed by this release
        return Verdict(Phase.PENDING, what, ConditionSpec(False, "Paused", paused_reason="SpecPaused")), held
    return Verdict(verdict.phase, f"{what}; {_base_message(verdict.message)}",
                   replace(verdict.conditions, paused_reason="SpecPaused")), held


def _retrying(verdict: Verdict, problem: AwsProblem) -> Verdict:
    """Throttling and 5xx: the phase stays and the message says what failed. While an attempt is in flight,
    kstatus sees work in progress (Reconciling=ProgressingWithRetry). An attempt that has ended keeps its
    conditions: a throttled idle poll must not turn a Succeeded release InProgress for Flux, nor a RolledBack
    one from Failed to InProgress, since nothing is being retried for it but a read."""
    what = f"{problem.operation or 'AWS call'} failed with {problem.code}: {problem.message}"
    message = _base_message(verdict.message)  # a kept message may carry the last retry
    conditions = verdict.conditions
    if verdict.phase not in ENDED:
        conditions = ConditionSpec(False, WITH_RETRY, reconciling_reason=WITH_RETRY)
    return Verdict(verdict.phase, f"{message}{RETRY_MARK}{what})", conditions)


def _read_failure_keeps_phase(problem: AwsProblem, spec: ReleaseSpec, prior: ReleaseStatus) -> bool:
    """A failed read says nothing about ECS: a retryable one never changes the phase, and neither does a terminal
    one (AccessDenied after an IAM or SCP blip) once the current spec's attempt has a deployment. Otherwise a
    terminal error is the answer to this spec (wrong cluster, no permission at all): phase Failed."""
    if not problem.terminal:
        return True
    started = prior.deployment is not None and prior.deployment.attempt == prior.attempt > 0
    return started and prior.spec_hash == spec.spec_hash and prior.phase not in (None, Phase.INVALID)


def _observation_failed(prior: ReleaseStatus, problem: AwsProblem, now: datetime,
                        stall_after: float | None) -> Verdict:
    """Reading ECS failed. The phase and the message stay; an attempt in flight shows the retry (Reconciling
    ProgressingWithRetry), an ended one keeps its conditions so kstatus, Flux and Argo CD do not flap; either way
    ObservationFailed says what failed. Failing reads that last `stall_after` seconds stall the release."""
    what = f"{problem.operation or 'AWS call'} failed with {problem.code}: {problem.message}"
    phase = prior.phase or Phase.PENDING
    kept = Verdict(phase, _base_message(prior.message), _kept_conditions(prior))
    verdict = kept if phase in ENDED else _retrying(kept, problem)
    reason = "EndpointUnreachable" if problem.code in UNREACHABLE_CODES else reason_of(problem.code)
    failing = find(prior.conditions, OBSERVATION_FAILED)
    since = failing.last_transition_time if failing is not None else now
    if stall_after is not None and (now - since).total_seconds() >= stall_after:
        verdict = Verdict(phase, f"{kept.message}{STALL_MARK}reading ECS has failed since {format_time(since)}: "
                          f"{what}; the last known state is kept until a read succeeds)",
                          ConditionSpec(False, reason, stalled_reason=reason))
    return replace(verdict, conditions=replace(verdict.conditions, observation=(reason, what)))


def _base_message(message: str) -> str:
    """A kept message without the notes earlier failing reads appended to it."""
    return message.split(RETRY_MARK)[0].split(STALL_MARK)[0] or "no status yet"


def _kept_conditions(prior: ReleaseStatus) -> ConditionSpec:
    """The prior conditions as a ConditionSpec (used when nothing new could be read)."""
    ready, reconciling, stalled, drifted = (find(prior.conditions, k) for k in (READY, RECONCILING, STALLED, DRIFTED))
    return ConditionSpec(ready=ready is not None and ready.status == "True",
                         ready_reason=ready.reason if ready else PROGRESSING,
                         reconciling_reason=reconciling.reason if reconciling else None,
                         stalled_reason=stalled.reason if stalled else None,
                         drifted_reason=drifted.reason if drifted else None)


def _drifted(f: _Facts, verdict: Verdict, differences: tuple[Difference, ...]) -> Verdict:
    """A Succeeded attempt that ECS no longer runs: still the attempt's result, but not Ready, and Stalled
    because nothing will change by itself (driftPolicy Report), or until the correction can start (Correct)."""
    n = f.status.attempt
    what = "; ".join(d.describe() for d in differences)
    if f.spec.drift_policy is DriftPolicy.CORRECT:
        then = "driftPolicy Correct: a new attempt deploys the spec again once no ECS deployment is in flight"
    else:
        then = (f"undo the change in ECS, redeploy the spec with ecsbg.dev/retry={n}, or set spec.driftPolicy "
                "to Correct")
    return Verdict(verdict.phase, f"attempt {n} succeeded, but ECS drifted from it: {what}; {then}",
                   ConditionSpec(False, "Drifted", stalled_reason="Drifted", drifted_reason="Drifted"))


# ----------------------------------------------------------------------------------------- the phase rules

def _stalled(phase: Phase, reason: str, message: str) -> Verdict:
    return Verdict(phase, message, ConditionSpec(False, reason, stalled_reason=reason))


def _progressing(phase: Phase, message: str, reason: str = PROGRESSING) -> Verdict:
    return Verdict(phase, message, ConditionSpec(False, reason, reconciling_reason=reason))


def _terminal_problem(f: _Facts) -> Verdict | None:
    problem = f.obs.problem or (f.result.problem if f.result else None)
    if problem is None or not problem.terminal:
        return None
    message = f"{problem.operation or 'AWS call'} failed with {problem.code}: {problem.message}"
    status = f.status
    if status.attempt and (status.deployment is None or status.deployment.attempt < status.attempt):
        # the attempt never started and will not start by itself (planning._start): say how to go on
        message += f"; fix the cause, then retry with ecsbg.dev/retry={status.attempt} or change the spec"
    return _stalled(Phase.FAILED, reason_of(problem.code), message)


def _unusable_service(f: _Facts) -> Verdict | None:
    blocker = service_blocker(f.obs)
    if blocker is None:
        return None
    target = f.spec.target
    return _stalled(Phase.FAILED, blocker[0], f"service {target.service} in cluster {target.cluster} "
                    f"({target.region}): {blocker[1]}")


def _not_started(f: _Facts) -> Verdict | None:
    status = f.status
    if status.deployment is not None and status.deployment.attempt >= status.attempt:
        return None
    if f.prior.phase is Phase.FAILED and f.prior.attempt == status.attempt:  # start refused: wait for a human
        stalled = find(f.prior.conditions, STALLED)
        return _stalled(Phase.FAILED, stalled.reason if stalled else "Failed", f.prior.message)
    return _progressing(Phase.PENDING, f"attempt {status.attempt} recorded (spec {status.spec_hash}); "
                        "starting the ECS deployment")


def _reused(f: _Facts) -> Verdict | None:
    record = f.status.deployment
    if record is None or not record.reused or record.attempt != f.status.attempt:
        return None
    return Verdict(Phase.SUCCEEDED, f"attempt {f.status.attempt} succeeded without a deployment: ECS already runs "
                   f"{f.status.revision or 'this task definition'} with this spec's deployment configuration",
                   ConditionSpec(True, "Succeeded"))


def _no_report_yet(f: _Facts) -> Verdict | None:
    if f.now_.observed is not None:
        return None
    arn = f.status.deployment.arn if f.status.deployment else "?"
    verb = "started" if f.now_.started_now else "recorded"
    return _progressing(Phase.PENDING, f"attempt {f.status.attempt}: deployment {verb} ({arn}); waiting for ECS")


def _finished(f: _Facts) -> Verdict | None:
    d = f.now_.observed
    assert d is not None
    n, why = f.status.attempt, d.rollback_reason or d.status_reason or "no reason given"
    if d.status in ("ROLLBACK_FAILED", "STOPPED"):
        return _stalled(Phase.FAILED, reason_of(d.status), f"attempt {n}: ECS deployment {d.status}: {why}")
    if d.status == "ROLLBACK_SUCCESSFUL":
        serving = f"; {f.status.revision} serves production traffic" if f.status.revision else ""
        return _stalled(Phase.ROLLED_BACK, "RolledBack", f"attempt {n} rolled back by ECS: {why}{serving}; "
                        f"change the spec, or retry with ecsbg.dev/retry={n}")
    if d.status in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "STOP_REQUESTED"):
        return _progressing(Phase.ROLLING_BACK, f"attempt {n}: ECS deployment {d.status}: {why}", "RollingBack")
    if d.status == "SUCCESSFUL":
        return Verdict(Phase.SUCCEEDED, f"attempt {n} succeeded: {f.status.revision or 'the new revision'} serves "
                       "production traffic", ConditionSpec(True, "Succeeded"))
    return None


def _paused(f: _Facts) -> Verdict | None:
    d = f.now_.observed
    assert d is not None
    waiting = [h for h in f.status.hooks if h.target_type == "PAUSE" and h.status == "AWAITING_ACTION"
               and any(h.hook_id == seen.hook_id for seen in d.hooks)]
    if not waiting:
        return None
    n = f.status.attempt
    return _progressing(Phase.AWAITING_APPROVAL, f"attempt {n} paused at {_where(waiting)}{_traffic(f.status)}; "
                        f"approve with ecsbg.dev/approve={n} or reject with ecsbg.dev/reject={n}", "AwaitingApproval")


def _in_flight(f: _Facts) -> Verdict | None:
    d = f.now_.observed
    assert d is not None
    n, stage = f.status.attempt, d.lifecycle_stage or "no stage yet"
    if d.status == "PENDING":
        return _progressing(Phase.PENDING, f"attempt {n}: ECS deployment PENDING")
    phase = Phase.BAKING if d.status == "IN_PROGRESS" and d.lifecycle_stage == "BAKE_TIME" else Phase.DEPLOYING
    return _progressing(phase, f"attempt {n}: ECS deployment {d.status} at {stage}{_traffic(f.status)}")


PHASE_RULES: tuple[Callable[[_Facts], Verdict | None], ...] = (
    _terminal_problem,
    _unusable_service,
    _not_started,
    _reused,
    _no_report_yet,
    _finished,
    _paused,
    _in_flight,  # always matches
)


def _where(hooks: list[HookDetail]) -> str:
    stages = sorted({(h.stage or "?") + (f" step {h.step.number} of {h.step.count}" if h.step else "")
                     for h in hooks})
    expiry = min((h.expires_at for h in hooks if h.expires_at), default=None)
    until = f" (until {format_time(expiry)}, then {hooks[0].timeout_action or 'ROLLBACK'})" if expiry else ""
    return ", ".join(stages) + until


def _traffic(status: ReleaseStatus) -> str:
    parts = [f"{name} {value:g}% green" for name, value in (("production", status.production_traffic),
                                                           ("test", status.test_traffic)) if value is not None]
    return f" ({', '.join(parts)})" if parts else ""
