"""The reconcile pipeline and the per-release loop.

One pass: parse the CR -> observe ECS -> plan one action -> apply it (idempotent) -> compute the status in one
pure function -> patch status, emit Events on transitions, record metrics. The loop runs one pass, then sleeps
for the fast poll interval while a deployment is in flight and the idle interval otherwise, waking early when the
CR changes (a spec edit or a request annotation).

Order matters and is fixed here: the status patch is written before Events and metrics, so an Event or a
finished-release count never describes a state that was not persisted (argo-rollouts' sync.go does the same).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from ecsbg import gating, logs, measure
from ecsbg.analysis.runner import AnalysisRunner
from ecsbg.clock import Clock
from ecsbg.domain import actions, ownership, schedule, shape
from ecsbg.domain.arns import service_account_errors
from ecsbg.domain.codec import status_from_dict, status_patch, status_to_dict
from ecsbg.domain.events import WARNING, EventRecord, transitions
from ecsbg.domain.model import Observation, Phase, ReleaseSpec, ReleaseStatus
from ecsbg.domain.ownership import Claim, ServiceOwnedElsewhere, target_key
from ecsbg.domain.ownership import check as check_ownership
from ecsbg.domain.parsing import InvalidSpec, parse_release
from ecsbg.domain.planning import ENDED_PHASES, Plan, plan
from ecsbg.domain.requesters import requesters
from ecsbg.domain.status import compute_status
from ecsbg.health import Health
from ecsbg.k8s.events import EventSink
from ecsbg.k8s.status import ReleaseGone, StatusRefused, StatusWriter
from ecsbg.metrics.recorder import MetricsRecorder
from ecsbg.notify import passes as notify_passes
from ecsbg.notify.sender import Notifier
from ecsbg.releasebook import ReleaseBook, cluster_of
from ecsbg.settings import Settings
from ecsbg.wakeups import Wakers

logger = logging.getLogger(__name__)

IN_FLIGHT = frozenset({Phase.PENDING, Phase.DEPLOYING, Phase.AWAITING_APPROVAL, Phase.BAKING, Phase.ROLLING_BACK})
# After writing an intent, the start follows as soon as the intent is persisted: no reason to wait a poll.
NEXT_STEP_DELAY = 0.05
EXTERNAL_ID_IGNORED = EventRecord(WARNING, "ExternalIdIgnored", "spec.target.externalId is deprecated and ignored: "
                                  "the ExternalId sent with AssumeRole is operator configuration (a Secret the platform "
                                  "team owns, chart value aws.externalId.secretName); remove the field from the release")


class EcsGateway(Protocol):
    async def observe(self, spec: ReleaseSpec, prior: ReleaseStatus,
                      reuse: Observation | None = None) -> Observation: ...

    async def apply(self, action: actions.Action, observation: Observation) -> actions.ApplyResult: ...


@dataclass
class Deps:
    """Everything the pipeline talks to; built once at startup (ecsbg.wiring) or injected by tests."""

    ecs: EcsGateway
    clock: Clock
    events: EventSink
    status: StatusWriter
    metrics: MetricsRecorder
    settings: Settings
    closers: list[Callable[[], None]] = field(default_factory=list)  # run at operator cleanup
    health: Health = field(default_factory=Health)  # stuck loops, Kubernetes API reachability (liveness)
    analysis: AnalysisRunner | None = None  # automated analysis (ecsbg.analysis); None: runs are only carried
    notifier: Notifier | None = None  # notifications (ecsbg.notify); None: status.notifications is only carried
    releases: ReleaseBook = field(default_factory=ReleaseBook)  # every watched release's claim (ecsbg.releasebook)
    wakers: Wakers = field(default_factory=Wakers)  # release loops by ECS service, for ECS events (ecsbg.aws.events)
    ecs_events: Any = None  # the ECS event consumer (ecsbg.aws.events.EventConsumer) when ECSBG_EVENTS_QUEUE_URL is set
    digests: Any = None  # image registries for release waves (ecsbg.aws.digests.ImageDigests); None: waves pin nothing


@dataclass(frozen=True)
class Outcome:
    status: ReleaseStatus
    prior: ReleaseStatus  # the status this pass started from, decoded once
    status_dict: dict[str, Any]
    patch: dict[str, Any]  # the merge patch that makes the stored status equal status_dict (nested nulls too)
    events: list[Any]
    plan: Plan | None
    requeue_after: float
    policy_refusal: str | None = None  # the reason, on a pass where an EcsReleasePolicy refusal is announced
    degraded: bool = False  # reading ECS failed or a write hit a retryable error: the loop backs off
    observation: Observation | None = None  # what ECS showed this pass (None: no read)


@dataclass
class LoopState:
    """Per-release memory of the loop. The operator is the only writer of status, so the last status it wrote
    is fresher than the body kopf shows, which may predate our own patch by a watch event."""

    last_status: dict[str, Any] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # the releases claiming a target key (region, cluster, service), from kopf's index of every release
    claims: Callable[[tuple[str, str, str]], Iterable[Claim]] | None = None
    marks: measure.Marks = field(default_factory=measure.Marks)
    # held for a whole pass, so deleting a release with onDelete Rollback (ecsbg.deletion) sees the status of a
    # pass that has ended, never one that is starting a deployment
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)
    # set when the watch reports the release DELETED: releases carry no finalizer, so kopf may never stop the
    # daemon itself (ecsbg.handlers)
    gone: bool = False
    # the EcsReleasePolicy inputs (kopf indexes of policies and namespaces, the Secret reader); None: no gate
    policy: gating.PolicyContext | None = None
    # the error the last passes failed with, how often in a row and since when (one log line per change)
    failure: str | None = None
    failures: int = 0
    failing_since: float = 0.0
    backoff: float = 0.0  # the loop's own extra delay while passes fail or AWS throttles (reset on success)
    essence: tuple[Any, ...] | None = None  # what the watch last showed of spec/annotations/labels (handlers)
    refused: str | None = None  # the API server's reason for refusing every write to this release, once told
    # (when, what ECS showed) on a pass that recorded an intent: the start that follows at once reuses the read
    carried: tuple[float, Observation] | None = None


async def reconcile(
    body: Mapping[str, Any], prior_dict: Mapping[str, Any], deps: Deps,
    claims: Callable[[tuple[str, str, str]], Iterable[Claim]] | None = None,
    policy: gating.PolicyContext | None = None,
    reuse: Observation | None = None,
) -> Outcome:
    """One pass of the pipeline. Never raises for bad input or AWS errors: they end up in the status."""
    now = deps.clock.now()
    metadata = shape.child(body, "metadata")  # any JSON may arrive here (domain.shape)
    generation = shape.integer(metadata.get("generation"), 0)
    prior = status_from_dict(shape.mapping(prior_dict))
    try:
        spec = parse_release(body)
        target = shape.child(body, "spec", "target")
        key = target_key(target)
        if claims is not None and key is not None:
            check_ownership(str(metadata.get("namespace")), str(metadata.get("name")), target, claims(key))
        decision, promoted = None, None
        if policy is not None:  # before any AWS call: a refused release makes none (ecsbg.gating)
            spec, decision = await gating.admit(body, spec, policy)
            spec, promoted = gating.promote(body, spec, decision, prior_dict or {}, policy)
    except InvalidSpec as invalid:
        # Bad input makes no AWS call at all: the condition and a Warning Event say what to fix.
        outcome = _invalid(invalid, prior, generation, now, deps.settings, metadata)
        if policy is not None:
            outcome = _with_policy(outcome, getattr(invalid, "decision", None))
        # no AWS call is made: cheap to look again soon (an owner deleted, a policy created or fixed, a source
        # release succeeded)
        if isinstance(invalid, ServiceOwnedElsewhere | gating.PolicyRefused | gating.PromotionPending):
            outcome = replace(outcome, requeue_after=deps.settings.poll_fast_seconds)
        return outcome
    spec = _with_owner(spec, metadata, deps.settings)
    observation = (await deps.ecs.observe(spec, prior, reuse=reuse) if reuse is not None
                   else await deps.ecs.observe(spec, prior))
    foreign = ownership.foreign_owner(observation.service.owner_tag if observation.service else None, spec.owner,
                                      spec.takeover)
    if foreign is not None:  # another operator's release owns the service (its tag): refuse before any write
        outcome = _invalid(ownership.owned_in_aws(foreign, observation.service.arn), prior, generation, now,
                           deps.settings, metadata)
        outcome = replace(outcome, requeue_after=deps.settings.poll_fast_seconds)
        return _with_policy(outcome, decision) if policy is not None else outcome
    wrong_account = service_account_errors(spec, observation.service.arn if observation.service else None)
    if wrong_account:  # the ARNs name another account than the one ECS answered for: refuse before any write
        outcome = _invalid(InvalidSpec(wrong_account), prior, generation, now, deps.settings, metadata)
        return _with_policy(outcome, decision) if policy is not None else outcome
    decided = plan(spec, observation, prior, generation=generation)
    result = None
    if not isinstance(decided.action, actions.Wait):
        result = await deps.ecs.apply(decided.action, observation)
    status = compute_status(
        spec=spec, invalid=None, observation=observation, plan=decided, result=result,
        prior=prior, generation=generation, now=now, stall_after=deps.settings.observation_stall_seconds,
    )
    status, analysis_events = await _analyse(spec, metadata, status, prior, decided, observation, deps)
    degraded = observation.problem is not None or (result is not None and result.problem is not None
                                                   and not result.problem.terminal)
    outcome = replace(_outcome(status, prior, decided, result, deps.settings, metadata), degraded=degraded,
                      observation=observation)
    outcome = _with_images(replace(outcome, events=[*outcome.events, *analysis_events]), result, prior_dict)
    if spec.target.external_id is not None and prior.observed_generation != generation:  # once per spec change
        outcome = replace(outcome, events=[*outcome.events, EXTERNAL_ID_IGNORED])
    if policy is None:
        return outcome
    outcome = _with_policy(outcome, decision)
    status_dict = {k: v for k, v in outcome.status_dict.items() if k != "promotedFrom"}
    if promoted is not None:
        status_dict["promotedFrom"] = promoted
    return replace(outcome, status_dict=status_dict, patch={**outcome.patch, "promotedFrom": promoted})


def _with_images(outcome: Outcome, result: actions.ApplyResult | None, prior_dict: Mapping[str, Any]) -> Outcome:
    """`status.images`: the digests the current attempt deploys, when its images were pinned (images.resolveDigests
    of an EcsReleasePolicy). Set by the start that registered (or reused) the revision, kept for that attempt."""
    if result is not None and result.images:
        images: Any = [{"container": name, "image": image, "digest": image.rpartition("@")[2]}
                       for name, image in result.images if "@" in image]
    elif prior_dict.get("images") and prior_dict.get("attempt") == outcome.status_dict.get("attempt"):
        images = prior_dict["images"]
    else:
        images = None
    status_dict = {k: v for k, v in outcome.status_dict.items() if k != "images"}
    if images:
        status_dict["images"] = images
    return replace(outcome, status_dict=status_dict, patch={**outcome.patch, "images": images or None})


def _with_policy(outcome: Outcome, decision: gating.Decision | None) -> Outcome:
    """`status.policy` says what the policy gate decided (None: it did not get to decide); a refusal is announced
    as `PolicyDenied` instead of `InvalidSpec`, and counted once, on the same transitions."""
    block = decision.to_status() if decision is not None else None
    status_dict = {k: v for k, v in outcome.status_dict.items() if k != "policy"}
    if block is not None:
        status_dict["policy"] = block
    refused = decision is not None and not decision.allowed
    events = [replace(e, reason="PolicyDenied") if refused and e.reason == "InvalidSpec" else e
              for e in outcome.events]
    announced = refused and any(e.reason == "PolicyDenied" for e in events)
    return replace(outcome, status_dict=status_dict, patch={**outcome.patch, "policy": block}, events=events,
                   policy_refusal=decision.reason if announced and decision is not None else None)


async def _analyse(spec: ReleaseSpec, metadata: Mapping[str, Any], status: ReleaseStatus, prior: ReleaseStatus,
                   decided: Plan, observation: Observation, deps: Deps) -> tuple[ReleaseStatus, list[EventRecord]]:
    """The analysis runs of this pass (ecsbg.analysis.runner): they may act only when the planner does not."""
    if deps.analysis is None:
        return replace(status, analysis_runs=prior.analysis_runs), []

    async def apply(action: actions.Action) -> actions.ApplyResult:
        return await deps.ecs.apply(action, observation)

    return await deps.analysis.step(
        spec=spec, namespace=str(metadata.get("namespace")), name=str(metadata.get("name")), status=status,
        prior=prior, may_act=isinstance(decided.action, actions.Wait) and observation.problem is None, apply=apply)


def _with_owner(spec: ReleaseSpec, metadata: Mapping[str, Any], settings: Settings) -> ReleaseSpec:
    """The ecsbg.dev/owner tag value of this release, and the owner a person allowed it to take over."""
    owner = ownership.owner_value(settings.operator_id, str(metadata.get("namespace")), str(metadata.get("name")))
    takeover = shape.mapping(metadata.get("annotations")).get(ownership.TAKEOVER_ANNOTATION)
    return replace(spec, owner=owner, takeover=takeover if isinstance(takeover, str) and takeover else None)


def _invalid(invalid: InvalidSpec, prior: ReleaseStatus, generation: int, now: datetime,
             settings: Settings, metadata: Mapping[str, Any]) -> Outcome:
    status = compute_status(spec=None, invalid=invalid, observation=Observation(), plan=None, result=None,
                            prior=prior, generation=generation, now=now)
    status = replace(status, analysis_runs=prior.analysis_runs)  # measurements taken are never lost
    return _outcome(status, prior, None, None, settings, metadata)


def _outcome(
    status: ReleaseStatus, prior: ReleaseStatus, decided: Plan | None, result: actions.ApplyResult | None,
    settings: Settings, metadata: Mapping[str, Any],
) -> Outcome:
    return Outcome(
        status=status,
        prior=prior,
        status_dict=status_to_dict(status),
        patch=status_patch(status),
        events=list(transitions(prior, status, decided, result, requesters(metadata))),
        plan=decided,
        requeue_after=_requeue_after(status, decided, settings),
    )


def _requeue_after(status: ReleaseStatus, decided: Plan | None, settings: Settings) -> float:
    if decided is not None and isinstance(decided.action, actions.RecordIntent | actions.RestoreScaling):
        return NEXT_STEP_DELAY  # the next step (a start, a new intent after a restore) follows at once
    if status.auto_scaling is not None and status.auto_scaling.restore is not None and status.phase in ENDED_PHASES:
        return settings.poll_fast_seconds  # the attempt ended: restore auto scaling soon, not after an idle poll
    if decided is not None and isinstance(decided.action, actions.HoldAttempt):  # a spec change wakes the loop
        return settings.poll_idle_seconds
    if status.phase in IN_FLIGHT:
        return settings.poll_fast_seconds
    return settings.poll_idle_seconds


async def release_loop(
    *, body: Mapping[str, Any], namespace: str, name: str, deps: Deps, state: LoopState, stopped: Any
) -> None:
    """Reconcile one release until kopf stops the daemon (object deleted or operator exiting)."""
    logs.bind_release(namespace, name)  # every log line of this task names the release (ecsbg.logs)
    release = f"{namespace}/{name}"
    while not stopped and not state.gone:
        started = time.monotonic()
        deps.metrics.reconcile_started()
        deps.health.pass_started(release)
        try:
            async with state.busy:
                delay, degraded = await _one_pass(body=body, namespace=namespace, name=name, deps=deps,
                                                  state=state)
            deps.metrics.reconcile(result="requeue_after", seconds=time.monotonic() - started)
            logger.debug("pass of %s done: phase %s, next pass in %.2f s", release,
                         (state.last_status or {}).get("phase"), delay)
            _recovered(state, release)
        except ReleaseGone:  # deleted while this pass ran: nothing is left to reconcile or report on
            deps.metrics.reconcile(result="success", seconds=time.monotonic() - started)
            logger.info("release %s is gone; its loop ends", release)
            return
        except Exception as exc:  # a bug or an API server outage: report once, back off, never kill the loop
            _failed(state, release, exc)
            deps.metrics.reconcile(result="error", seconds=time.monotonic() - started)
            delay, degraded = deps.settings.poll_fast_seconds, True
        finally:
            deps.health.pass_finished(release)
        delay = _backoff(state, deps, namespace, name, delay, degraded)
        if delay == deps.settings.poll_idle_seconds and deps.ecs_events is not None and deps.ecs_events.flowing():
            delay = deps.settings.events_idle_seconds  # events wake it; polling is the safety net for lost ones
        if not state.backoff and delay in _polls(deps.settings):  # an idle poll, not a next step or a back-off
            slot, slots = deps.releases.poll_slot(namespace, name)
            delay = schedule.aligned_delay(delay, time.monotonic(), _cluster_of(body), slot, slots)
        await _sleep(state.wake, stopped, delay)
    if state.gone:  # a pass that ended after the DELETED event may have recorded the release's series again
        deps.metrics.forget_release(namespace=namespace, name=name)
        if deps.notifier is not None:
            deps.notifier.forget(namespace, name)


def _failed(state: LoopState, release: str, exc: Exception) -> None:
    """One log line when passes start failing or fail differently, with how many passes failed so far; a
    traceback only for errors that are not the Kubernetes API being unreachable; silence in between. Refused,
    reset and timed-out connections are one state (the API is unreachable), however they alternate."""
    detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    unreachable = _unreachable(exc)
    kind = "the Kubernetes API is unreachable" if unreachable else detail
    state.failures += 1
    if kind == state.failure:
        return
    if state.failure is None:
        state.failing_since = time.monotonic()
        logger.error("reconcile of %s failed: %s (%s); retrying with backoff", release, kind, detail,
                     exc_info=None if unreachable else exc)
    else:
        logger.error("reconcile of %s now fails with %s (%s) after %d failed passes", release, kind, detail,
                     state.failures - 1)
    state.failure = kind


def _recovered(state: LoopState, release: str) -> None:
    if state.failure is not None:
        logger.warning("reconcile of %s works again after %d failed passes in %.0f s (last error: %s)", release,
                       state.failures, time.monotonic() - state.failing_since, state.failure)
        state.failure, state.failures = None, 0


def _unreachable(exc: BaseException) -> bool:
    """Connection-level failures (refused, reset, timed out): expected in an outage, no traceback needed."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"OSError", "TimeoutError", "MaxRetryError", "ProtocolError", "ClientError",
                         "ReadTimeoutError", "NewConnectionError"})


