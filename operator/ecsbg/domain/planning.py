"""The planner: spec + what ECS reports + the prior status -> exactly one Action (docs/design.md "Operations",
"Attempts, hashes and idempotency").

Rules are tried in order and the first that returns an action wins. Every rule is a pure function of the
inputs, so re-running the planner after a crash at any point picks up where the last run stopped: the intent
(attempt, its time, specHash, base task definition) is in status before any AWS write, and a deployment started
but not recorded is recognised in ECS and adopted instead of started twice, also when ECS finished it meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ecsbg.domain import autoscaling
from ecsbg.domain.actions import (
    Action,
    AdoptDeployment,
    ContinueHooks,
    HoldAttempt,
    RecordIntent,
    RestoreScaling,
    ReuseRunning,
    StartDeployment,
    StopDeployment,
    Wait,
)
from ecsbg.domain.drift import already_running, drift, serving_revision
from ecsbg.domain.model import (
    FINISHED_STATUSES,
    ONGOING_STATUSES,
    STOPPABLE_STATUSES,
    DriftPolicy,
    HookDetail,
    Phase,
    ReleaseSpec,
    ReleaseStatus,
    RequestKind,
)
from ecsbg.domain.observation import Observation, ObservedDeployment
from ecsbg.domain.taskdefs import UnknownContainer, content_hash, render

# Phases after which an attempt is over: nothing of it is in flight in ECS any more.
ENDED_PHASES = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED})
# Phases after which an attempt is over and may be retried ([design: Operations] retry row).
RETRYABLE_PHASES = frozenset({Phase.ROLLED_BACK, Phase.FAILED})
NOT_APPLICABLE_PHASES = {  # phases in which a request for the current attempt can never act any more
    RequestKind.APPROVE: frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED}),
    RequestKind.REJECT: frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED}),
    RequestKind.ABORT: frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED}),
    RequestKind.RETRY: frozenset({Phase.SUCCEEDED}),
}


@dataclass(frozen=True)
class RequestNote:
    """A request the planner saw for the first time and will not act on: `result` is "stale" (it names another
    attempt), "not_applicable" (it names the current attempt, which can no longer do what it asks), "applied"
    (ECS already did it: an earlier pass sent the call, then the operator stopped before recording it) or
    "invalid" (its value is no attempt number; `attempt` is 0)."""

    request: RequestKind
    attempt: int
    result: str
    message: str


@dataclass(frozen=True)
class Plan:
    action: Action
    requests_seen: Mapping[str, int | None]  # the new status.requests
    notes: tuple[RequestNote, ...] = ()


@dataclass(frozen=True)
class _Inputs:
    spec: ReleaseSpec
    obs: Observation
    prior: ReleaseStatus


Rule = Callable[[_Inputs], Action | None]


def plan(spec: ReleaseSpec, observation: Observation, prior: ReleaseStatus, *, generation: int) -> Plan:
    """`generation` is the CR's metadata.generation; planning does not depend on it today (requests are keyed by
    attempt, not generation) but it is part of the seam so rules may use it without changing callers."""
    del generation
    inputs = _Inputs(spec, observation, prior)
    action: Action = next((a for rule in RULES if (a := rule(inputs)) is not None), Wait("nothing to do"))
    if spec.paused and isinstance(action, RecordIntent):
        action = _hold(action, inputs)
    attempt = action.attempt if isinstance(action, RecordIntent) else prior.attempt
    seen, notes = _requests_seen(spec, prior, action, attempt, _current_attempt_deployment(inputs))
    return Plan(action=action, requests_seen=seen, notes=notes)


def service_blocker(observation: Observation) -> tuple[str, str] | None:
    """(reason, message) when the service cannot take a native blue/green deployment at all, else None."""
    service = observation.service
    if service is None:
        return "ServiceNotFound", "the ECS service was not found in the cluster (ECS reports it MISSING)"
    if service.status != "ACTIVE":
        return "ServiceNotActive", f"the ECS service is {service.status}, not ACTIVE"
    if service.deployment_controller != "ECS":
        return ("UnsupportedDeploymentController", f"the ECS service uses the {service.deployment_controller} "
                "deployment controller; native blue/green, linear and canary deployments need ECS")
    return None


# ------------------------------------------------------------------------------------------------ the rules


def _observation_failed(i: _Inputs) -> Action | None:
    if i.obs.problem is not None:
        return Wait(f"reading ECS failed: {i.obs.problem.code}")
    return None


def _service_unusable(i: _Inputs) -> Action | None:
    blocker = service_blocker(i.obs)
    return Wait(blocker[1]) if blocker else None


def _restore_scaling(i: _Inputs) -> Action | None:
    """spec.autoScaling SuspendDuringDeployment: once the attempt is over, put back the state its intent recorded
    (before anything else starts: a new intent then records the state as it really is)."""
    found = autoscaling.owed(i.prior.auto_scaling, i.prior.phase in ENDED_PHASES)
    if found is None:
        return None
    return RestoreScaling(attempt=found[0], suspended=found[1], target=i.spec.target)


def _new_spec(i: _Inputs) -> Action | None:
    """A spec not deployed before starts a new attempt; a spec that was (even one ECS rolled back) does not."""
    if i.spec.spec_hash == i.prior.spec_hash:
        return None
    return RecordIntent(attempt=i.prior.attempt + 1, spec_hash=i.spec.spec_hash, base_task_definition_arn=_base(i))


def awaiting_start(prior: ReleaseStatus) -> bool:
    """An attempt is recorded but its deployment is not yet: `_start` adopts, reuses or starts (the AWS layer reads
    what only that comparison needs, the task definitions, for such an attempt alone)."""
    recorded = prior.deployment
    return prior.attempt > 0 and (recorded is None or recorded.attempt < prior.attempt)


def _retry(i: _Inputs) -> Action | None:
    """Retry an attempt that ended badly, or one that succeeded but drifted (a one-off correction)."""
    if not i.spec.requests.names(RequestKind.RETRY, i.prior.attempt):
        return None
    if i.prior.phase in RETRYABLE_PHASES:
        base = _base(i)
    elif i.prior.phase is Phase.SUCCEEDED and i.prior.drift:
        base = i.prior.base_task_definition_arn  # deploy again what the attempt deployed, not the drifted one
    else:
        return None
    return RecordIntent(attempt=i.prior.attempt + 1, spec_hash=i.spec.spec_hash, base_task_definition_arn=base,
                        retry_of=i.prior.attempt)


def _start(i: _Inputs) -> Action | None:
    """Phase 2 of an attempt whose deployment is not recorded yet: adopt what an earlier run started, or start."""
    recorded = i.prior.deployment
    if not awaiting_start(i.prior):
        return None
    if i.prior.phase is Phase.FAILED:  # the start was refused for good (terminal AWS error): only retry restarts
        return Wait(f"attempt {i.prior.attempt} failed to start; retry it or change the spec")
    wanted_hash = _wanted_taskdef_hash(i)
    current = i.obs.current
    unrecorded = current is not None and current.arn != (recorded.arn if recorded else None)
    candidate = current if unrecorded and _targets_desired(i, current) else None
    own = _newer_than_intent(i, candidate) if candidate is not None else None
    if candidate is not None and own:  # this attempt's, from a pass that stopped before recording it; maybe over
        return AdoptDeployment(attempt=i.prior.attempt, deployment_arn=candidate.arn)
    if already_running(i.spec, i.obs, wanted_hash):  # no surprise redeploys: nothing new to deploy
        # (checked before the adoption below: a finished deployment that brought in what runs and was current at
        # the intent, or of a status that does not say, was not started by this attempt)
        assert i.obs.service is not None
        serving = serving_revision(current)
        return ReuseRunning(attempt=i.prior.attempt, task_definition_arn=i.obs.service.task_definition_arn,
                            revision_arn=serving.arn if serving else None,
                            current_deployment_arn=current.arn if current else None)
    # A deployment in flight that deploys the spec is adopted rather than stopped by a second UpdateService; a
    # finished one that was already current at the intent is not the attempt's, nor is its outcome.
    if candidate is not None and (own is None or candidate.status not in FINISHED_STATUSES):
        return AdoptDeployment(attempt=i.prior.attempt, deployment_arn=candidate.arn)
    return StartDeployment(attempt=i.prior.attempt, spec=i.spec,
                           base_task_definition_arn=i.prior.base_task_definition_arn, taskdef_hash=wanted_hash,
                           suspend_scaling=autoscaling.suspend_for_start(i.prior.auto_scaling, i.spec.auto_scaling))


def _correct_drift(i: _Inputs) -> Action | None:
    """driftPolicy Correct: a Succeeded attempt that ECS no longer runs is deployed again, as a new attempt
    through the normal blue/green, once no other deployment is in flight."""
    if i.spec.drift_policy is not DriftPolicy.CORRECT or i.prior.phase is not Phase.SUCCEEDED:
        return None
    if i.prior.deployment is None or i.prior.deployment.attempt != i.prior.attempt:
        return None
    differences = drift(i.spec, i.obs, i.prior)
    if not differences:
        return None
    current = i.obs.current
    if current is not None and current.status in ONGOING_STATUSES:
        return Wait(f"drift correction waits for ECS deployment {current.arn} ({current.status}) to finish")
    return RecordIntent(attempt=i.prior.attempt + 1, spec_hash=i.spec.spec_hash,
                        base_task_definition_arn=i.prior.base_task_definition_arn, drift=differences)


def _abort(i: _Inputs) -> Action | None:
    deployment = _current_attempt_deployment(i)
    if deployment is None or not i.spec.requests.names(RequestKind.ABORT, i.prior.attempt):
        return None
    if deployment.status not in STOPPABLE_STATUSES:
        return None
    return StopDeployment(deployment_arn=deployment.arn)


def _hook_request(kind: RequestKind, ecs_action: str) -> Rule:
    def rule(i: _Inputs) -> Action | None:
        deployment = _current_attempt_deployment(i)
        if deployment is None or not i.spec.requests.names(kind, i.prior.attempt):
            return None
        waiting = tuple(h.hook_id for h in deployment.hooks if _awaits_approval(h))
        if not waiting:
            return None
        return ContinueHooks(deployment_arn=deployment.arn, hook_ids=waiting, action=ecs_action, request=kind)

    rule.__name__ = f"_{kind.value}"
    return rule


# First match wins. Abort and reject come before approve: when requests conflict, the safe one acts.
RULES: tuple[Rule, ...] = (
    _observation_failed,
    _service_unusable,
    _restore_scaling,
    _new_spec,
    _retry,
    _start,
    _correct_drift,
    _abort,
    _hook_request(RequestKind.REJECT, "ROLLBACK"),
    _hook_request(RequestKind.APPROVE, "CONTINUE"),
)


# ------------------------------------------------------------------------------------------------- helpers


def _hold(intent: RecordIntent, i: _Inputs) -> HoldAttempt:
    """spec.paused: the attempt is not recorded, so nothing starts; an attempt already recorded goes on (abort
    stops it). The plan is read again only when the held spec or base changed since status.plan was written."""
    held = i.prior.plan
    refresh = held is None or held.error is not None or (held.attempt, held.spec_hash, held.base_task_definition_arn) != (
        intent.attempt, intent.spec_hash, intent.base_task_definition_arn)
    return HoldAttempt(attempt=intent.attempt, spec=i.spec, base_task_definition_arn=intent.base_task_definition_arn,
                       refresh=refresh)



def _awaits_approval(hook: HookDetail) -> bool:
    return hook.target_type == "PAUSE" and hook.status == "AWAITING_ACTION"


def _base(i: _Inputs) -> str | None:
    """The containers form overrides the service's task definition as it is when the attempt starts."""
    if not i.spec.task_definition.derived or i.obs.service is None:
        return None
    return i.obs.service.task_definition_arn


