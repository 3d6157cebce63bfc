"""domain.stagepath: the documented stage path and the history folded from polls.

The property test plays a deployment along its documented path (random strategy, steps, stage durations, with
or without RECONCILE_SERVICE) and polls it at random instants: whatever the poll instants, the history is the
path walked so far, in order, with no stage lost and none invented; what a poll saw is `observed` with its poll
instant, what it missed is not, and every recorded interval contains the true one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecsbg.domain import stagepath
from ecsbg.domain.model import StageRecord, StepInfo, Strategy, StrategySpec
from ecsbg.domain.observation import ObservedDeployment, RevisionSummary
from tests.unit.domain import builders as b

BLUE_GREEN = StrategySpec(Strategy.BLUE_GREEN, 10)


def linear(step: float) -> StrategySpec:
    return StrategySpec(Strategy.LINEAR, 10, step_percent=step, step_bake_time_minutes=1)


def canary(percent: float) -> StrategySpec:
    return StrategySpec(Strategy.CANARY, 10, canary_percent=percent, canary_bake_time_minutes=1)


def seen(stage: str | None, status: str = "IN_PROGRESS", production: float | None = 0.0, sources: int = 1,
         finished_at=None) -> ObservedDeployment:
    return ObservedDeployment(
        arn=b.dep_arn(1), status=status, lifecycle_stage=stage, started_at=b.at(0), finished_at=finished_at,
        source_revisions=tuple(RevisionSummary(arn=b.rev_arn(i), task_definition_arn=b.BASE_TD_ARN)
                               for i in range(sources)),
        target_revision=RevisionSummary(arn=b.rev_arn(9), task_definition_arn=b.TD_ARN, production_weight=production))


# ------------------------------------------------------------------------------------------------ the path


@pytest.mark.parametrize(("strategy", "weights"), [
    (BLUE_GREEN, (100.0,)),
    (linear(10.0), (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0)),
    (linear(30.0), (30.0, 60.0, 90.0, 100.0)),
    (linear(33.3), (33.3, 66.6, 99.9, 100.0)),
    (linear(100.0), (100.0,)),
    (canary(5.0), (5.0, 100.0)),
    (canary(100.0), (100.0,)),
], ids=["blue-green", "linear-10", "linear-30", "linear-33.3", "linear-100", "canary-5", "canary-100"])
def test_step_weights_follow_the_ecs_model(strategy, weights):
    assert stagepath.step_weights(strategy) == weights


def test_blue_green_path_is_the_documented_order_without_step_numbers():
    path = stagepath.stage_path(BLUE_GREEN)
    assert [(p.stage, p.step, p.optional) for p in path] == [
        ("RECONCILE_SERVICE", None, True), ("PRE_SCALE_UP", None, False), ("SCALE_UP", None, False),
        ("POST_SCALE_UP", None, False), ("TEST_TRAFFIC_SHIFT", None, False), ("POST_TEST_TRAFFIC_SHIFT", None, False),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", None, False), ("PRODUCTION_TRAFFIC_SHIFT", None, False),
        ("POST_PRODUCTION_TRAFFIC_SHIFT", None, False), ("BAKE_TIME", None, False), ("CLEAN_UP", None, False)]


def test_canary_path_numbers_its_two_steps():
    steps = [(p.stage, p.step) for p in stagepath.stage_path(canary(5.0)) if p.step]
    assert steps == [("PRE_PRODUCTION_TRAFFIC_SHIFT", StepInfo(1, 2, 5.0)), ("PRODUCTION_TRAFFIC_SHIFT", StepInfo(1, 2, 5.0)),
                     ("PRE_PRODUCTION_TRAFFIC_SHIFT", StepInfo(2, 2, 100.0)),
                     ("PRODUCTION_TRAFFIC_SHIFT", StepInfo(2, 2, 100.0))]


def test_the_longest_documented_path_fits_in_status():
    assert len(stagepath.stage_path(linear(3.0))) <= stagepath.MAX_STAGES


# ------------------------------------------------------------------------------------------- table tests


def _fold(observations, strategy=BLUE_GREEN, history=()):
    path = stagepath.stage_path(strategy)
    for minute, d in observations:
        history = stagepath.advance(history, d, path, b.at(minute))
    return history


def _shape(history):
    return [(r.stage, r.step.number if r.step else None, r.observed) for r in history]


def test_first_poll_after_the_start_infers_the_stages_before_it_bounded_by_the_deployment_start():
    history = _fold([(2, seen("SCALE_UP"))])
    assert history == (StageRecord("PRE_SCALE_UP", b.at(0), b.at(2), observed=False), StageRecord("SCALE_UP", b.at(2)))


def test_reconcile_service_is_inferred_only_with_more_than_one_source_revision():
    assert _shape(_fold([(2, seen("SCALE_UP", sources=2))]))[0] == ("RECONCILE_SERVICE", None, False)
    assert _shape(_fold([(2, seen("SCALE_UP", sources=1))]))[0] == ("PRE_SCALE_UP", None, False)


def test_linear_steps_are_told_apart_by_the_production_weight():
    history = _fold([(1, seen("PRODUCTION_TRAFFIC_SHIFT", production=30.0)),
                     (2, seen("PRODUCTION_TRAFFIC_SHIFT", production=30.0)),
                     (3, seen("PRODUCTION_TRAFFIC_SHIFT", production=90.0)),
                     (4, seen("PRE_PRODUCTION_TRAFFIC_SHIFT", production=90.0))], strategy=linear(30.0))
    assert _shape(history)[-7:] == [
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", 1, False), ("PRODUCTION_TRAFFIC_SHIFT", 1, True),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", 2, False), ("PRODUCTION_TRAFFIC_SHIFT", 2, False),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", 3, False), ("PRODUCTION_TRAFFIC_SHIFT", 3, True),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", 4, True)]
    # steps 2 and 3's PRE_ ran between the polls at minutes 2 and 3
    assert (history[-5].started_at, history[-5].finished_at) == (b.at(1), b.at(3))
    assert history[-1].step == StepInfo(4, 4, 100.0)
    assert stagepath.current_step(history, seen("PRE_PRODUCTION_TRAFFIC_SHIFT", production=90.0)) == StepInfo(4, 4, 100.0)


def test_a_rollback_records_what_is_seen_and_infers_nothing():
    history = _fold([(1, seen("POST_TEST_TRAFFIC_SHIFT")), (2, seen("TEST_TRAFFIC_SHIFT", "ROLLBACK_IN_PROGRESS")),
                     (3, seen("CLEAN_UP", "ROLLBACK_IN_PROGRESS")),
                     (5, seen("CLEAN_UP", "ROLLBACK_SUCCESSFUL", finished_at=b.at(4)))])
    assert [(r.stage, r.observed, r.rollback) for r in history][-3:] == [
        ("POST_TEST_TRAFFIC_SHIFT", True, False), ("TEST_TRAFFIC_SHIFT", True, True), ("CLEAN_UP", True, True)]
    assert history[-1].finished_at == b.at(4)


def test_a_rollback_first_seen_over_is_not_observed():
    history = _fold([(1, seen("POST_TEST_TRAFFIC_SHIFT")),
                     (5, seen("CLEAN_UP", "ROLLBACK_SUCCESSFUL", finished_at=b.at(4)))])
    assert history[-1] == StageRecord("CLEAN_UP", b.at(1), b.at(4), observed=False, rollback=True)


def test_a_stage_out_of_the_documented_order_is_recorded_as_seen():
    history = _fold([(1, seen("POST_TEST_TRAFFIC_SHIFT")), (2, seen("SCALE_UP")), (3, seen("SOME_NEW_STAGE"))])
    assert _shape(history)[-3:] == [("POST_TEST_TRAFFIC_SHIFT", None, True), ("SCALE_UP", None, True),
                                    ("SOME_NEW_STAGE", None, True)]


def test_a_history_without_step_numbers_degrades_to_what_is_seen():
    """Status written before steps were numbered: nothing can be placed on the path, nothing is invented."""
    old = (StageRecord("PRODUCTION_TRAFFIC_SHIFT", b.at(0)),)
    history = _fold([(1, seen("POST_PRODUCTION_TRAFFIC_SHIFT", production=100.0))], linear(50.0), old)
    assert _shape(history) == [("PRODUCTION_TRAFFIC_SHIFT", None, True), ("POST_PRODUCTION_TRAFFIC_SHIFT", None, True)]


# ----------------------------------------------------------------------------------------- the property


@dataclass(frozen=True)
class _Run:
    strategy: StrategySpec
    sources: int
    pending: float  # seconds before IN_PROGRESS
    durations: tuple[float, ...]  # seconds per position of the true path
    polls: tuple[float, ...]  # seconds, sorted


STRATEGIES = st.one_of(
    st.just(BLUE_GREEN),
    st.integers(30, 1000).map(lambda tenths: linear(tenths / 10)),
    st.integers(1, 1000).map(lambda tenths: canary(tenths / 10)),
)


@st.composite
def runs(draw) -> _Run:
    strategy = draw(STRATEGIES)
    sources = draw(st.integers(1, 2))
    true_path = _true_path(strategy, sources)
    durations = tuple(draw(st.lists(st.floats(0, 120, allow_nan=False), min_size=len(true_path),
                                    max_size=len(true_path))))
    pending = draw(st.floats(0, 10, allow_nan=False))
    end = pending + sum(durations)
    polls = tuple(sorted(draw(st.lists(st.floats(0, end + 30, allow_nan=False), min_size=1, max_size=40))))
    return _Run(strategy, sources, pending, durations, polls)


def _true_path(strategy: StrategySpec, sources: int) -> list[stagepath.Position]:
    return [p for p in stagepath.stage_path(strategy) if not p.optional or sources > 1]


def _observe(run: _Run, t: float) -> tuple[ObservedDeployment, int | None]:
    """What ECS reports at t, and the index of the true position then (None while PENDING)."""
    path = _true_path(run.strategy, run.sources)
    end = run.pending + sum(run.durations)
    if t >= end:
        return seen("CLEAN_UP", "SUCCESSFUL", 100.0, run.sources, b.at(0) + timedelta(seconds=end)), len(path) - 1
    if t < run.pending:
        return seen(None, "PENDING", 0.0, run.sources), None
    elapsed, index = run.pending, 0
    while elapsed + run.durations[index] <= t:
        elapsed += run.durations[index]
        index += 1
    return seen(path[index].stage, "IN_PROGRESS", _weight(path, index), run.sources), index


def _weight(path: list[stagepath.Position], index: int) -> float:
    """The emulator's weights: a step's PRODUCTION_TRAFFIC_SHIFT has its weight, PRE_ the previous step's."""
    shifted = [p for p in path[:index + 1] if p.stage == "PRODUCTION_TRAFFIC_SHIFT"]
    if not shifted:
        return 0.0
    return shifted[-1].step.traffic_percent if shifted[-1].step else 100.0


