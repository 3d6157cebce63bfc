"""One pass of a wave: what its children show -> the writes to make and the status, decided purely.

Nothing is remembered between passes but the status written and the children themselves. A target is started
once per child spec: a child whose `wave-spec-hash` is what the wave wants now is current, whatever attempt or
process wrote it. A wave (entry of spec.waves) is passed when its targets all succeeded and its gate passed; a
gate counts as passed once any target of a later wave is current (that target was only started after the gate
passed, by a process that may have died before recording it), so no restart skips or repeats a wave.

A failure (a current child Failed, RolledBack or Invalid, or `ecsbg.dev/abort=<attempt>`) stops the attempt:
nothing more is started. Children still in flight are left to finish (an abort passes `ecsbg.dev/abort` on to
them); then, with failurePolicy.rollback, each wave that has succeeded targets is returned to the task
definition those targets replaced, the failed wave first and the first wave last, one wave at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecsbg.domain.analysis.model import AnalysisRun, Verdict
from ecsbg.domain.hashing import digest
from ecsbg.domain.shape import child, mapping, text
from ecsbg.domain.waves import children as kids
from ecsbg.domain.waves import gates
from ecsbg.domain.waves.model import Child, Phase, Requests, Step, StepPhase, TargetState, WaveSpec

FAILED_PHASES = ("Failed", "RolledBack", "Invalid")
STARTED = (TargetState.IN_FLIGHT, TargetState.SUCCEEDED, TargetState.FAILED, TargetState.ROLLING_BACK,
           TargetState.ROLLED_BACK, TargetState.ROLLBACK_FAILED, TargetState.RETRYING)


@dataclass(frozen=True)
class Write:
    """create: `body` is the whole child; patch: `ops` is a JSON Patch (RFC 6902) on the child `name`."""

    kind: str
    name: str
    body: dict[str, Any] = field(default_factory=dict)
    ops: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Pass:
    phase: Phase
    message: str
    reason: str
    attempt: int
    writes: tuple[Write, ...] = ()
    steps: tuple[dict[str, Any], ...] = ()  # status.waves
    current: str | None = None  # the wave in progress
    done: int = 0  # targets succeeded (or rolled back, while rolling back)
    total: int = 0
    retried: dict[str, int] = field(default_factory=dict)  # target -> its child's failed attempt a retry replaces
    ended: str | None = None  # how the attempt ended, once nothing more will happen in it (metrics.WAVE_RESULTS)


@dataclass
class _Ctx:
    body: Mapping[str, Any]
    spec: WaveSpec
    children: Mapping[str, Child]
    prior: Mapping[str, Any]
    now: datetime
    requests: Requests
    attempt: int
    retried: dict[str, int] = field(default_factory=dict)
    analyses: Mapping[str, AnalysisRun] = field(default_factory=dict)  # gate runs the loop measured this pass

    def child_of(self, target: str) -> Child | None:
        return self.children.get(kids.child_name(text(child(self.body, "metadata").get("name")), target))

    def prior_step(self, name: str) -> Mapping[str, Any]:
        if self.prior.get("attempt") != self.attempt:
            return {}
        return next((mapping(s) for s in self.prior.get("waves") or [] if mapping(s).get("name") == name), {})


NO_REQUESTS = Requests()


def next_attempt(spec: WaveSpec, prior: Mapping[str, Any], requests: Requests = NO_REQUESTS) -> int:
    """A new spec (its hash, `requests` aside) is a new attempt, numbered like a release's from 1; so is
    `ecsbg.dev/retry=<attempt>` of an attempt that ended Failed or RolledBack."""
    attempt = prior.get("attempt") if isinstance(prior.get("attempt"), int) else 0
    if prior.get("specHash") != spec.spec_hash or not attempt:
        return attempt + 1
    retry = attempt in requests.retry and prior.get("phase") in ("Failed", "RolledBack") and not _waits(prior)
    return attempt + 1 if retry else attempt


def _waits(prior: Mapping[str, Any]) -> bool:
    """A failed attempt still waiting for targets in flight has not ended."""
    return any(mapping(t).get("state") == "InFlight" for s in prior.get("waves") or []
               for t in mapping(s).get("targets") or [])


def _retried(ctx: _Ctx) -> dict[str, int]:
    """Per target, the failed attempt of its child that this (retry) attempt replaces: recorded in status by the
    attempt's first pass, so a child that has not acted on its retry yet is not a new failure."""
    if ctx.prior.get("attempt") == ctx.attempt:
        return {str(k): v for k, v in mapping(ctx.prior.get("retried")).items() if isinstance(v, int)}
    if ctx.prior.get("specHash") != ctx.spec.spec_hash:
        return {}
    found = {}
    for name in ctx.spec.targets:
        child_ = ctx.child_of(name)
        if child_ is not None and child_.attempt and child_.rollback_of is None and child_.phase in FAILED_PHASES:
            found[name] = child_.attempt
    return found