_WANTED_KEPT = 4096
_wanted: dict[tuple[str, str | None], str | None] = {}


def _wanted_taskdef_hash(i: _Inputs) -> str | None:
    """_render_hash, remembered per (spec hash, base ARN) when both are known: a revision never changes, and
    rendering and hashing it on every pass of an attempt about to start was 3 % of a mass start's CPU."""
    key = _wanted_key(i)
    if key is None:
        return _render_hash(i)
    if key not in _wanted:
        if len(_wanted) >= _WANTED_KEPT:
            _wanted.clear()
        _wanted[key] = _render_hash(i)
    return _wanted[key]


def _wanted_key(i: _Inputs) -> tuple[str, str | None] | None:
    """What the wanted content depends on: the spec (a template is the whole content), and for the containers form
    the base revision too."""
    source = i.spec.task_definition
    if not i.spec.spec_hash:
        return None
    if source.template is not None:
        return i.spec.spec_hash, None
    base_arn = (i.obs.base_task_definition or {}).get("taskDefinitionArn")
    return (i.spec.spec_hash, base_arn) if source.derived and isinstance(base_arn, str) else None


def _render_hash(i: _Inputs) -> str | None:
    """The content hash of the task definition a `containers` attempt deploys: its base (read by the AWS layer)
    with the overrides. None for the `arn` form, or when the base is unknown or lacks a named container (the
    start then fails with a clear error)."""
    if i.spec.task_definition.template is not None:  # the whole content is in the spec: no base to read
        return content_hash(i.spec.task_definition.template)
    if not i.spec.task_definition.derived or i.obs.base_task_definition is None:
        return None
    try:
        source = i.spec.task_definition
        return content_hash(render(i.obs.base_task_definition, source.containers, cpu=source.cpu,
                                   memory=source.memory, sidecars=source.sidecars))
    except UnknownContainer:
        return None


