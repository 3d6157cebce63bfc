"""kopf registration: the only module with kopf decorators. No logic here.

One daemon per release runs the reconcile loop (ecsbg.loop.release_loop): it is the only place a release
is reconciled, so two passes over the same release never overlap and the status has a single writer. Change
handlers only wake the loop so a spec edit or a request annotation is acted on at once instead of at the next poll.

Finalizers (docs/design.md "Deleting a release"): a release carries one only when it asks for `spec.onDelete:
Rollback` (ecsbg.dev/rollback-on-delete, kept and acted on by `watched`: ecsbg.deletion). kopf puts its finalizer
on every object a daemon serves, so that it can stop the daemon before the object disappears (kopf/on.py
`daemon()` hard-codes `requires_finalizer=True`; nolar/kopf#833, #1074; PR #1183 to make it optional was closed).
That would make every release undeletable without a running operator, for no duty of ours: the loop stops itself
instead, when the watch reports the release DELETED (`watched`) or a status write answers 404
(reconciler.ReleaseGone).

No change-detecting kopf handler (on.create, on.update, on.delete, on.resume) is registered, so kopf compares no
essences: `NoDiffBase` spares it building one per watch event (most of them caused by our own status writes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from ecsbg import deletion, gating
from ecsbg.domain import shape
from ecsbg.domain.ownership import target_key
from ecsbg.k8s import login as k8s_login
from ecsbg.k8s.status import GROUP, PLURAL, VERSION
from ecsbg.loop import release_loop
from ecsbg.reconciler import Deps, LoopState
from ecsbg.settings import Settings

RESOURCE = (GROUP, VERSION, PLURAL)
WAVES = (GROUP, VERSION, "ecsreleasewaves")  # release waves (ecsbg.waves), each owning child releases
POLICIES = (GROUP, VERSION, "ecsreleasepolicies")  # cluster-scoped: watched cluster-wide whatever the namespaces
# kopf's own finalizer: never added (no handler of ours asks for it), and not deletion.FINALIZER, which kopf would
# otherwise remove from every release as needed by no handler of its registry
KOPF_FINALIZER = "ecsbg.dev/kopf-unused"


def build_registry(settings: Settings | None = None) -> kopf.OperatorRegistry:
    """A fresh registry, so tests and embedders never share handlers through kopf's default registry."""
    registry = kopf.OperatorRegistry()
    _register(registry, settings or Settings.from_env())
    return registry


