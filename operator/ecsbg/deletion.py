"""Deleting a release (docs/design.md "Deleting a release"): `spec.onDelete`.

`Leave` (the default) needs nothing from the operator: no finalizer, the release goes at once and an ECS
deployment in flight runs on (ECS owns it; a Pause hook waits until its timeout and takes its timeout action).
`Rollback` releases carry the finalizer ecsbg.dev/rollback-on-delete: the watch handler (ecsbg.handlers) adds it
while the release asks for Rollback and removes it when it no longer does (`finalizer_edit`). Once deletion starts,
`roll_back` stops the deployment in flight with StopServiceDeployment(ROLLBACK) and the handler then removes the
finalizer. ECS rolls back by itself; the operator does not wait for the rollback to end (nothing is left to report
it on).

Our own code, not a kopf on.delete handler: a change-detecting kopf handler makes kopf build and compare each
release's essence on every watch event, most of them caused by our own status writes (ecsbg.handlers NoDiffBase).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ecsbg import gating
from ecsbg.domain import shape
from ecsbg.domain.actions import StopDeployment
from ecsbg.domain.codec import status_from_dict
from ecsbg.domain.events import NORMAL, WARNING, EventRecord
from ecsbg.domain.model import STOPPABLE_STATUSES, ReleaseSpec, ReleaseStatus
from ecsbg.domain.observation import Observation
from ecsbg.domain.parsing import InvalidSpec, parse_release
from ecsbg.reconciler import Deps, LoopState

FINALIZER = "ecsbg.dev/rollback-on-delete"
# the finalizer kopf's defaults put on every release in earlier versions of ecsbg: removed on sight
LEGACY_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"
DELETE_RETRIES = 30  # tries of StopServiceDeployment when deleting an onDelete: Rollback release, then let go

logger = logging.getLogger(__name__)
PatchFn = Callable[[dict[str, Any]], None]


def wants_finalizer(body: Mapping[str, Any]) -> bool:
    # domain.shape: a body that bypassed the schema may have a spec that is not an object
    return shape.child(body, "spec").get("onDelete") == "Rollback"


def _finalizers(body: Mapping[str, Any]) -> list[str]:
    return list(shape.child(body, "metadata").get("finalizers") or [])


def _deleting(body: Mapping[str, Any]) -> bool:
    return bool(shape.child(body, "metadata").get("deletionTimestamp"))


def must_roll_back(body: Mapping[str, Any]) -> bool:
    """Deletion has started and our finalizer still holds the release: `roll_back`, then `without(FINALIZER)`."""
    return _deleting(body) and FINALIZER in _finalizers(body)


def finalizer_edit(body: Mapping[str, Any]) -> PatchFn | None:
    """The change the release's finalizers need outside a rollback, if any: ours while it asks for Rollback, not
    otherwise, and never the one older versions left. The API server refuses a new finalizer once deletion has
    started, and `must_roll_back` decides about ours then."""
    present = _finalizers(body)
    deleting = _deleting(body)
    wanted = not deleting and wants_finalizer(body)
    drop = (LEGACY_FINALIZER,) + (() if deleting or wanted else (FINALIZER,))
    add = FINALIZER if wanted else None
    if any(f in present for f in drop) or (add is not None and add not in present):
        return partial(_edit, drop=drop, add=add)
    return None


def without(finalizer: str) -> PatchFn:
    return partial(_edit, drop=(finalizer,), add=None)


def _edit(body: dict[str, Any], drop: tuple[str, ...], add: str | None) -> None:
    """A kopf patch function: kopf applies it to the freshest body and sends the difference as a JSON patch, so
    other controllers' finalizers are kept as they are."""
    meta = body.setdefault("metadata", {})
    finalizers = [f for f in meta.get("finalizers") or [] if f not in drop]
    if add is not None and add not in finalizers:
        finalizers.append(add)
    meta["finalizers"] = finalizers