def plan(body: Mapping[str, Any], spec: WaveSpec, children: Mapping[str, Child], prior: Mapping[str, Any],
         now: datetime, requests: Requests, analyses: Mapping[str, AnalysisRun] | None = None) -> Pass:
    ctx = _Ctx(body, spec, children, prior, now, requests, next_attempt(spec, prior, requests))
    ctx.retried, ctx.analyses = _retried(ctx), analyses or {}
    states = {t: classify(ctx.child_of(t), _wanted_hash(ctx, t), ctx.attempt, ctx.retried.get(t))
              for s in spec.steps for t in s.targets}
    failed = [t for t, st in states.items() if st in (TargetState.FAILED, TargetState.ROLLING_BACK,
                                                      TargetState.ROLLED_BACK, TargetState.ROLLBACK_FAILED)]
    aborted = ctx.attempt in requests.abort
    gate = _failed_gate(ctx)
    if failed or aborted or gate:
        return _failing(ctx, states, failed, aborted, gate)
    return _forward(ctx, states)


def _failed_gate(ctx: _Ctx) -> tuple[Step, AnalysisRun] | None:
    """The first wave whose analysis gate failed in this attempt: a failure of that wave (failurePolicy applies)."""
    for step in ctx.spec.steps:
        if step.gate.analysis is None:
            continue
        run = ctx.analyses.get(step.name)
        run = run if run is not None and run.attempt == ctx.attempt else gates.recorded(
            mapping(ctx.prior_step(step.name).get("gate")), ctx.attempt)
        if run is not None and run.phase is Verdict.FAILED:
            return step, run
    return None


def classify(found: Child | None, wanted: str, attempt: int, retried: int | None = None) -> TargetState:
    if found is None:
        return TargetState.ABSENT
    if retried is not None and found.attempt == retried and found.spec_hash == wanted and found.rollback_of is None:
        return TargetState.RETRYING  # the failure this attempt retries: not a new one
    settled = found.observed_generation >= found.generation  # the child has read its latest spec
    if found.rollback_of == attempt:
        if not settled or found.phase not in ("Succeeded", *FAILED_PHASES):
            return TargetState.ROLLING_BACK
        return TargetState.ROLLED_BACK if found.phase == "Succeeded" else TargetState.ROLLBACK_FAILED
    if found.spec_hash != wanted or found.rollback_of is not None:
        return TargetState.STALE
    if not settled:
        return TargetState.IN_FLIGHT
    if found.phase == "Succeeded":
        return TargetState.SUCCEEDED
    return TargetState.FAILED if found.phase in FAILED_PHASES else TargetState.IN_FLIGHT


def _wanted_hash(ctx: _Ctx, target: str) -> str:
    return digest(kids.child_spec(ctx.spec.template, ctx.spec.targets[target], ctx.spec.pins))