def _targets_desired(i: _Inputs, deployment: ObservedDeployment) -> bool:
    if i.spec.task_definition.registers:
        return i.obs.current_target_taskdef_hash is not None and i.obs.current_target_taskdef_hash == _wanted_taskdef_hash(i)
    target = deployment.target_revision
    return target is not None and target.task_definition_arn == i.spec.task_definition.arn


def _newer_than_intent(i: _Inputs, deployment: ObservedDeployment) -> bool | None:
    """Was `deployment` created after this attempt's intent was written? ECS's currentServiceDeployment is the
    service's newest deployment, so one other than the deployment current when the intent was written
    (status.baseDeploymentArn, None when there was none) is newer than the intent: no clocks are compared (ECS's
    createdAt and the operator's attemptStartedAt come from two clocks, and a service created seconds before the
    release would have its creation deployment taken for the attempt's). None for a status an older operator
    wrote (no attemptStartedAt): it keeps the behaviour it had."""
    if i.prior.attempt_started_at is None:
        return None
    return deployment.arn != i.prior.base_deployment_arn


def _current_attempt_deployment(i: _Inputs) -> ObservedDeployment | None:
    """ECS's view of the deployment recorded for the current attempt, when ECS returned it."""
    recorded = i.prior.deployment
    if recorded is None or recorded.attempt != i.prior.attempt:
        return None
    return next((d for d in (i.obs.tracked, i.obs.current) if d is not None and d.arn == recorded.arn), None)


