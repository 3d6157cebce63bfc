"""Where analyses act, and what their verdicts do (pure; docs/analysis.md).

A run exists per attempt and place: a Pause hook of the attempt's deployment that is AWAITING_ACTION and whose
`lifecycleHooks[]` entry names an analysis (with Linear/Canary every step's pause is its own hook, so its own
run), or the BAKE_TIME of a release with `strategy.bakeAnalysis`. A verdict acts once: the run records the call
(`action`), and only a hook still AWAITING_ACTION (or a deployment still stoppable) is acted on, so neither a
repeated pass nor a restarted operator sends it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ecsbg.domain.actions import Action, ContinueHooks, StopDeployment
from ecsbg.domain.analysis.model import AnalysisRef, AnalysisRun, Verdict
from ecsbg.domain.analysis.verdict import stop
from ecsbg.domain.events import NORMAL, WARNING, EventRecord
from ecsbg.domain.model import STOPPABLE_STATUSES, Phase, ReleaseSpec, ReleaseStatus, RequestKind

BAKE = "BAKE_TIME"
# the ECS call a verdict makes, as recorded in the run's `action`
CONTINUE, ROLLBACK, STOP_ROLLBACK = "CONTINUE", "ROLLBACK", "STOP_ROLLBACK"


@dataclass(frozen=True)
class Place:
    hook_id: str | None  # None: the bake time
    stage: str | None
    ref: AnalysisRef

    @property
    def key(self) -> tuple[int, str]:
        return (0, self.hook_id or "bake")


def active_places(spec: ReleaseSpec, status: ReleaseStatus) -> list[Place]:
    """The places where an analysis must run now, for the current attempt's deployment."""
    deployment = status.deployment
    if deployment is None or deployment.attempt != status.attempt:
        return []
    out = []
    for hook in status.hooks:
        if hook.target_type != "PAUSE" or hook.status != "AWAITING_ACTION":
            continue
        ref = hook_ref(spec, hook.stage)
        if ref is not None:
            out.append(Place(hook.hook_id, hook.stage, ref))
    if spec.bake_analysis is not None and status.phase is Phase.BAKING and status.stage == BAKE:
        out.append(Place(None, BAKE, spec.bake_analysis))
    return out


def hook_ref(spec: ReleaseSpec, stage: str | None) -> AnalysisRef | None:
    """The analysis of the Pause hook spec for `stage`. ECS does not say which stage a hook belongs to (the status
    records the stage it was first seen at); with an unknown stage, the only Pause hook with an analysis."""
    pauses = [h for h in spec.hooks if h.type == "Pause" and h.analysis is not None]
    matching = [h for h in pauses if stage in h.stages] if stage else (pauses if len(pauses) == 1 else [])
    return matching[0].analysis if matching else None


def carry(prior: Sequence[AnalysisRun], places: Sequence[Place], attempt: int, now: datetime) -> list[AnalysisRun]:
    """The runs of this pass before measuring: prior runs, a new run per new place, and the running runs whose
    place has gone (the hook was approved, rejected or timed out; the bake ended) stopped."""
    active = {(attempt, p.hook_id or "bake") for p in places}
    runs = [_stop_if_gone(r, active, now) for r in prior]
    known = {r.key for r in runs}
    for place in places:
        if (attempt, place.hook_id or "bake") not in known:
            runs.append(AnalysisRun(attempt=attempt, template=place.ref.display, started_at=now,
                                    hook_id=place.hook_id, stage=place.stage))
    return runs


def _stop_if_gone(run: AnalysisRun, active: set[tuple[int, str]], now: datetime) -> AnalysisRun:
    if run.key in active or run.finished_at is not None:
        return run
    if run.phase.done:
        return replace(run, finished_at=now)
    if run.hook_id is None:
        phase, message = stop(run.metrics)
        return replace(run, phase=phase, message=message, finished_at=now)
    return replace(run, phase=Verdict.INCONCLUSIVE, finished_at=now,
                   message="the Pause hook ended (approved, rejected, timed out or superseded) before a verdict")


def act(run: AnalysisRun, status: ReleaseStatus) -> Action | None:
    """The ECS call the run's verdict makes now, if any (none once made)."""
    deployment = status.deployment
    if run.action is not None or deployment is None:
        return None
    if deployment.attempt != run.attempt or run.attempt != status.attempt:
        return None
    if run.hook_id is not None:
        if run.phase not in (Verdict.SUCCESSFUL, Verdict.FAILED):
            return None
        waiting = any(h.hook_id == run.hook_id and h.status == "AWAITING_ACTION" for h in status.hooks)
        if not waiting:
            return None
        ecs_action = CONTINUE if run.phase is Verdict.SUCCESSFUL else ROLLBACK
        # request is the planner's field for the operation a person asked for; the analysis events say who acted
        kind = RequestKind.APPROVE if ecs_action == CONTINUE else RequestKind.REJECT
        return ContinueHooks(deployment_arn=deployment.arn, hook_ids=(run.hook_id,), action=ecs_action, request=kind)
    if run.phase is Verdict.FAILED and deployment.status in STOPPABLE_STATUSES:
        return StopDeployment(deployment_arn=deployment.arn)
    return None