def _backoff(state: LoopState, deps: Deps, namespace: str, name: str, delay: float, degraded: bool) -> float:
    """While passes fail or AWS throttles, the delay doubles from the fast poll up to ECSBG_BACKOFF_MAX_SECONDS
    (botocore's own retries only cover one call); the first clean pass resets it."""
    if not degraded:
        if state.backoff:
            state.backoff = 0.0
            deps.metrics.release_backoff(namespace=namespace, name=name, seconds=0.0)
        return delay
    state.backoff = min(max(state.backoff * 2, deps.settings.poll_fast_seconds), deps.settings.backoff_max_seconds)
    deps.metrics.release_backoff(namespace=namespace, name=name, seconds=state.backoff)
    return max(delay, state.backoff)


async def _one_pass(
    *, body: Mapping[str, Any], namespace: str, name: str, deps: Deps, state: LoopState
) -> tuple[float, bool]:
    prior_dict = state.last_status if state.last_status is not None else dict(shape.child(body, "status"))
    outcome = await reconcile(body, prior_dict, deps, state.claims, state.policy, reuse=_carried(state))
    outcome, notified = _with_notifications(outcome, body, prior_dict, deps, namespace, name)
    if outcome.status_dict != prior_dict:
        try:
            await _write_status(deps, namespace, name, outcome.patch)
        except StatusRefused as refused:
            return _refused(state, deps, body, outcome, refused)
    state.refused = None
    state.last_status = outcome.status_dict
    state.carried = _carry(outcome)
    deps.events.emit(body, outcome.events)
    if deps.notifier is not None and notified is not None:  # sent only once the transition is persisted
        notify_passes.written(deps.notifier, body, outcome.status_dict, notified, namespace=namespace, name=name,
                              wake=state.wake.set)
    if outcome.policy_refusal is not None:
        deps.metrics.policy_refused(reason=outcome.policy_refusal)
    measure.record(
        metrics=deps.metrics, marks=state.marks, namespace=namespace, name=name,
        prior=outcome.prior, outcome=outcome, body=body, now=deps.clock.now(),
    )
    return outcome.requeue_after, outcome.degraded


