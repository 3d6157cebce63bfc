"""The documented stage path of a deployment, and the stage history folded from what each poll sees.

ECS walks one fixed order of lifecycle stages ([doc: Amazon ECS blue/green service deployments workflow],
[doc: Amazon ECS linear deployments], [doc: Creating an Amazon ECS canary deployment]; the emulator's
programs.traffic_program follows the same pages):

    RECONCILE_SERVICE (only when the deployment starts with more than one ACTIVE service revision),
    PRE_SCALE_UP, SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT,
    then per production step: PRE_PRODUCTION_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT
        (one step for BlueGreen; Linear: stepPercent, 2*stepPercent, ... then 100; Canary: canaryPercent, 100),
    POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, CLEAN_UP.

A poll sees one point of that path. `advance` records every position ECS passed since the previous poll: the
ones it saw (`observed`, bounded by poll instants) and the ones it did not (`observed=False`, bounded by the
previous observation and this one). It never invents a position: RECONCILE_SERVICE is inferred only when the
deployment has more than one source revision, and nothing is inferred while ECS rolls back or stops (the way back
depends on what had shifted, which no observation fully tells), nor when a stage is out of the documented order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ecsbg.domain.model import FINISHED_STATUSES, StageRecord, StepInfo, Strategy, StrategySpec
from ecsbg.domain.observation import ObservedDeployment

# The longest documented path (Linear at 3%: 34 steps, with RECONCILE_SERVICE) has 77 positions; a rollback adds
# at most three. Status stays bounded and, for every documented path, complete.
MAX_STAGES = 80
STEP_STAGES = frozenset({"PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"})
ROLLBACK_STATUSES = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
STOP_STATUSES = frozenset({"STOP_REQUESTED", "STOPPED"})
_BEFORE_STEPS = ("PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT")
_AFTER_STEPS = ("POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")
_WEIGHT_TOLERANCE = 0.05  # ECS weights are multiples of 0.1


@dataclass(frozen=True)
class Position:
    stage: str
    step: StepInfo | None = None  # Linear/Canary production steps only
    optional: bool = False  # RECONCILE_SERVICE: passed only with more than one ACTIVE revision


def step_weights(strategy: StrategySpec) -> tuple[float, ...]:
    """Production weight of the target after each step. Linear: "This bake time is not applied after reaching
    100 percent traffic" [model] and steps are multiples of stepPercent below 100, then 100."""
    if strategy.type is Strategy.LINEAR:
        step = strategy.step_percent or 10.0
        weights, k = [], 1
        while round(k * step, 1) < 100.0:
            weights.append(round(k * step, 1))
            k += 1
        return (*weights, 100.0)
    if strategy.type is Strategy.CANARY:
        percent = strategy.canary_percent or 5.0
        return (100.0,) if percent >= 100.0 else (percent, 100.0)
    return (100.0,)  # BlueGreen: all at once


def stage_path(strategy: StrategySpec) -> tuple[Position, ...]:
    numbered = strategy.type is not Strategy.BLUE_GREEN
    weights = step_weights(strategy)
    path = [Position("RECONCILE_SERVICE", optional=True), *(Position(s) for s in _BEFORE_STEPS)]
    for number, weight in enumerate(weights, 1):
        step = StepInfo(number, len(weights), weight) if numbered else None
        path += [Position("PRE_PRODUCTION_TRAFFIC_SHIFT", step), Position("PRODUCTION_TRAFFIC_SHIFT", step)]
    return (*path, *(Position(s) for s in _AFTER_STEPS))


def reconciles(d: ObservedDeployment) -> bool:
    """RECONCILE_SERVICE "only happens when you start a new service deployment with more than 1 service revision
    in an ACTIVE state" [doc: workflow]: those are the deployment's source revisions."""
    return len(d.source_revisions) > 1


def position(path: tuple[Position, ...], history: tuple[StageRecord, ...]) -> int:
    """Index in `path` of the newest forward record of `history` that has one; -1 when none has."""
    for record in reversed(history):
        index = None if record.rollback else _index_of(path, record)
        if index is not None:
            return index
    return -1


def current_step(history: tuple[StageRecord, ...], d: ObservedDeployment) -> StepInfo | None:
    """The Linear/Canary step in flight: the newest record's, while ECS is still at that stage going forward."""
    if not history or d.status in FINISHED_STATUSES or d.status in ROLLBACK_STATUSES:
        return None
    last = history[-1]
    return last.step if last.stage == d.lifecycle_stage and not last.rollback else None