def _forward(ctx: _Ctx, states: dict[str, TargetState]) -> Pass:
    writes: list[Write] = []
    steps: list[dict[str, Any]] = []
    phase, message, current = Phase.SUCCEEDED, "every wave succeeded", None
    for i, step in enumerate(ctx.spec.steps):
        if current is not None:
            steps.append(_step_status(ctx, step, states, StepPhase.PENDING))
            continue
        mine = [states[t] for t in step.targets]
        if all(s is TargetState.SUCCEEDED for s in mine):
            later = any(states[t] in STARTED for s in ctx.spec.steps[i + 1:] for t in s.targets)
            gate, waiting = _gate(ctx, step, later)
            if waiting is None:
                steps.append(_step_status(ctx, step, states, StepPhase.SUCCEEDED, gate))
                continue
            current, message = step.name, waiting
            phase = Phase.AWAITING_APPROVAL if gate.get("state") == "AwaitingApproval" else Phase.PROGRESSING
            steps.append(_step_status(ctx, step, states, StepPhase.GATING, gate))
            continue
        current, phase = step.name, Phase.PROGRESSING
        writes += _start(ctx, step, states)
        written = {w.name for w in writes}
        running = [t for t in step.targets if states[t] is TargetState.IN_FLIGHT
                   or kids.child_name(_wave_name(ctx), t) in written]
        message = f"wave {step.name!r}: deploying {', '.join(running) or 'nothing yet'}"
        steps.append(_step_status(ctx, step, states, StepPhase.PROGRESSING))
    done = sum(1 for s in states.values() if s is TargetState.SUCCEEDED)
    return Pass(phase, message, phase.value, ctx.attempt, tuple(writes), tuple(steps), current, done, len(states),
                ctx.retried, "succeeded" if phase is Phase.SUCCEEDED else None)


def _start(ctx: _Ctx, step: Step, states: dict[str, TargetState]) -> list[Write]:
    """Create or patch the wave's targets that are not current, at most maxParallel in flight."""
    limit = step.max_parallel or len(step.targets)
    room = limit - sum(1 for t in step.targets if states[t] is TargetState.IN_FLIGHT)
    # a retried child takes its place first: it was started before the targets not yet started
    writes = []
    for name in step.targets:
        if room <= 0:
            break
        if states[name] is TargetState.RETRYING:
            found = ctx.child_of(name)
            if found is not None and found.attempt and found.retry != str(found.attempt):
                writes.append(Write("patch", found.name, ops=kids.retry_patch(found.attempt)))
            room -= 1
            continue
        if states[name] not in (TargetState.ABSENT, TargetState.STALE):
            continue
        target = ctx.spec.targets[name]
        spec = kids.child_spec(ctx.spec.template, target, ctx.spec.pins)
        found = ctx.child_of(name)
        if found is None:
            body = kids.desired_body(ctx.body, step.name, target, spec, attempt=ctx.attempt)
            writes.append(Write("create", body["metadata"]["name"], body=body))
        else:
            writes.append(Write("patch", found.name, ops=kids.forward_patch(
                spec, attempt=ctx.attempt, had_rollback=found.rollback_of is not None)))
        room -= 1
    return writes


def _gate(ctx: _Ctx, step: Step, later_started: bool) -> tuple[dict[str, Any], str | None]:
    """The gate's status and, while it holds the next wave back, what it waits for (None: passed)."""
    before = mapping(ctx.prior_step(step.name).get("gate"))
    gate: dict[str, Any] = {"bakeSeconds": step.gate.bake_seconds, "approval": step.gate.approval}
    if step.gate.empty:
        return {}, None
    started = text(before.get("startedAt")) or _stamp(ctx.now)
    gate["startedAt"] = started
    if text(before.get("passedAt")) or later_started:
        kept = {"analysis": before["analysis"]} if isinstance(before.get("analysis"), Mapping) else {}
        return {**gate, **kept, "state": "Passed", "passedAt": text(before.get("passedAt")) or _stamp(ctx.now),
                "verdict": before.get("verdict") or "Passed"}, None
    elapsed = (ctx.now - _parse(started)).total_seconds()
    if elapsed < step.gate.bake_seconds:
        left = int(step.gate.bake_seconds - elapsed + 0.999)
        return {**gate, "state": "Baking"}, f"wave {step.name!r}: baking, {left}s left before the next wave"
    approved, verdict = (ctx.attempt, step.name) in ctx.requests.approve, "Baked"
    if step.gate.analysis is not None:
        gate, waiting, verdict = _analysis_gate(ctx, step, gate, before, approved)
        if waiting is not None:
            return gate, waiting
    if step.gate.approval and not approved:
        return {**gate, "state": "AwaitingApproval"}, (
            f"wave {step.name!r}: waiting for approval: annotate ecsbg.dev/approve={ctx.attempt}:{step.name}")
    verdict = "Approved" if step.gate.approval else verdict
    return {**gate, "state": "Passed", "passedAt": _stamp(ctx.now), "verdict": verdict}, None