CARRY_SECONDS = 1.0  # how old a read the start after an intent may reuse (it follows NEXT_STEP_DELAY later)


def _carry(outcome: Outcome) -> tuple[float, Observation] | None:
    """A spec change is read from ECS once, not twice: the pass that records the intent keeps its read for the
    start that follows (planning's two phases; the start describes the service again before it writes)."""
    if outcome.plan is None or not isinstance(outcome.plan.action, actions.RecordIntent):
        return None
    if outcome.observation is None or outcome.observation.problem is not None:
        return None
    return time.monotonic(), outcome.observation


def _carried(state: LoopState) -> Observation | None:
    carried, state.carried = state.carried, None
    if carried is None or time.monotonic() - carried[0] > CARRY_SECONDS:
        return None
    return carried[1]


def _refused(state: LoopState, deps: Deps, body: Mapping[str, Any], outcome: Outcome,
             refused: StatusRefused) -> tuple[float, bool]:
    """The API server refuses every write to this release because of the object itself (stored past an older
    schema, e.g. without a spec), so its status cannot say so: the verdict goes out as Events, once per reason,
    without a traceback, and the release is read again only at the idle interval or when it changes."""
    if state.refused != str(refused):
        state.refused = str(refused)
        logger.warning("the API server refuses every write to %s/%s: %s", shape.child(body, "metadata").get(
            "namespace"), shape.child(body, "metadata").get("name"), refused)
        deps.events.emit(body, [*outcome.events, EventRecord(WARNING, "StatusRefused", (
            f"The API server refuses every write to this release, its status too ({refused}); "
            "fix the object (kubectl edit or apply) or delete and re-create it."))])
    return deps.settings.poll_idle_seconds, False