def advance(history: tuple[StageRecord, ...], d: ObservedDeployment, path: tuple[Position, ...],
            now: datetime) -> tuple[StageRecord, ...]:
    out = list(history)
    if d.status in ROLLBACK_STATUSES or d.status in STOP_STATUSES:
        _as_seen(out, d, now, rollback=d.status in ROLLBACK_STATUSES)
    elif not _forward(out, d, path, now):
        _as_seen(out, d, now, rollback=False)
    if d.status in FINISHED_STATUSES and out and out[-1].finished_at is None:
        out[-1] = replace(out[-1], finished_at=max(d.finished_at or now, out[-1].started_at))
    return tuple(out[-MAX_STAGES:])


def _forward(out: list[StageRecord], d: ObservedDeployment, path: tuple[Position, ...], now: datetime) -> bool:
    """Fold a forward observation (PENDING, IN_PROGRESS, SUCCESSFUL) into `out`; False when it cannot be placed on
    the path (then the caller records it as seen, inferring nothing)."""
    last = out[-1] if out else None
    start = -1 if last is None else (None if last.rollback else _index_of(path, last))
    if start is None:
        return False
    done = d.status == "SUCCESSFUL"  # ECS passed every stage of the path
    if done:
        target = len(path) - 1
    elif d.lifecycle_stage is None:
        return True  # PENDING: no stage yet
    else:
        located = _locate(path, d, start)
        if located is None:
            return False
        target = located
    if target <= start:
        return True  # still where the previous poll saw it
    lower = last.started_at if last is not None else (d.started_at or d.created_at or now)
    upper = max(lower, (d.finished_at or now) if done else now)
    if last is not None and last.finished_at is None:
        out[-1] = replace(last, finished_at=max(upper, last.started_at))
    reconcile = reconciles(d)
    for index in range(start + 1, target + 1):
        pos = path[index]
        if pos.optional and not reconcile and index != target:
            continue
        if index == target and not done:
            out.append(StageRecord(stage=pos.stage, started_at=now, step=pos.step))
        else:  # passed between two polls (or first seen after the deployment ended)
            out.append(StageRecord(stage=pos.stage, started_at=lower, finished_at=upper, step=pos.step,
                                   observed=False))
    return True


def _as_seen(out: list[StageRecord], d: ObservedDeployment, now: datetime, *, rollback: bool) -> None:
    """Record the stage ECS reports when it differs from the newest record: no inference."""
    stage = d.lifecycle_stage
    if not stage or (out and out[-1].stage == stage):
        return
    ended = d.status in FINISHED_STATUSES
    if out and out[-1].finished_at is None:
        out[-1] = replace(out[-1], finished_at=now)
    if ended:  # first seen once over: it ran between the previous observation and the end
        lower = out[-1].started_at if out else (d.rollback_started_at or d.started_at or now)
        out.append(StageRecord(stage=stage, started_at=lower, finished_at=max(lower, d.finished_at or now),
                               observed=False, rollback=rollback))
    else:
        out.append(StageRecord(stage=stage, started_at=now, rollback=rollback))


def _index_of(path: tuple[Position, ...], record: StageRecord) -> int | None:
    number = record.step.number if record.step else None
    for index, pos in enumerate(path):
        if pos.stage == record.stage and (pos.step.number if pos.step else None) == number:
            return index
    return None


def _locate(path: tuple[Position, ...], d: ObservedDeployment, start: int) -> int | None:
    """The position ECS reports, at or after `start` (where the previous poll saw it). For the step stages the
    target's production weight names the step: PRODUCTION_TRAFFIC_SHIFT of step i has step i's weight, and
    PRE_PRODUCTION_TRAFFIC_SHIFT of step i still step i-1's (0 before the first)."""
    candidates = [i for i in range(max(start, 0), len(path)) if path[i].stage == d.lifecycle_stage]
    if not candidates:
        return None
    wanted = _step_number(path, d)
    if wanted is not None:
        matching = [i for i in candidates if path[i].step is not None and path[i].step.number == wanted]
        if matching:
            return matching[0]
    return candidates[0]


def _step_number(path: tuple[Position, ...], d: ObservedDeployment) -> int | None:
    weight = d.target_revision.production_weight if d.target_revision else None
    if d.lifecycle_stage not in STEP_STAGES or weight is None:
        return None
    steps = [p.step for p in path if p.step is not None and p.stage == "PRODUCTION_TRAFFIC_SHIFT"]
    if not steps:
        return None
    if d.lifecycle_stage == "PRE_PRODUCTION_TRAFFIC_SHIFT" and abs(weight) < _WEIGHT_TOLERANCE:
        return 1
    for step in steps:
        if abs(step.traffic_percent - weight) < _WEIGHT_TOLERANCE:
            return step.number + (1 if d.lifecycle_stage == "PRE_PRODUCTION_TRAFFIC_SHIFT" else 0)
    return None
