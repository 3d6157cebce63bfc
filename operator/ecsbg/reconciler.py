"""The reconcile pipeline: one pass (the per-release loop that runs passes is ecsbg.loop).

One pass: parse the CR -> observe ECS -> plan one action -> apply it (idempotent) -> compute the status in one
pure function; ecsbg.loop then patches status, emits Events on transitions and records metrics.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from ecsbg import gating, measure
from ecsbg.analysis.runner import AnalysisRunner
from ecsbg.clock import Clock
from ecsbg.domain import actions, ownership, shape
from ecsbg.domain.arns import service_account_errors
from ecsbg.domain.codec import status_from_dict, status_patch, status_to_dict
from ecsbg.domain.events import WARNING, EventRecord, transitions
from ecsbg.domain.model import Phase, ReleaseSpec, ReleaseStatus
from ecsbg.domain.observation import Observation
from ecsbg.domain.ownership import Claim, ServiceOwnedElsewhere, target_key
from ecsbg.domain.ownership import check as check_ownership
from ecsbg.domain.parsing import InvalidSpec, parse_release
from ecsbg.domain.planning import ENDED_PHASES, Plan, plan
from ecsbg.domain.requesters import requesters
from ecsbg.domain.status import compute_status
from ecsbg.health import Health
from ecsbg.k8s.events import EventSink
from ecsbg.k8s.status import StatusWriter
from ecsbg.metrics.recorder import MetricsRecorder
from ecsbg.notify.sender import Notifier
from ecsbg.releasebook import ReleaseBook
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
    # last_status decoded, while last_status is that very dict (most passes change nothing: ecsbg.loop keeps it)
    decoded: tuple[Mapping[str, Any], ReleaseStatus] | None = None


async def reconcile(
    body: Mapping[str, Any], prior_dict: Mapping[str, Any], deps: Deps,
    claims: Callable[[tuple[str, str, str]], Iterable[Claim]] | None = None,
    policy: gating.PolicyContext | None = None,
    reuse: Observation | None = None,
    decoded: ReleaseStatus | None = None,
) -> Outcome:
    """One pass of the pipeline. Never raises for bad input or AWS errors: they end up in the status.
    `decoded`: `prior_dict` as status_from_dict reads it, when the caller has it."""
    now = deps.clock.now()
    metadata = shape.child(body, "metadata")  # any JSON may arrive here (domain.shape)
    generation = shape.integer(metadata.get("generation"), 0)
    prior = decoded if decoded is not None else status_from_dict(shape.mapping(prior_dict))
    try:
        spec = _parse(body, metadata)
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


PARSED_KEPT = 4096  # parsed specs kept (one per release; a release's older versions fall out first)
_parsed: OrderedDict[tuple[Any, ...], ReleaseSpec | InvalidSpec] = OrderedDict()


def _parse(body: Mapping[str, Any], metadata: Mapping[str, Any]) -> ReleaseSpec:
    """parse_release, once per version of what it reads: a release is passed every few seconds while in flight
    and its spec rarely changes, and parsing and hashing it was 5 % of the operator's CPU with 1,000 releases
    rolling out. It reads the spec and the annotations (requests): the key is the uid, metadata.generation (the
    API server bumps it on every spec change, never on a status write) and the annotations. Without a generation,
    the resourceVersion (any write); bodies without a uid (tests, hand-made) are parsed every time."""
    uid, generation = metadata.get("uid"), metadata.get("generation")
    version: Any = generation if isinstance(generation, int) else metadata.get("resourceVersion")
    if not isinstance(uid, str) or not uid or not version:
        return parse_release(body)
    annotations = metadata.get("annotations") or {}
    key = (uid, version, tuple(annotations.items()) if isinstance(annotations, Mapping) else repr(annotations))
    found = _parsed.get(key)
    if found is None:
        try:
            found = parse_release(body)
        except InvalidSpec as invalid:
            found = invalid
        _parsed[key] = found
        while len(_parsed) > PARSED_KEPT:
            _parsed.popitem(last=False)
    if isinstance(found, InvalidSpec):
        raise found.with_traceback(None)  # a fresh traceback: re-raising one instance would chain them forever
    return found


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
