"""The release wave loop: one per EcsReleaseWave (a kopf daemon in ecsbg.handlers), thin around the pure pass.

list the namespace's releases (and, at a new spec's start, resolve its image tags: ecsbg.pinning) ->
domain.waves.status.wave_pass -> create/patch children (idempotent) -> status patch -> Events. Children are
written before the status that records them: a kill in between leaves children the next pass recognises as
current (their spec-hash annotation), so nothing is started twice; resolved digests are recorded before both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ecsbg import pinning
from ecsbg.analysis.runner import AnalysisRunner
from ecsbg.aws.digests import ImageDigests
from ecsbg.clock import Clock
from ecsbg.domain import shape
from ecsbg.domain.analysis.model import AnalysisRun
from ecsbg.domain.waves import gates
from ecsbg.domain.waves.planning import Write
from ecsbg.domain.waves.status import Outcome, wave_pass
from ecsbg.gating import PolicyContext
from ecsbg.k8s.events import EventSink
from ecsbg.k8s.status import ReleaseGone
from ecsbg.k8s.waves import AlreadyExists, WaveApi
from ecsbg.metrics.recorder import MetricsRecorder, NullRecorder

logger = logging.getLogger(__name__)


@dataclass
class WaveState:
    """Per-wave memory of the loop: only what makes it responsive, never what decides (that is the children's)."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    last_status: dict[str, Any] | None = None  # fresher than kopf's body right after our own patch
    failure: str | None = None
    gone: bool = False


@dataclass(frozen=True)
class WaveDeps:
    api: WaveApi
    events: EventSink
    clock: Clock
    poll_fast: float
    poll_idle: float
    backoff_max: float
    metrics: MetricsRecorder = field(default_factory=NullRecorder)
    analysis: AnalysisRunner | None = None  # the releases' analysis engine, for analysis gates; None: none here
    digests: ImageDigests | None = None  # image registries, to pin a new spec's tags once (ecsbg.pinning)
    policy: PolicyContext | None = None  # EcsReleasePolicies: who resolves, and whether the project pins digests


async def wave_once(body: Mapping[str, Any], deps: WaveDeps, state: WaveState,
                    claims: Callable[[Any], Any]) -> Outcome:
    meta = shape.child(body, "metadata")
    namespace, name = shape.text(meta.get("namespace")), shape.text(meta.get("name"))
    prior = state.last_status if state.last_status is not None else dict(shape.child(body, "status"))
    current = {**body, "status": prior}
    templates, analyses = await _analyses(current, namespace, name, deps)
    resolved = await pinning.resolve(current, deps.digests, deps.policy)
    outcome = wave_pass(current, await deps.api.list_releases(namespace), claims, deps.clock.now(),
                        templates=templates, analyses=analyses, resolved=resolved)
    if isinstance(resolved, Mapping) and outcome.status.get("images") != prior.get("images"):
        # recorded before any child carries them: a process killed in between reuses them, never resolves again
        await deps.api.patch_wave_status(namespace, name, {"images": outcome.status["images"]})
    for write in outcome.writes:
        await _write(deps.api, namespace, write)
    if outcome.status != {k: prior.get(k) for k in outcome.status}:
        await deps.api.patch_wave_status(namespace, name, outcome.status)
    state.last_status = {**prior, **outcome.status}
    deps.events.emit(body, outcome.events)
    _report(deps.metrics, namespace, name, prior, outcome)
    return outcome


def _report(metrics: MetricsRecorder, namespace: str, name: str, prior: Mapping[str, Any], outcome: Outcome) -> None:
    """The wave's gauges every pass; its counters on transitions only, found by comparing with the status the pass
    started from: a restarted operator reads the recorded status back and counts nothing twice."""
    status = outcome.status
    metrics.wave_state(namespace=namespace, name=name, phase=status["phase"], current_wave=status.get("currentWave"),
                       done=outcome.done, total=outcome.total)
    same_attempt = prior.get("attempt") == status.get("attempt")
    if outcome.ended and not (same_attempt and prior.get("phase") == status["phase"]
                              and prior.get("message") == status.get("message")):
        metrics.wave_finished(result=outcome.ended)
    before = {shape.mapping(s).get("name"): shape.mapping(shape.mapping(s).get("gate"))
              for s in prior.get("waves") or []} if same_attempt else {}
    for step in status.get("waves") or []:
        verdict = shape.mapping(step.get("gate")).get("verdict")
        if verdict and verdict != before.get(step["name"], {}).get("verdict"):
            metrics.wave_gate(verdict=verdict)


async def _analyses(body: Mapping[str, Any], namespace: str, name: str,
                    deps: WaveDeps) -> tuple[dict[gates.TemplateKey, Any] | None, dict[str, AnalysisRun]]:
    """Observe for the analysis gates: the templates they reference (the pass refuses a missing one before any
    child exists) and, measured by the releases' runner, each run a prior pass started and recorded."""
    refs = gates.references(body)
    if deps.analysis is None:
        return (None if refs else {}), {}
    templates = {}
    for ref in {(r.kind, r.template_name): r for r in refs.values()}.values():
        templates[ref.kind, ref.template_name] = await deps.analysis.templates.template(ref.kind, namespace,
                                                                                         ref.template_name)
    measured = {}
    for wave, (run, ref) in gates.live(shape.child(body, "status"), refs).items():
        if not run.metrics:  # its first measurement: the verdict series exist from now on (runner.step does so)
            deps.analysis.metrics.analysis_started(template=run.template)
        measured[wave] = await deps.analysis.advance(run, ref, namespace, gates.facts(namespace, name, run.attempt,
                                                                                       wave))
    return templates, measured


async def _write(api: WaveApi, namespace: str, write: Write) -> None:
    if write.kind == "create":
        try:
            await api.create_release(namespace, write.body)
        except AlreadyExists:  # created by a pass that died before its status: the next pass sees it
            logger.info("child release %s already exists", write.name)
        return
    await api.patch_release(namespace, write.name, write.ops)


async def wave_loop(body: Mapping[str, Any], deps: WaveDeps, state: WaveState, claims: Callable[[Any], Any],
                    stopped: Any) -> None:
    backoff = 0.0
    while not stopped and not state.gone:
        try:
            outcome = await wave_once(body, deps, state, claims)
            delay, backoff = (deps.poll_fast if outcome.active else deps.poll_idle), 0.0
            if state.failure is not None:
                logger.info("wave passes work again")
                state.failure = None
        except ReleaseGone:
            return
        except Exception as exc:  # logged once per kind of error; the loop keeps going with backoff
            backoff = min(deps.backoff_max, max(deps.poll_fast, backoff * 2))
            delay = backoff
            text = f"{type(exc).__name__}: {exc}"
            if text != state.failure:
                logger.warning("wave pass failed: %s", text, exc_info=state.failure is None)
                state.failure = text
        try:
            await asyncio.wait_for(state.wake.wait(), timeout=delay)
        except TimeoutError:
            pass
        state.wake.clear()
