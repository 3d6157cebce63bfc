"""A wave's pass, whole and pure: body + the namespace's releases -> writes, status, Events.

parse (InvalidWave) -> ownership and template checks (no child for any refused target) -> domain.waves.planning
-> status with kstatus conditions -> Events on transitions only (compared with the prior status).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ecsbg.domain.analysis.model import AnalysisRun
from ecsbg.domain.events import EventRecord
from ecsbg.domain.shape import child, integer, mapping, text
from ecsbg.domain.waves import children as kids
from ecsbg.domain.waves import gates, images
from ecsbg.domain.waves.model import LABEL_WAVE, PREFIX, Phase
from ecsbg.domain.waves.parsing import InvalidWave, parse_requests, parse_wave
from ecsbg.domain.waves.planning import Pass, Write, next_attempt, plan

ACTIVE = (Phase.PENDING, Phase.PROGRESSING, Phase.AWAITING_APPROVAL, Phase.ROLLING_BACK)
RECONCILING = {Phase.PENDING, Phase.PROGRESSING, Phase.AWAITING_APPROVAL, Phase.ROLLING_BACK}
STALLED = {Phase.FAILED, Phase.ROLLED_BACK, Phase.INVALID}
_KEEP = object()  # status.images as it was (a pass that does not start or continue an attempt of a valid spec)


@dataclass(frozen=True)
class Outcome:
    writes: tuple[Write, ...]
    status: dict[str, Any]
    events: tuple[EventRecord, ...]
    active: bool  # poll soon: something is in flight or a gate is timing
    done: int = 0  # targets succeeded (rolled back, while rolling back) of `total`, for ecsbg_wave_targets*
    total: int = 0
    ended: str | None = None  # how the attempt ended, once it has (planning.Pass.ended)


def wave_pass(body: Mapping[str, Any], releases: Iterable[Mapping[str, Any]],
              claims: Callable[[Any], Any], now: datetime, *,
              templates: Mapping[gates.TemplateKey, Mapping[str, Any] | None] | None = None,
              analyses: Mapping[str, AnalysisRun] | None = None,
              resolved: Mapping[str, str] | images.Unresolved | None = None) -> Outcome:
    """`templates`: the analysis templates the gates reference, as read (None: no analysis in this operator);
    `analyses`: the gates' runs the loop measured before this pass (domain.waves.gates); `resolved`: the image
    digests the loop resolved for this pass (domain.waves.images.pending asked for them), or why it could not."""
    meta, prior = child(body, "metadata"), dict(child(body, "status"))
    name, uid = text(meta.get("name")), text(meta.get("uid"))
    mine, foreign = {}, set()
    for release in releases:
        observed = kids.observe(release)
        labels = mapping(child(release, "metadata").get("labels"))
        if labels.get(LABEL_WAVE) == name and observed.owner_uid == uid:
            mine[observed.name] = observed
        else:
            foreign.add(observed.name)
    requests = parse_requests(mapping(meta.get("annotations")))
    try:
        spec = parse_wave(body)
        problems = kids.template_errors(spec) + gates.template_problems(spec, templates) + kids.ownership_problems(body, spec, claims, frozenset(foreign))
        if problems:
            raise InvalidWave(problems)
    except InvalidWave as exc:
        attempt = integer(prior.get("attempt"), 0)
        done = Pass(Phase.INVALID, str(exc), exc.reason, attempt)
        return _outcome(body, prior, done, None, requests, now)
    if isinstance(resolved, images.Unresolved):  # the attempt does not start: no child, the spec not recorded
        done = Pass(Phase.INVALID, resolved.message, images.REASON, integer(prior.get("attempt"), 0))
        return _outcome(body, prior, done, None, requests, now)
    digests = dict(resolved) if resolved is not None else images.recorded(prior, spec.spec_hash)
    spec = replace(spec, pins=images.pins(digests or {}))
    done = plan(body, spec, mine, prior, now, requests, analyses)
    pinned = dict(mapping(prior.get("images"))) if digests is not None else None
    if resolved is not None:
        pinned = images.block(spec.spec_hash, done.attempt, now, resolved, images.references(kids.rendered(spec)))
    # announced with the attempt they start (an earlier process may have recorded them and died before that)
    fresh = pinned is not None and prior.get("attempt") != done.attempt and pinned.get("attempt") == done.attempt
    return _outcome(body, prior, done, spec.spec_hash, requests, now, pinned,
                    _resolved_events(done.attempt, digests or {}) if fresh else [])


def _resolved_events(attempt: int, resolved: Mapping[str, str]) -> list[EventRecord]:
    if not resolved:
        return []
    events = [EventRecord("Normal", "ImagesResolved", f"attempt {attempt}: every target deploys " + ", ".join(
        f"{image} as {digest}" for image, digest in resolved.items()))]
    events += [EventRecord("Warning", "ImageDigestsDiffer", f"attempt {attempt}: the registries of these replicas "
                                                            f"answer different digests: {found}")
               for found in images.differing(resolved)]
    return events


def _outcome(body: Mapping[str, Any], prior: Mapping[str, Any], done: Pass, spec_hash: str | None, requests: Any,
             now: datetime, pinned: Any = _KEEP, announced: Iterable[EventRecord] = ()) -> Outcome:
    generation = integer(child(body, "metadata").get("generation"), 0)
    status: dict[str, Any] = {
        "observedGeneration": generation, "phase": done.phase.value, "attempt": done.attempt or None,
        "specHash": spec_hash or prior.get("specHash"), "currentWave": done.current,
        "progress": f"{done.done}/{done.total}" if done.total else None, "message": done.message,
        "waves": list(done.steps) if done.phase is not Phase.INVALID else prior.get("waves"),
        "requestErrors": list(requests.problems) or None,
        "requests": _seen(child(body, "metadata")) or None,
        "retried": done.retried or None,
        "images": prior.get("images") if pinned is _KEEP else pinned,
    }
    status["conditions"] = conditions(done.phase, done.reason, done.message, prior, generation, now)
    events = transitions(prior, status, done, requests)
    at = 1 if events and events[0].reason == "AttemptStarted" else 0  # right after the attempt they belong to
    events[at:at] = announced
    return Outcome(done.writes, status, tuple(events), done.phase in ACTIVE, done.done, done.total, done.ended)


def _seen(meta: Mapping[str, Any]) -> dict[str, str]:
    annotations = mapping(meta.get("annotations"))
    return {kind: str(annotations[PREFIX + kind]) for kind in ("approve", "abort", "retry")
            if PREFIX + kind in annotations}


def conditions(phase: Phase, reason: str, message: str, prior: Mapping[str, Any], generation: int,
               now: datetime) -> list[dict[str, Any]]:
    """kstatus: Ready always; Reconciling and Stalled only while True (abnormal-true, as domain.conditions)."""
    wanted = [("Ready", "True" if phase is Phase.SUCCEEDED else "False", reason)]
    if phase in RECONCILING:
        wanted.append(("Reconciling", "True", reason))
    if phase in STALLED:
        wanted.append(("Stalled", "True", reason))
    before = {mapping(c).get("type"): mapping(c) for c in prior.get("conditions") or []}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for kind, value, why in wanted:
        old = before.get(kind, {})
        since = old.get("lastTransitionTime") if old.get("status") == value and old.get("lastTransitionTime") else stamp
        out.append({"type": kind, "status": value, "reason": why, "message": message, "lastTransitionTime": since,
                    "observedGeneration": generation})
    return out


def transitions(prior: Mapping[str, Any], status: Mapping[str, Any], done: Pass, requests: Any) -> list[EventRecord]:
    events: list[EventRecord] = []
    phase, before = status["phase"], prior.get("phase")
    if phase == Phase.INVALID.value:
        if before != phase or prior.get("message") != status["message"]:
            events.append(EventRecord("Warning", done.reason, status["message"]))
        return events + _request_events(prior, status, done, requests)
    if prior.get("attempt") != done.attempt:
        events.append(EventRecord("Normal", "AttemptStarted", f"attempt {done.attempt} of the rollout started"))
    old_steps = {mapping(s).get("name"): mapping(s) for s in (prior.get("waves") or [])
                 if prior.get("attempt") == done.attempt}
    for step in done.steps:
        events += _step_events(old_steps.get(step["name"], {}), step, done.attempt)
    if phase != before or (prior.get("attempt") != done.attempt and phase in ("Failed", "RolledBack")):
        kind = {"Succeeded": "Normal", "Progressing": None, "Pending": None, "AwaitingApproval": None}.get(phase,
                                                                                                       "Warning")
        if kind is not None:
            reason = {"Failed": "Aborted" if done.reason == "Aborted" else "RolloutFailed",
                      "RollingBack": "RollbackStarted"}.get(phase, phase)
            events.append(EventRecord(kind, reason, status["message"]))
    return events + _request_events(prior, status, done, requests)


def _step_events(old: Mapping[str, Any], new: Mapping[str, Any], attempt: int) -> list[EventRecord]:
    events = []
    name, was, now = new["name"], old.get("phase", "Pending"), new["phase"]
    if was == "Pending" and now != "Pending":
        events.append(EventRecord("Normal", "WaveStarted", f"wave {name!r} of attempt {attempt} started"))
    gate, old_gate = mapping(new.get("gate")), mapping(old.get("gate"))
    events += _analysis_events(name, attempt, mapping(old_gate.get("analysis")), mapping(gate.get("analysis")))
    if gate.get("state") == "AwaitingApproval" and old_gate.get("state") != "AwaitingApproval":
        events.append(EventRecord("Normal", "AwaitingApproval", f"wave {name!r} succeeded; the next wave waits for "
                                                                f"ecsbg.dev/approve={attempt}:{name}"))
    if gate.get("passedAt") and not old_gate.get("passedAt"):
        events.append(EventRecord("Normal", "GatePassed", f"gate after wave {name!r}: {gate.get('verdict')}"))
    if now != was and now in ("Failed", "RolledBack"):
        events.append(EventRecord("Warning", "Wave" + now, f"wave {name!r}: {now}"))
    return events


_VERDICTS = {"Successful": ("Normal", "AnalysisSuccessful"), "Failed": ("Warning", "AnalysisFailed"),
             "Inconclusive": ("Warning", "AnalysisInconclusive"), "Error": ("Warning", "AnalysisError")}


def _analysis_events(wave: str, attempt: int, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[EventRecord]:
    """The gate's analysis: started, and each verdict (or a changed error) once."""
    if not new:
        return []
    where = f"gate after wave {wave!r} of attempt {attempt}: analysis {new.get('template')}"
    events = [EventRecord("Normal", "AnalysisStarted", f"{where} started")] if not old else []
    phase = new.get("phase")
    if phase in _VERDICTS and (phase != old.get("phase") or (phase == "Error" and new.get("message") != old.get(
            "message"))):
        kind, reason = _VERDICTS[phase]
        events.append(EventRecord(kind, reason, f"{where} {phase}: {new.get('message')}"))
    return events


