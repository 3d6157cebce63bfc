"""The per-release loop: one pass (ecsbg.reconciler), then a sleep: while a deployment is in flight, until the fast
poll interval after the pass started (`_in_flight_poll`), otherwise the idle interval (idle polls on the cluster's
grid, domain.schedule); waking early when the CR changes (a spec edit or a request annotation).

Order matters and is fixed here: the status patch is written before Events and metrics, so an Event or a
finished-release count never describes a state that was not persisted (argo-rollouts' sync.go does the same).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ecsbg import logs, measure
from ecsbg.domain import actions, schedule, shape
from ecsbg.domain.events import WARNING, EventRecord
from ecsbg.domain.observation import Observation
from ecsbg.k8s.status import ReleaseGone, StatusRefused
from ecsbg.notify import passes as notify_passes
from ecsbg.reconciler import Deps, LoopState, Outcome, reconcile
from ecsbg.releasebook import cluster_of
from ecsbg.settings import Settings

logger = logging.getLogger(__name__)


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
        if not state.backoff and delay == deps.settings.poll_fast_seconds:
            delay = _in_flight_poll(delay, time.monotonic() - started)
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
    decoded = state.decoded[1] if state.decoded is not None and state.decoded[0] is prior_dict else None
    outcome = await reconcile(body, prior_dict, deps, state.claims, state.policy, reuse=_carried(state),
                              decoded=decoded)
    outcome, notified = _with_notifications(outcome, body, prior_dict, deps, namespace, name)
    changed = outcome.status_dict != prior_dict
    if changed:
        try:
            await _write_status(deps, namespace, name, outcome.patch)
        except StatusRefused as refused:
            return _refused(state, deps, body, outcome, refused)
    state.refused = None
    # unchanged (most passes in flight or idle): the same dict stays, and the next pass need not decode it again
    state.last_status = outcome.status_dict if changed else prior_dict
    state.decoded = None if changed else (prior_dict, outcome.prior)
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


MIN_POLL_SHARE = 0.5  # of the fast poll, left between the end of a pass and the start of the next


def _in_flight_poll(poll: float, elapsed: float) -> float:
    """A fast poll (a deployment in flight, mostly; also a refusal looked at again soon) starts a poll after the
    last pass started, not a poll after it ended: a stage ECS enters just after a read is otherwise seen a poll
    plus the pass's own time later, and a pass takes longest when many releases are in flight. At least half a
    poll apart, so passes slower than that (a saturated operator) do not follow each other back to back."""
    return max(poll - elapsed, poll * MIN_POLL_SHARE)


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