def _analysis_gate(ctx: _Ctx, step: Step, gate: dict[str, Any], before: Mapping[str, Any],
                   approved: bool) -> tuple[dict[str, Any], str | None, str]:
    """After the bake: the gate's analysis run (started by this pass, measured by the loop before later ones)."""
    assert step.gate.analysis is not None
    run = gates.finished(gates.current(ctx.analyses.get(step.name), before, ctx.attempt, step.gate.analysis,
                                       ctx.now), ctx.now)
    state, waiting, verdict = gates.decide(run, step.name, ctx.attempt, approved)
    return {**gate, "analysis": gates.run_status(run), **({"state": state} if state else {})}, waiting, verdict


def _failing(ctx: _Ctx, states: dict[str, TargetState], failed: list[str], aborted: bool,
             gate: tuple[Step, AnalysisRun] | None = None) -> Pass:
    writes: list[Write] = []
    in_flight = [t for t, s in states.items() if s in (TargetState.IN_FLIGHT, TargetState.RETRYING)]
    if aborted:  # pass the abort on: each in-flight child stops its own deployment (ECS rolls it back)
        for name in in_flight:
            found = ctx.child_of(name)
            if found is not None and found.attempt and found.abort != str(found.attempt):
                writes.append(Write("patch", found.name, ops=kids.abort_patch(found.attempt)))
    cause = "aborted by ecsbg.dev/abort" if aborted else (
        f"the analysis gate after wave {gate[0].name!r} failed: {gate[1].message}" if gate
        else f"target {failed[0]!r} failed")
    failing_step = gate[0].name if gate else next((s.name for s in ctx.spec.steps
                                                   if any(t in failed for t in s.targets)), None)
    rolling = None
    if ctx.spec.rollback and not in_flight:
        rolling, more = _rollback(ctx, states)
        writes += more
    if in_flight:
        phase, message = Phase.FAILED, f"{cause}; waiting for {', '.join(in_flight)} to finish"
    elif not ctx.spec.rollback:
        phase, message = Phase.FAILED, f"{cause}; later waves left untouched"
    elif rolling is not None:
        phase, message = Phase.ROLLING_BACK, f"{cause}; rolling back wave {rolling!r}"
    elif any(s is TargetState.ROLLBACK_FAILED for s in states.values()):
        phase, message = Phase.FAILED, f"{cause}; the rollback of a target failed"
    else:
        phase, message = Phase.ROLLED_BACK, f"{cause}; completed waves rolled back"
    steps = tuple(_failed_step(ctx, s, states, s.name == rolling, gate) for s in ctx.spec.steps)
    reason = "Aborted" if aborted else phase.value
    done = sum(1 for s in states.values() if s in (TargetState.SUCCEEDED, TargetState.ROLLED_BACK))
    ended = None
    if phase is Phase.ROLLED_BACK:
        ended = "rolled_back"
    elif phase is Phase.FAILED and not in_flight:  # a failure still waiting for targets in flight has not ended
        ended = "aborted" if aborted else "failed"
    return Pass(phase, message, reason, ctx.attempt, tuple(writes), steps, rolling or failing_step, done, len(states),
                ctx.retried, ended)