def _with_notifications(outcome: Outcome, body: Mapping[str, Any], prior_dict: Mapping[str, Any], deps: Deps,
                        namespace: str, name: str) -> tuple[Outcome, notify_passes.PassNotifications | None]:
    """`status.notifications` (ecsbg.notify.passes): recorded with the transition it is about, in one patch."""
    status_dict = {k: v for k, v in outcome.status_dict.items() if k != "notifications"}
    if deps.notifier is None:
        if prior_dict.get("notifications"):
            status_dict["notifications"] = prior_dict["notifications"]
        return replace(outcome, status_dict=status_dict), None
    done = notify_passes.step(deps.notifier, body, prior_dict, outcome.prior, outcome.status, namespace=namespace,
                              name=name, now=deps.clock.now())
    if done.entries:
        status_dict["notifications"] = done.entries
    return replace(outcome, status_dict=status_dict, patch={**outcome.patch, "notifications": done.entries or None},
                   events=[*outcome.events, *done.events]), done


async def _write_status(deps: Deps, namespace: str, name: str, patch: dict[str, Any]) -> None:
    """The client has its own timeout (ecsbg.k8s.status); wait_for bounds the wait even if a call ignored it."""
    try:
        await asyncio.wait_for(deps.status.patch_status(namespace=namespace, name=name, status=patch),
                               timeout=deps.settings.k8s_timeout_seconds * 2)
    except Exception as exc:
        if isinstance(exc, ReleaseGone) or isinstance(getattr(exc, "status", None), int):  # the API answered
            deps.health.api_answered()
        else:
            deps.health.api_failed()
        raise
    deps.health.api_answered()


def _polls(settings: Settings) -> tuple[float, ...]:
    """The idle polls, put on the cluster's grid (domain.schedule). In-flight polls keep their own phase: with
    1,000 deployments in flight, one burst every fast poll made the last of them wait for the rest (stage ->
    status p99 18.9 s against 10.8 s unaligned, bench.scale)."""
    return settings.poll_idle_seconds, settings.events_idle_seconds


def _cluster_of(body: Mapping[str, Any]) -> str:
    return cluster_of(shape.child(shape.child(body, "spec"), "target"))


async def _sleep(wake: asyncio.Event, stopped: Any, delay: float) -> None:
    """Sleep `delay` seconds, or less when the CR changed (wake) or the daemon is being stopped."""
    if delay <= 0:
        return
    waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())}
    try:
        await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        wake.clear()