async def roll_back(body: Mapping[str, Any], deps: Deps, state: LoopState | None,
                    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
    """`rollback_on_delete` until it is done, a terminal error or the last of DELETE_RETRIES tries; Events on the
    way. Runs in the release's watch handler, which holds only this release's events meanwhile."""
    for attempt in range(DELETE_RETRIES):
        outcome = await rollback_on_delete(body, deps, state, give_up=attempt == DELETE_RETRIES - 1)
        deps.events.emit(body, outcome.events)
        if not outcome.retry:
            return
        logger.info("StopServiceDeployment failed with a retryable error (try %d of %d); again in %.1f s",
                    attempt + 1, DELETE_RETRIES, deps.settings.poll_fast_seconds)
        await sleep(deps.settings.poll_fast_seconds)


@dataclass(frozen=True)
class DeleteOutcome:
    """`retry` says a retryable AWS error stopped us: keep the finalizer and try again."""

    events: list[EventRecord] = field(default_factory=list)
    retry: bool = False


async def rollback_on_delete(body: Mapping[str, Any], deps: Deps, state: LoopState | None,
                             give_up: bool = False) -> DeleteOutcome:
    """Stop the release's deployment if ECS still runs it. `give_up`: the last allowed try, so a retryable
    error is reported and the release is let go instead of kept forever."""
    if state is not None:
        async with state.busy:  # the loop's pass in progress (it may be starting a deployment) ends first
            prior = _prior(body, state)
    else:
        prior = _prior(body, None)
    recorded = prior.deployment
    if recorded is None:
        return DeleteOutcome([EventRecord(NORMAL, "RollbackOnDelete", "release deleted with spec.onDelete "
                                          "Rollback; no ECS deployment was started, nothing to roll back")])
    spec = _spec(body)
    if spec is not None and state is not None and state.policy is not None:
        try:  # the role (and session) an EcsReleasePolicy gave the release: the deployment is in its account
            spec, _ = await gating.admit(body, spec, state.policy)
        except InvalidSpec:
            pass  # no policy allows it any more: try with what the release itself names
    observation = Observation()
    if spec is not None:
        observation = await deps.ecs.observe(spec, prior)
        seen = next((d for d in (observation.tracked, observation.current) if d and d.arn == recorded.arn), None)
        if seen is not None and seen.status not in STOPPABLE_STATUSES:
            return DeleteOutcome([EventRecord(NORMAL, "RollbackOnDelete", f"release deleted with spec.onDelete "
                                              f"Rollback; deployment {recorded.arn} is {seen.status}, nothing to stop")])
    result = await deps.ecs.apply(StopDeployment(deployment_arn=recorded.arn), observation,
                                  spec.target if spec is not None else None)
    problem = result.problem
    if problem is None:
        return DeleteOutcome([EventRecord(NORMAL, "RollbackOnDelete", f"release deleted with spec.onDelete Rollback: "
                                          f"StopServiceDeployment ROLLBACK for {recorded.arn} (attempt "
                                          f"{recorded.attempt}); ECS rolls back to the previous revision")])
    what = f"StopServiceDeployment ROLLBACK for {recorded.arn} failed with {problem.code}: {problem.message}"
    if not problem.terminal and not give_up:
        return DeleteOutcome([], retry=True)
    return DeleteOutcome([EventRecord(WARNING, "RollbackOnDeleteFailed", f"{what}; the release is deleted anyway "
                                      "and ECS finishes the deployment on its own")])


def _prior(body: Mapping[str, Any], state: LoopState | None) -> ReleaseStatus:
    stored = state.last_status if state is not None and state.last_status is not None else body.get("status")
    return status_from_dict(dict(stored or {}))


def _spec(body: Mapping[str, Any]) -> ReleaseSpec | None:
    try:
        return parse_release(body)
    except InvalidSpec:  # the deployment ARN alone still names its region; the operator's own credentials act
        return None