def _register(registry: kopf.OperatorRegistry, operator_settings: Settings) -> None:
    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # A fresh registry has no login handler (kopf adds them only to its default registry at import):
        # in a pod, the service account; elsewhere, KUBECONFIG or ~/.kube/config, exec plugins included
        return k8s_login.connection_info(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger, **_: Any) -> None:
        try:
            await _start(settings, memo, logger)
        except asyncio.CancelledError:
            # SIGTERM while starting: kopf runs no cleanup after a cancelled startup, so what was started stops
            # here (a watchdog task left running held the exit for kopf's 5 s wait for hung tasks, and longer)
            await _stop_started(memo)
            raise

    async def _start(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger) -> None:
        configure_kopf(settings, operator_settings)
        if getattr(memo, "deps", None) is None:  # tests and the demo inject their own
            from ecsbg import wiring

            memo.deps = await wiring.build_deps(operator_settings)
            memo.owns_deps = True
        if getattr(memo, "secrets", None) is None:  # reads the Secrets EcsReleasePolicies name (tests inject theirs)
            from ecsbg.k8s.secrets import KubeSecretReader

            memo.secrets = KubeSecretReader()
        if getattr(memo, "wave_loops", None) is None:  # set on the root memo, before any object's copy of it
            memo.wave_loops = {}
        if getattr(memo, "wave_api", None) is None:  # release waves' Kubernetes seam (tests may inject theirs)
            from ecsbg.k8s.waves import KubeWaveApi

            memo.wave_api = KubeWaveApi(memo.deps.settings.k8s_timeout_seconds)
        memo.watchdog = asyncio.create_task(watchdog(memo.deps), name="ecsbg-watchdog")
        memo.deps.ecs_events = _start_events(memo.deps)
        await _fill_release_book(memo, logger)

    @kopf.on.probe(registry=registry, id="ecsbg")
    def probe(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
        # /healthz answers 500 when this raises a PermanentError (a plain error would make kopf retry it)
        deps: Deps = memo.deps
        problems = deps.health.check()
        if problems:
            raise kopf.PermanentError("; ".join(problems))
        return {"healthy": True}

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        await _stop_started(memo)
        stopped = getattr(memo, "stopped", None)
        if stopped is not None:  # the release loops have stopped: an elected replica hands its Lease over now
            await asyncio.to_thread(stopped)

    @kopf.index(*POLICIES, registry=registry, id="release_policies")
    def release_policies(name: str, body: kopf.Body, **_: Any) -> dict[Any, Any]:
        return {None: dict(body)}  # every EcsReleasePolicy, read whole by ecsbg.gating

    @kopf.index("", "v1", "namespaces", registry=registry, id="namespace_labels")
    def namespace_labels(name: str, labels: kopf.Labels, **_: Any) -> dict[Any, Any]:
        return {name: dict(labels)}  # a policy's namespaceSelector.labelSelector matches these

    @kopf.daemon(*RESOURCE, registry=registry, cancellation_timeout=10.0)
    async def release(body: kopf.Body, namespace: str, name: str, memo: kopf.Memo, stopped: Any,
                      release_policies: kopf.Index, namespace_labels: kopf.Index, **_: Any) -> None:
        deps: Deps = memo.deps
        # starts with the essence it is spawned with: the next watch event (most often of its own first status
        # write) is no change to wake it for
        memo.loop_state = getattr(memo, "loop_state", None) or LoopState(essence=_essence(body))
        memo.loop_state.claims = deps.releases.claims
        memo.loop_state.policy = policy_context(memo, release_policies, namespace_labels)
        deps.wakers.register(memo.loop_state, target_key(shape.child(body, "spec", "target")), memo.loop_state.wake)
        try:
            await release_loop(body=body, namespace=namespace, name=name, deps=deps, state=memo.loop_state,
                               stopped=stopped)
        finally:
            deps.wakers.unregister(memo.loop_state)

    _without_finalizer(registry, release)
    _register_waves(registry)

    # No kopf.on.update: an update handler makes kopf write its diff-base annotation on every release, and on a
    # release the API server refuses every write to (stored without a spec past an older schema) kopf then
    # retries that patch forever with a traceback. The watch's events wake the loop instead (`_essence`).
    @kopf.on.event(*RESOURCE, registry=registry)
    async def watched(type: str, body: kopf.Body, namespace: str, name: str, memo: kopf.Memo, patch: kopf.Patch,
                      **_: Any) -> None:
        if type == "DELETED":
            memo.deps.releases.remove(namespace, name)
        else:
            memo.deps.releases.put(body)
        state = getattr(memo, "loop_state", None)
        if state is not None and type != "DELETED":
            essence = _essence(body)
            if essence != state.essence:  # spec (generation), annotations or labels changed; not our status write
                state.essence = essence
                memo.deps.wakers.register(state, target_key(shape.child(body, "spec", "target")), state.wake)
                state.wake.set()
        if type == "DELETED":  # no finalizer: this event is all the operator learns; end the loop, drop series
            _end_loop(state)
            memo.deps.metrics.forget_release(namespace=namespace, name=name)
        elif deletion.must_roll_back(body):  # onDelete: Rollback, and its deletion has started
            _end_loop(state)  # the pass in progress ends first (roll_back waits for it), and no other starts
            await deletion.roll_back(body, memo.deps, state)
            patch.fns.append(deletion.without(deletion.FINALIZER))
        else:
            edit = deletion.finalizer_edit(body)
            if edit is not None:
                patch.fns.append(edit)

    if registry._changing.get_all_handlers():  # NoDiffBase: kopf would see no change to hand them
        raise RuntimeError("a change-detecting kopf handler needs a diff-base storage: see NoDiffBase")


def policy_context(memo: kopf.Memo, release_policies: kopf.Index, namespace_labels: kopf.Index
                   ) -> gating.PolicyContext:
    """The EcsReleasePolicy gate's view (kopf indexes, Secrets): a release's admission, and a wave's digest
    pinning (who resolves its images, and whether the project pins them: ecsbg.pinning)."""
    deps: Deps = memo.deps
    return gating.PolicyContext(
        policies=lambda: list(release_policies.get(None, ())),
        namespace_labels=lambda ns: next(iter(namespace_labels.get(ns, ())), None),
        secrets=memo.secrets, require_policy=deps.settings.require_policy,
        release_status=deps.releases.state,
    )


def _register_waves(registry: kopf.OperatorRegistry) -> None:
    """EcsReleaseWave (docs/api.md "Release waves"): one loop per wave (ecsbg.waves), served without kopf's
    finalizer like releases (its children carry an ownerReference: the garbage collector deletes them with it).
    The loop polls and is woken by changes of the wave and of its children (label ecsbg.dev/wave)."""
    from ecsbg.domain.waves.model import LABEL_WAVE
    from ecsbg.waves import WaveDeps, WaveState, wave_loop

    def loops(memo: kopf.Memo) -> dict[tuple[str, str], WaveState]:
        # one dict shared by every object's memo (kopf copies the root memo shallowly), set at startup
        found = getattr(memo, "wave_loops", None)
        return found if found is not None else {}

    @kopf.daemon(*WAVES, registry=registry, cancellation_timeout=10.0)
    async def wave(body: kopf.Body, namespace: str, name: str, memo: kopf.Memo, stopped: Any,
                   release_policies: kopf.Index, namespace_labels: kopf.Index, **_: Any) -> None:
        deps: Deps = memo.deps
        state = WaveState()
        loops(memo)[namespace, name] = state
        wave_deps = WaveDeps(api=memo.wave_api, events=deps.events, clock=deps.clock,
                             poll_fast=deps.settings.poll_fast_seconds, poll_idle=deps.settings.poll_idle_seconds,
                             backoff_max=deps.settings.backoff_max_seconds, metrics=deps.metrics,
                             analysis=deps.analysis, digests=deps.digests,
                             policy=policy_context(memo, release_policies, namespace_labels))
        try:
            await wave_loop(body, wave_deps, state, deps.releases.claims, stopped)
        finally:
            loops(memo).pop((namespace, name), None)

    _without_finalizer(registry, wave)

    @kopf.on.event(*WAVES, registry=registry)
    def wave_watched(type: str, namespace: str, name: str, memo: kopf.Memo, **_: Any) -> None:
        state = loops(memo).get((namespace, name))
        if state is not None:
            state.gone = state.gone or type == "DELETED"
            state.wake.set()
        if type == "DELETED":  # no finalizer: this event is all the operator learns; drop the wave's series
            memo.deps.metrics.forget_wave(namespace=namespace, name=name)

    @kopf.on.event(*RESOURCE, registry=registry, labels={LABEL_WAVE: kopf.PRESENT})
    def child_watched(namespace: str, labels: kopf.Labels, memo: kopf.Memo, **_: Any) -> None:
        state = loops(memo).get((namespace, str(labels.get(LABEL_WAVE))))
        if state is not None:  # a child changed (its phase, say): its wave looks now, not at its next poll
            state.wake.set()


def _without_finalizer(registry: kopf.OperatorRegistry, daemon: Any) -> None:
    """Serve the daemon without kopf's finalizer (module docstring). kopf has no public switch for it; the handler
    is a frozen dataclass whose `requires_finalizer` kopf reads when it decides to add or remove its finalizer.
    tests/unit/test_deletion.py fails if a kopf upgrade changes this."""
    spawning = registry._spawning
    spawning._handlers = [dataclasses.replace(h, requires_finalizer=False) if h.fn is daemon else h
                          for h in spawning._handlers]


def _essence(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a user changes (the spec, counted by metadata.generation; annotations; labels), not status."""
    meta = shape.child(body, "metadata")
    return (meta.get("generation"), json.dumps(meta.get("annotations") or {}, sort_keys=True, default=str),
            json.dumps(meta.get("labels") or {}, sort_keys=True, default=str))


def _end_loop(state: LoopState | None) -> None:
    if state is not None:
        state.gone = True
        state.wake.set()


async def _fill_release_book(memo: kopf.Memo, logger: logging.Logger) -> None:
    """Every watched release in ecsbg.releasebook before kopf starts watching (startup handlers run first), so a
    release's first pass sees every other release's claim. `memo.watched_namespaces`: what kopf watches (set by
    `ecsbg run` and ecsbg.embedded; absent, the book fills from the watch alone)."""
    watched = getattr(memo, "watched_namespaces", None)
    if watched is None:
        return
    from ecsbg.k8s.listing import list_releases

    try:
        settings = memo.deps.settings
        listed = await list_releases(watched, timeout=settings.k8s_timeout_seconds,
                                     label_selector=settings.release_selector)
    except Exception as exc:  # kopf's own LIST decides whether the operator can run; the watch fills the book
        logger.warning("listing the releases before watching failed (%s): each release's claims are known once "
                       "the watch has delivered it", exc)
        return
    for obj in listed:
        memo.deps.releases.put(obj)
    logger.info("%d releases listed before watching", len(listed))


def _start_events(deps: Deps) -> Any:
    """ECSBG_EVENTS_QUEUE_URL: the consumer of ECS events (ecsbg.aws.events), with the gateway's clients."""
    url = deps.settings.events_queue_url
    factory = getattr(deps.ecs, "factory", None)
    if not url or factory is None:
        return None
    from ecsbg.aws.events import EventConsumer

    return EventConsumer(factory.sqs(deps.settings.events_region()), url, deps.wakers.wake,
                         record=lambda result: deps.metrics.ecs_event(result=result)).start()


async def watchdog(deps: Deps) -> None:
    """Every few seconds: is the Kubernetes API answering (an idle operator writes nothing that would tell), is
    any release loop stuck (logged once, naming the release); both exported as metrics for alerts."""
    interval = min(5.0, deps.settings.loop_stuck_seconds / 2, deps.settings.api_unreachable_seconds / 2)
    ping = getattr(deps.status, "ping", None)
    while True:
        if ping is not None:
            try:
                # the request has its own timeouts (connect, read); this bounds the whole ping, connect included
                await asyncio.wait_for(ping(), timeout=deps.settings.k8s_timeout_seconds)
                deps.health.api_answered()
            except Exception:
                deps.health.api_failed()
        deps.health.check()
        deps.metrics.runtime_health(loops_stuck=len(deps.health.stuck()),
                                    api_unreachable_seconds=deps.health.api_unreachable_seconds())
        await asyncio.sleep(interval)


async def _stop_started(memo: kopf.Memo) -> None:
    """Stop what the startup handler started, as far as it got (kopf's cleanup, or a startup cancelled midway)."""
    task = getattr(memo, "watchdog", None)
    if task is not None:
        task.cancel()
    consumer = getattr(getattr(memo, "deps", None), "ecs_events", None)
    if consumer is not None:
        consumer.stop()
    notifier = getattr(getattr(memo, "deps", None), "notifier", None)
    if notifier is not None:  # its workers and HTTP session belong to this event loop, whoever built deps
        await notifier.close()
    if getattr(memo, "owns_deps", False):
        from ecsbg import wiring

        await wiring.close_deps(memo.deps)


def configure_kopf(settings: kopf.OperatorSettings, operator: Settings | None = None) -> None:
    settings.persistence.finalizer = KOPF_FINALIZER  # only onDelete: Rollback releases need one, ours
    # Progress annotations (none written: no change-detecting handler) under our own prefix, never in status: the
    # CRD's structural schema would prune anything kopf wrote there (kopf docs/configuration.rst).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.ecsbg.dev")
    settings.persistence.diffbase_storage = NoDiffBase()
    # Events are the operator's own (ecsbg.k8s.events: component ecsbg-operator, a real action); kopf's would say
    # `From: kopf`, `action: Action?`.
    settings.posting.enabled = False
    # Long watches get silently dropped by load balancers in front of API servers; bound them (kopf#204 advice).
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    # every other request kopf makes (Events, patches, discovery) is bounded too: kopf's default is 5 minutes
    timeout = (operator or Settings()).k8s_timeout_seconds
    settings.networking.request_timeout = timeout
    settings.networking.connect_timeout = timeout
    settings.watching.connect_timeout = min(settings.watching.connect_timeout, timeout)
    selector = (operator or Settings()).release_selector
    if selector:  # sharding by label: the API server filters the list and the watch (kopf passes labelSelector)
        settings.watching.label_selectors[GROUP, PLURAL] = selector
        settings.watching.label_selectors[GROUP, WAVES[2]] = selector  # a wave's children carry its labels


class NoDiffBase(kopf.DiffBaseStorage):
    """No essence at all. kopf builds one on every watch event, to compare with the last one a change-detecting
    handler saw and to reset timers' idleness; we have neither such handlers (`_register` refuses them) nor
    timers. Building it was 5 % of the operator's CPU with 1,000 releases starting at once, our own status writes
    causing most of the events (tests/unit/test_handlers.py checks kopf then sees no change)."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> None:  # type: ignore[override]
        return None

    def fetch(self, *, body: kopf.Body) -> None:  # type: ignore[override]
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: Any) -> None:  # type: ignore[override]
        return None
