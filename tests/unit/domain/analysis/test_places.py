"""Where analyses act and what their verdicts do: a verdict makes its ECS call once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ecsbg.domain.actions import ContinueHooks, StopDeployment
from ecsbg.domain.analysis import places
from ecsbg.domain.analysis.model import AnalysisRef, AnalysisRun, Verdict
from ecsbg.domain.model import (
    DeploymentRecord,
    HookDetail,
    HookSpec,
    Phase,
    ReleaseSpec,
    ReleaseStatus,
    Strategy,
    StrategySpec,
    Target,
    TaskDefinitionSource,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
REF = AnalysisRef("smoke")
SPEC = ReleaseSpec(
    target=Target("us-east-1", "c", "s"), task_definition=TaskDefinitionSource(arn="arn:td"),
    strategy=StrategySpec(Strategy.BLUE_GREEN, 10),
    hooks=(HookSpec("Pause", ("POST_TEST_TRAFFIC_SHIFT",), analysis=REF),), bake_analysis=AnalysisRef("bake"),
)


def status(hook_status="AWAITING_ACTION", phase=Phase.AWAITING_APPROVAL, stage="POST_TEST_TRAFFIC_SHIFT",
           deployment_status="IN_PROGRESS"):
    return ReleaseStatus(
        phase=phase, stage=stage, attempt=2,
        deployment=DeploymentRecord(attempt=2, arn="arn:dep", status=deployment_status),
        hooks=(HookDetail("h1", "PAUSE", hook_status, stage="POST_TEST_TRAFFIC_SHIFT"),),
    )


def test_a_waiting_pause_hook_with_an_analysis_is_a_place():
    assert places.active_places(SPEC, status()) == [places.Place("h1", "POST_TEST_TRAFFIC_SHIFT", REF)]
    assert places.active_places(SPEC, status(hook_status="SUCCEEDED", phase=Phase.DEPLOYING)) == []
    baking = status(hook_status="SUCCEEDED", phase=Phase.BAKING, stage="BAKE_TIME")
    assert places.active_places(SPEC, baking) == [places.Place(None, "BAKE_TIME", AnalysisRef("bake"))]


def test_carry_starts_new_runs_and_stops_runs_whose_place_is_gone():
    runs = places.carry([], places.active_places(SPEC, status()), 2, NOW)
    assert [(r.attempt, r.hook_id, r.template, r.phase) for r in runs] == \
        [(2, "h1", "EcsAnalysisTemplate/smoke", Verdict.RUNNING)]
    stopped = places.carry(runs, [], 2, NOW)
    assert stopped[0].phase is Verdict.INCONCLUSIVE and stopped[0].finished_at == NOW


@pytest.mark.parametrize(("phase", "expected"), [
    (Verdict.SUCCESSFUL, ContinueHooks("arn:dep", ("h1",), "CONTINUE", places.RequestKind.APPROVE)),
    (Verdict.FAILED, ContinueHooks("arn:dep", ("h1",), "ROLLBACK", places.RequestKind.REJECT)),
    (Verdict.INCONCLUSIVE, None),  # a person decides
    (Verdict.ERROR, None),
    (Verdict.RUNNING, None),
])
def test_a_hook_verdict_acts(phase, expected):
    run = AnalysisRun(attempt=2, template="t", started_at=NOW, hook_id="h1", phase=phase)
    assert places.act(run, status()) == expected


def test_a_verdict_acts_once():
    run = AnalysisRun(attempt=2, template="t", started_at=NOW, hook_id="h1", phase=Verdict.SUCCESSFUL)
    assert places.act(replace(run, action="CONTINUE"), status()) is None  # already sent
    assert places.act(run, status(hook_status="SUCCEEDED")) is None  # ECS already acted (restart)
    assert places.act(replace(run, attempt=1), status()) is None  # another attempt's run


def test_a_failed_bake_run_stops_a_stoppable_deployment():
    run = AnalysisRun(attempt=2, template="t", started_at=NOW, phase=Verdict.FAILED)
    assert places.act(run, status(stage="BAKE_TIME")) == StopDeployment("arn:dep")
    assert places.act(run, status(deployment_status="ROLLBACK_IN_PROGRESS")) is None


def test_events_on_start_verdict_and_action():
    started = AnalysisRun(attempt=2, template="t", started_at=NOW, hook_id="h1", stage="S")
    assert [e.reason for e in places.run_events([], [started])] == ["AnalysisStarted"]
    failed = replace(started, phase=Verdict.FAILED, message="metric m failed", action="ROLLBACK")
    assert [(e.type, e.reason) for e in places.run_events([started], [failed])] == \
        [("Warning", "AnalysisFailed"), ("Warning", "AnalysisRollback")]
    assert places.run_events([failed], [failed]) == []


def test_the_message_says_a_person_decides_an_inconclusive_pause():
    run = AnalysisRun(attempt=2, template="EcsAnalysisTemplate/t", started_at=NOW, hook_id="h1",
                      phase=Verdict.INCONCLUSIVE, message="metric m inconclusive")
    described = places.describe(replace(status(), message="paused"), [run])
    assert "approve 2 or reject 2" in described.message and "EcsAnalysisTemplate/t" in described.message
