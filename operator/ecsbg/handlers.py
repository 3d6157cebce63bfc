"""kopf registration: the only module with kopf decorators. No logic here.

One daemon per release runs the reconcile loop (ecsbg.reconciler.release_loop): it is the only place a release
is reconciled, so two passes over the same release never overlap and the status has a single writer. Change
handlers only wake the loop so a spec edit or a request annotation is acted on at once instead of at the next poll.

Finalizers (docs/design.md "Deleting a release"): a release carries one only when it asks for `spec.onDelete:
Rollback` (ecsbg.dev/rollback-on-delete, for the on.delete handler). kopf puts its finalizer on every object a
daemon serves, so that it can stop the daemon before the object disappears (kopf/on.py `daemon()` hard-codes
`requires_finalizer=True`; nolar/kopf#833, #1074; PR #1183 to make it optional was closed). That would make every
release undeletable without a running operator, for no duty of ours: the loop stops itself instead, when the watch
reports the release DELETED (`watched`) or a status write answers 404 (reconciler.ReleaseGone).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import kopf

from ecsbg.deletion import FINALIZER, rollback_on_delete
from ecsbg.domain.ownership import claim_account, target_key
from ecsbg.k8s.status import GROUP, PLURAL, VERSION
from ecsbg.reconciler import Deps, LoopState, release_loop
from ecsbg.settings import Settings

RESOURCE = (GROUP, VERSION, PLURAL)
# the finalizer kopf's defaults put on every release in earlier versions of ecsbg: removed on sight, see `watched`
LEGACY_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"
DELETE_RETRIES = 30  # tries of StopServiceDeployment when deleting an onDelete: Rollback release, then let go


def build_registry(settings: Settings | None = None) -> kopf.OperatorRegistry:
    """A fresh registry, so tests and embedders never share handlers through kopf's default registry."""
    registry = kopf.OperatorRegistry()
    _register(registry, settings or Settings.from_env())
    return registry


def _register(registry: kopf.OperatorRegistry, operator_settings: Settings) -> None:
    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # A fresh registry has no login handler (kopf adds them only to its default registry at import):
        # in a pod, the service account; elsewhere, KUBECONFIG or ~/.kube/config.
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: logging.Logger, **_: Any) -> None:
        configure_kopf(settings)
        if getattr(memo, "deps", None) is None:  # tests and the demo inject their own
            from ecsbg import wiring

            memo.deps = await wiring.build_deps(operator_settings)
            memo.owns_deps = True

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        if getattr(memo, "owns_deps", False):
            from ecsbg import wiring

            await wiring.close_deps(memo.deps)

    @kopf.index(*RESOURCE, registry=registry, id="release_targets")  # the kwarg name daemons receive
    def release_targets(namespace: str, name: str, spec: kopf.Spec, meta: kopf.Meta, **_: Any) -> dict[Any, Any]:
        # which releases claim which ECS service: one release per service (ecsbg.domain.ownership)
        target = dict(spec.get("target") or {})
        key = target_key(target)
        claim = (str(meta.get("creationTimestamp") or ""), f"{namespace}/{name}", claim_account(target))
        return {key: claim} if key else {}

    @kopf.daemon(*RESOURCE, registry=registry, cancellation_timeout=10.0)
    async def release(body: kopf.Body, namespace: str, name: str, memo: kopf.Memo, stopped: Any,
                      release_targets: kopf.Index, **_: Any) -> None:
        deps: Deps = memo.deps
        memo.loop_state = getattr(memo, "loop_state", None) or LoopState()
        memo.loop_state.claims = lambda key: list(release_targets.get(key, ()))
        await release_loop(body=body, namespace=namespace, name=name, deps=deps, state=memo.loop_state, stopped=stopped)

    _without_finalizer(registry, release)

    @kopf.on.update(*RESOURCE, registry=registry)
    async def changed(memo: kopf.Memo, **_: Any) -> None:
        state = getattr(memo, "loop_state", None)
        if state is not None:
            state.wake.set()

    @kopf.on.event(*RESOURCE, registry=registry)
    async def watched(type: str, body: kopf.Body, namespace: str, name: str, memo: kopf.Memo, patch: kopf.Patch,
                      **_: Any) -> None:
        if type == "DELETED":  # no finalizer: this event is all the operator learns; end the loop, drop series
            state = getattr(memo, "loop_state", None)
            if state is not None:
                state.gone = True
                state.wake.set()
            memo.deps.metrics.forget_release(namespace=namespace, name=name)
        elif LEGACY_FINALIZER in (body.get("metadata", {}).get("finalizers") or []):
            patch.fns.append(_drop_legacy_finalizer)

    # Not optional: kopf adds FINALIZER to the releases this handler matches (spec.onDelete Rollback) and removes it
    # when the handler has finished, or from a release whose onDelete changes back to Leave.
    @kopf.on.delete(*RESOURCE, registry=registry, field="spec.onDelete", value="Rollback", retries=DELETE_RETRIES)
    async def rollback_deleted(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
        deps: Deps = memo.deps
        outcome = await rollback_on_delete(body, deps, getattr(memo, "loop_state", None),
                                           give_up=retry >= DELETE_RETRIES - 1)
        deps.events.emit(body, outcome.events)
        if outcome.retry:
            raise kopf.TemporaryError("StopServiceDeployment failed with a retryable error",
                                      delay=deps.settings.poll_fast_seconds)


def _without_finalizer(registry: kopf.OperatorRegistry, daemon: Any) -> None:
    """Serve the daemon without kopf's finalizer (module docstring). kopf has no public switch for it; the handler
    is a frozen dataclass whose `requires_finalizer` kopf reads when it decides to add or remove its finalizer.
    tests/unit/test_deletion.py fails if a kopf upgrade changes this."""
    spawning = registry._spawning
    spawning._handlers = [dataclasses.replace(h, requires_finalizer=False) if h.fn is daemon else h
                          for h in spawning._handlers]


def _drop_legacy_finalizer(body: dict[str, Any]) -> None:
    finalizers = body.get("metadata", {}).get("finalizers") or []
    body["metadata"]["finalizers"] = [f for f in finalizers if f != LEGACY_FINALIZER]


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    settings.persistence.finalizer = FINALIZER  # only onDelete: Rollback releases need one (module docstring)
    # Progress and diff-base annotations under our own prefix, never in status: the CRD's structural schema
    # would prune anything kopf wrote there (kopf docs/configuration.rst, docs/results.rst).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.ecsbg.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kopf.ecsbg.dev", key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    # Long watches get silently dropped by load balancers in front of API servers; bound them (kopf#204 advice).
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