def _request_events(prior: Mapping[str, Any], status: Mapping[str, Any], done: Pass,
                    requests: Any) -> list[EventRecord]:
    events = []
    if status.get("requestErrors") and status.get("requestErrors") != prior.get("requestErrors"):
        events.append(EventRecord("Warning", "InvalidRequest", "; ".join(status["requestErrors"])))
    seen, before = mapping(status.get("requests")), mapping(prior.get("requests"))
    waiting = {(done.attempt, s["name"]) for s in done.steps if mapping(s.get("gate")).get("state")
               in ("AwaitingApproval", "Baking", gates.ANALYZING)}
    passed = {(done.attempt, s["name"]) for s in done.steps if mapping(s.get("gate")).get("passedAt")}
    for attempt, wave in requests.approve:
        if seen.get("approve") != before.get("approve") and (attempt, wave) not in waiting | passed:
            events.append(EventRecord("Warning", "StaleRequest", f"approve {attempt}:{wave} ignored: attempt "
                                                                 f"{done.attempt} has no gate of wave {wave!r} "
                                                                 f"waiting"))
    for attempt in requests.retry:
        if seen.get("retry") != before.get("retry") and attempt != done.attempt - 1:
            events.append(EventRecord("Warning", "StaleRequest", f"retry {attempt} ignored: the current attempt is "
                                                                 f"{done.attempt}"))
    for attempt in requests.abort:
        if seen.get("abort") != before.get("abort") and attempt != done.attempt:
            events.append(EventRecord("Warning", "StaleRequest", f"abort {attempt} ignored: the current attempt is "
                                                                 f"{done.attempt}"))
    return events


__all__ = ["Outcome", "wave_pass", "next_attempt"]