def _rollback(ctx: _Ctx, states: dict[str, TargetState]) -> tuple[str | None, list[Write]]:
    """The last wave that still has targets to return (or returning), and the writes that return them."""
    for step in reversed(ctx.spec.steps):
        returning = [t for t in step.targets if states[t] is TargetState.ROLLING_BACK]
        pending = [t for t in step.targets if states[t] is TargetState.SUCCEEDED and _previous(ctx, t)]
        if not returning and not pending:
            continue
        room = (step.max_parallel or len(step.targets)) - len(returning)
        writes = [Write("patch", kids.child_name(_wave_name(ctx), t),
                        ops=kids.rollback_patch(_previous(ctx, t) or "", attempt=ctx.attempt))
                  for t in pending[:max(room, 0)]]
        return step.name, writes
    return None, []


def _previous(ctx: _Ctx, target: str) -> str | None:
    """The task definition the target's current child attempt replaced (None: ECS already ran it: nothing to undo)."""
    found = ctx.child_of(target)
    if found is None or not found.source_task_definition:
        return None
    return found.source_task_definition if found.source_task_definition != found.task_definition_arn else None


def _failed_step(ctx: _Ctx, step: Step, states: dict[str, TargetState], rolling: bool,
                 gate: tuple[Step, AnalysisRun] | None) -> dict[str, Any]:
    phase = _failed_step_phase(step, states, rolling)
    if gate is None or gate[0].name != step.name:
        return _step_status(ctx, step, states, phase)
    # the wave whose analysis gate failed: Failed itself (its targets succeeded), the verdict in its gate
    before = mapping(ctx.prior_step(step.name).get("gate"))
    record = {"bakeSeconds": step.gate.bake_seconds, "approval": step.gate.approval, **before, "state": "Failed",
              "verdict": "AnalysisFailed", "analysis": gates.run_status(gates.finished(gate[1], ctx.now))}
    return _step_status(ctx, step, states, StepPhase.FAILED if phase is StepPhase.SUCCEEDED else phase, record)


def _failed_step_phase(step: Step, states: dict[str, TargetState], rolling: bool) -> StepPhase:
    mine = [states[t] for t in step.targets]
    if rolling:
        return StepPhase.ROLLING_BACK
    if any(s in (TargetState.FAILED, TargetState.ROLLBACK_FAILED) for s in mine):
        return StepPhase.FAILED
    if any(s is TargetState.ROLLED_BACK for s in mine):
        return StepPhase.ROLLED_BACK
    if mine and all(s is TargetState.SUCCEEDED for s in mine):
        return StepPhase.SUCCEEDED
    return StepPhase.PROGRESSING if any(s is TargetState.IN_FLIGHT for s in mine) else StepPhase.PENDING


def _step_status(ctx: _Ctx, step: Step, states: dict[str, TargetState], phase: StepPhase,
                 gate: Mapping[str, Any] | None = None) -> dict[str, Any]:
    before = ctx.prior_step(step.name)
    out: dict[str, Any] = {"name": step.name, "phase": phase.value, "targets": [
        _target_status(ctx, t, states[t]) for t in step.targets]}
    if phase is not StepPhase.PENDING:
        out["startedAt"] = text(before.get("startedAt")) or _stamp(ctx.now)
    if phase in (StepPhase.SUCCEEDED, StepPhase.FAILED, StepPhase.ROLLED_BACK):
        out["finishedAt"] = text(before.get("finishedAt")) or _stamp(ctx.now)
    if gate:
        out["gate"] = dict(gate)
    elif before.get("gate") and phase is not StepPhase.PENDING:
        out["gate"] = dict(mapping(before.get("gate")))
    return out


def _target_status(ctx: _Ctx, name: str, state: TargetState) -> dict[str, Any]:
    found = ctx.child_of(name)
    out: dict[str, Any] = {"name": name, "release": kids.child_name(_wave_name(ctx), name), "state": state.value}
    if found is not None:
        out.update({k: v for k, v in {"phase": found.phase, "attempt": found.attempt, "revision": found.revision,
                                      "previousTaskDefinitionArn": found.source_task_definition}.items() if v})
    return out


def _wave_name(ctx: _Ctx) -> str:
    return text(child(ctx.body, "metadata").get("name"))


def _stamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(stamp: str) -> datetime:
    from datetime import UTC

    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