def _requests_seen(spec: ReleaseSpec, prior: ReleaseStatus, action: Action, attempt: int,
                   deployment: ObservedDeployment | None = None) -> tuple[dict[str, int | None], tuple[RequestNote, ...]]:
    """status.requests (the highest attempt named so far per kind) and a note for each request seen the first
    time that will not act, so its Warning/metric fires once however often the CR is reconciled."""
    seen: dict[str, int | None] = {}
    notes: list[RequestNote] = []
    for kind in RequestKind:
        named = sorted(getattr(spec.requests, kind.value))
        before = prior.requests.get(kind.value)
        seen[kind.value] = max([*named, *([before] if before is not None else [])], default=None)
        for number in (n for n in named if before is None or n > before):
            note = _note(kind, number, attempt, prior, action, deployment)
            if note is not None:
                notes.append(note)
    notes += [RequestNote(problem.kind, 0, "invalid", f"{problem.message}; the request is ignored")
              for problem in spec.requests.problems
              if problem.kind is not None and problem.message not in prior.request_errors]
    return seen, tuple(notes)


def _note(kind: RequestKind, number: int, attempt: int, prior: ReleaseStatus, action: Action,
          deployment: ObservedDeployment | None = None) -> RequestNote | None:
    if _acts(kind, action):
        return None
    done = _done_by_ecs(kind, prior, deployment) if number == attempt == prior.attempt else None
    if done is not None:
        return RequestNote(kind, number, "applied", done)
    if number != attempt:
        return RequestNote(kind, number, "stale", f"{kind.value} {number} ignored: it names attempt {number}, "
                           f"the current attempt is {attempt}")
    if prior.attempt != attempt or prior.phase not in NOT_APPLICABLE_PHASES[kind]:
        return None
    return RequestNote(kind, number, "not_applicable", f"{kind.value} {number} ignored: attempt {number} is "
                       f"{prior.phase.value if prior.phase else 'not started'}")