def acted(action: Action) -> str:
    if isinstance(action, ContinueHooks):
        return action.action
    return STOP_ROLLBACK


# ---------------------------------------------------------------------------------------------------- events


def run_events(prior: Sequence[AnalysisRun], new: Sequence[AnalysisRun]) -> list[EventRecord]:
    """One Event per transition of a run: started, verdict (or a changed error), the ECS call its verdict made,
    and each new measurement error."""
    before = {r.key: r for r in prior}
    out: list[EventRecord] = []
    for run in new:
        old = before.get(run.key)
        where = _where(run)
        if old is None:
            out.append(EventRecord(NORMAL, "AnalysisStarted", f"{where}: analysis {run.template} started"))
        out += _measurement_errors(old, run, where)
        if run.phase != (old.phase if old else Verdict.RUNNING) or (
                run.phase is Verdict.ERROR and old is not None and old.message != run.message):
            out += _verdict_event(run, where)
        if run.action is not None and (old is None or old.action is None):
            out.append(_action_event(run, where))
    return out


def _where(run: AnalysisRun) -> str:
    place = f"Pause hook {run.hook_id} at {run.stage}" if run.hook_id else "bake time"
    return f"attempt {run.attempt}, {place}"


_VERDICT_EVENTS = {
    Verdict.SUCCESSFUL: (NORMAL, "AnalysisSuccessful"),
    Verdict.FAILED: (WARNING, "AnalysisFailed"),
    Verdict.INCONCLUSIVE: (WARNING, "AnalysisInconclusive"),
    Verdict.ERROR: (WARNING, "AnalysisError"),
}


def _verdict_event(run: AnalysisRun, where: str) -> list[EventRecord]:
    if run.phase not in _VERDICT_EVENTS:
        return []
    kind, reason = _VERDICT_EVENTS[run.phase]
    return [EventRecord(kind, reason, f"{where}: analysis {run.template} {run.phase.value}: {run.message}")]


def _action_event(run: AnalysisRun, where: str) -> EventRecord:
    if run.action == CONTINUE:
        return EventRecord(NORMAL, "AnalysisPromoted", f"{where}: ContinueServiceDeployment CONTINUE sent: analysis "
                           f"{run.template} successful")
    call = "ContinueServiceDeployment ROLLBACK" if run.action == ROLLBACK else "StopServiceDeployment ROLLBACK"
    return EventRecord(WARNING, "AnalysisRollback", f"{where}: {call} sent: analysis {run.template} failed: {run.message}")


def _measurement_errors(old: AnalysisRun | None, run: AnalysisRun, where: str) -> list[EventRecord]:
    seen = {(m.name, m.error) for m in old.metrics} if old else set()
    out = []
    for metric in run.metrics:
        if metric.error and (metric.name, metric.error) not in seen and metric.measurements:
            last = metric.measurements[-1]
            if last.phase is Verdict.ERROR:
                out.append(EventRecord(WARNING, "AnalysisMeasurementError", f"{where}: analysis {run.template} "
                                       f"metric {metric.name}: {last.message}"))
    return out


# ---------------------------------------------------------------------------------------------------- status


def describe(status: ReleaseStatus, runs: Sequence[AnalysisRun]) -> ReleaseStatus:
    """The release's message (and its conditions' messages) say what the current attempt's analyses decided or
    wait for: a person reading `kubectl get` or Argo CD learns that a pause waits for the analysis, or for them."""
    current = [r for r in runs if r.attempt == status.attempt]
    note = _note(status, current)
    if note is None:
        return status
    message = f"{status.message}; {note}" if status.message else note
    conditions = tuple(replace(c, message=message) if c.message == status.message else c for c in status.conditions)
    return replace(status, message=message, conditions=conditions)


def _note(status: ReleaseStatus, runs: Sequence[AnalysisRun]) -> str | None:
    if status.phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK):
        failed = next((r for r in reversed(runs) if r.phase is Verdict.FAILED and r.action), None)
        return f"rolled back by analysis {failed.template}: {failed.message}" if failed else None
    waiting = {h.hook_id for h in status.hooks if h.status == "AWAITING_ACTION"}
    live = [r for r in runs if r.finished_at is None and (r.hook_id in waiting or r.hook_id is None)]
    for run in live:
        if run.phase is Verdict.RUNNING:
            return f"analysis {run.template} running"
        if run.phase in (Verdict.INCONCLUSIVE, Verdict.ERROR) and run.hook_id is not None:
            return (f"analysis {run.template} {run.phase.value.lower()}: {run.message}; a person decides: approve "
                    f"{status.attempt} or reject {status.attempt}")
    return None
