"""ecsbg.measure: what one reconcile outcome reports as metrics (stage durations, hook outcomes, steps)."""

from __future__ import annotations

from types import SimpleNamespace

from ecsbg import measure
from ecsbg.domain.model import HookDetail, Phase, ReleaseStatus, StageRecord, StepInfo
from tests.fakes.metrics import RecordingMetrics
from tests.unit.domain import builders as b

BODY = {"spec": {"strategy": {"type": "Linear"}, "target": {"cluster": "demo", "service": "web"}}}
STEP = StepInfo(2, 4, 50.0)


def _record(prior: ReleaseStatus, new: ReleaseStatus) -> RecordingMetrics:
    metrics = RecordingMetrics()
    measure.record(metrics=metrics, marks=measure.Marks(), namespace="default", name="web", prior=prior,
                   outcome=SimpleNamespace(status=new, plan=None), body=BODY, now=b.at(10))
    return metrics


def test_only_observed_stages_have_a_duration():
    prior = ReleaseStatus(phase=Phase.DEPLOYING, attempt=1, stages=(StageRecord("PRE_SCALE_UP", b.at(0)),))
    new = ReleaseStatus(phase=Phase.DEPLOYING, attempt=1, stage="TEST_TRAFFIC_SHIFT", stages=(
        StageRecord("PRE_SCALE_UP", b.at(0), b.at(2)),
        StageRecord("SCALE_UP", b.at(0), b.at(2), observed=False),
        StageRecord("TEST_TRAFFIC_SHIFT", b.at(2))))
    assert _record(prior, new).of("stage_finished") == [
        {"strategy": "Linear", "stage": "PRE_SCALE_UP", "seconds": 120.0}]


def test_each_step_of_a_stage_has_its_own_duration():
    first = StageRecord("PRODUCTION_TRAFFIC_SHIFT", b.at(0), b.at(1), step=StepInfo(1, 4, 25.0))
    prior = ReleaseStatus(phase=Phase.DEPLOYING, attempt=1, stages=(first,))
    new = ReleaseStatus(phase=Phase.DEPLOYING, attempt=1, stages=(
        first, StageRecord("PRODUCTION_TRAFFIC_SHIFT", b.at(1), b.at(4), step=STEP)))
    assert [c["seconds"] for c in _record(prior, new).of("stage_finished")] == [180.0]


def test_the_step_in_flight_is_reported():
    metrics = _record(ReleaseStatus(), ReleaseStatus(phase=Phase.DEPLOYING, attempt=1,
                                                     stage="PRODUCTION_TRAFFIC_SHIFT", step=STEP))
    assert metrics.of("release_step") == [{"namespace": "default", "name": "web", "number": 2, "count": 4}]
    assert metrics.sample("ecsbg_release_step", namespace="default", name="web") == 2


def test_pause_outcomes_say_approved_or_rejected_and_carry_the_attributed_stage():
    waiting = (HookDetail("p1", "PAUSE", "AWAITING_ACTION", stage="PRE_PRODUCTION_TRAFFIC_SHIFT", step=STEP),
               HookDetail("p2", "PAUSE", "AWAITING_ACTION", stage="POST_TEST_TRAFFIC_SHIFT"),
               HookDetail("l1", "AWS_LAMBDA", "IN_PROGRESS", stage="PRODUCTION_TRAFFIC_SHIFT"))
    prior = ReleaseStatus(phase=Phase.AWAITING_APPROVAL, attempt=1, hooks=waiting)
    done = ("SUCCEEDED", "FAILED", "TIMED_OUT")
    new = ReleaseStatus(phase=Phase.DEPLOYING, attempt=1,
                        hooks=tuple(HookDetail(h.hook_id, h.target_type, s, stage=h.stage, step=h.step)
                                    for h, s in zip(waiting, done, strict=True)))
    assert _record(prior, new).of("hook_outcome") == [
        {"hook_type": "PAUSE", "stage": "PRE_PRODUCTION_TRAFFIC_SHIFT", "outcome": "approved"},
        {"hook_type": "PAUSE", "stage": "POST_TEST_TRAFFIC_SHIFT", "outcome": "rejected"},
        {"hook_type": "AWS_LAMBDA", "stage": "PRODUCTION_TRAFFIC_SHIFT", "outcome": "timed_out"}]