# What a Pause hook ECS continued (approve) or rolled back (reject) reports ([doc: ContinueServiceDeployment];
# the emulator's hooks.py follows it): the hook's status once ECS acted on the ContinueServiceDeployment call.
_HOOK_RESULT = {RequestKind.APPROVE: ("SUCCEEDED", "CONTINUE"), RequestKind.REJECT: ("FAILED", "ROLLBACK")}


def _done_by_ecs(kind: RequestKind, prior: ReleaseStatus, deployment: ObservedDeployment | None) -> str | None:
    """Why a request seen for the first time was already carried out, or None. A Pause hook the last written
    status shows AWAITING_ACTION that ECS now reports with the result of this request, before its timeout, was
    ended by a ContinueServiceDeployment: ours, sent by a pass that never wrote its status (operator killed)."""
    if kind not in _HOOK_RESULT or deployment is None:
        return None
    result, ecs_action = _HOOK_RESULT[kind]
    waited = {h.hook_id for h in prior.hooks if _awaits_approval(h)}
    ended = [h.hook_id for h in deployment.hooks if h.hook_id in waited and h.status == result]
    if kind is RequestKind.APPROVE:
        ended += [h.hook_id for h in prior.hooks if h.hook_id in waited and _continued_unlisted(h, deployment)]
    if not ended:
        return None
    return (f"ContinueServiceDeployment {ecs_action} for hook(s) {', '.join(sorted(ended))} (acted on by ECS; "
            "recorded late: the operator stopped before it could record the call)")


def _continued_unlisted(hook: HookDetail, deployment: ObservedDeployment) -> bool:
    """A waiting Pause hook ECS no longer lists because the deployment went on: ECS lists only the hooks of the
    stage in progress [doc: Lifecycle hooks for Amazon ECS service deployments] and leaves a stage only when its
    hooks completed, so the pause was continued. Only a CONTINUE timeout could have done that too: then whether
    our call did it is unknown, and nothing is claimed."""
    if any(h.hook_id == hook.hook_id for h in deployment.hooks) or hook.timeout_action == "CONTINUE":
        return False
    if deployment.status == "SUCCESSFUL":
        return True
    return deployment.status == "IN_PROGRESS" and hook.stage is not None and (
        deployment.lifecycle_stage not in (None, hook.stage))


def _acts(kind: RequestKind, action: Action) -> bool:
    if isinstance(action, ContinueHooks):
        return action.request is kind
    if isinstance(action, StopDeployment):
        return kind is RequestKind.ABORT
    return isinstance(action, RecordIntent) and action.retry_of is not None and kind is RequestKind.RETRY