def _bounds(run: _Run, index: int) -> tuple[float, float]:
    start = run.pending + sum(run.durations[:index])
    return start, start + run.durations[index]


@settings(max_examples=300, deadline=None)
@given(runs())
def test_history_is_the_documented_path_walked_so_far_whatever_the_poll_instants(run):
    path = stagepath.stage_path(run.strategy)
    true_path = _true_path(run.strategy, run.sources)
    history: tuple[StageRecord, ...] = ()
    seen_in_progress: dict[int, float] = {}
    last_index = None
    for t in run.polls:
        d, index = _observe(run, t)
        history = stagepath.advance(history, d, path, b.at(0) + timedelta(seconds=t))
        if index is not None:
            last_index = index
            if d.status == "IN_PROGRESS":
                seen_in_progress.setdefault(index, t)
    walked = [] if last_index is None else true_path[:last_index + 1]
    # the documented order, no stage lost, none invented
    assert [(r.stage, r.step) for r in history] == [(p.stage, p.step) for p in walked]
    for index, record in enumerate(history):
        start, end = (b.at(0) + timedelta(seconds=s) for s in _bounds(run, index))
        assert record.observed == (index in seen_in_progress)
        slack = timedelta(microseconds=1)
        if record.observed:  # exact poll instants: the first poll that saw it
            assert record.started_at == b.at(0) + timedelta(seconds=seen_in_progress[index])
        else:  # it ran entirely within the bounds
            assert record.started_at <= start + slack
        assert record.finished_at is None or record.finished_at + slack >= end
        assert record.finished_at is None or record.finished_at >= record.started_at
    # only the newest stage can be open, and only while the deployment is
    assert all(r.finished_at is not None for r in history[:-1])
