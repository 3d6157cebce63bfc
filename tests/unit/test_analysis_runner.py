"""The analysis runner over its seams' fakes: restart safety, acting once, bad templates, who may act."""

from __future__ import annotations

from dataclasses import replace

from ecsbg.analysis.runner import AnalysisRunner
from ecsbg.domain.actions import ApplyResult, ContinueHooks
from ecsbg.domain.analysis.codec import runs_from_list, runs_to_list
from ecsbg.domain.analysis.model import AnalysisRef
from ecsbg.domain.analysis.provider import MeasurementError
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
from ecsbg.domain.observation import AwsProblem
from tests.fakes.analysis import FakeProvider, FakeTemplateSource
from tests.fakes.clock import FixedClock

SPEC = ReleaseSpec(
    target=Target("us-east-1", "c", "s"), task_definition=TaskDefinitionSource(arn="arn:td"),
    strategy=StrategySpec(Strategy.BLUE_GREEN, 10),
    hooks=(HookSpec("Pause", ("POST_TEST_TRAFFIC_SHIFT",), analysis=AnalysisRef("smoke")),),
)
STATUS = ReleaseStatus(
    phase=Phase.AWAITING_APPROVAL, stage="POST_TEST_TRAFFIC_SHIFT", attempt=1, message="paused",
    deployment=DeploymentRecord(attempt=1, arn="arn:dep", status="IN_PROGRESS"),
    hooks=(HookDetail("h1", "PAUSE", "AWAITING_ACTION", stage="POST_TEST_TRAFFIC_SHIFT"),),
)
TEMPLATE = {"kind": "EcsAnalysisTemplate", "metadata": {"name": "smoke"}, "spec": {"metrics": [{
    "name": "ok", "interval": "10s", "count": 3, "successCondition": "result == 1",
    "provider": {"web": {"url": "http://probe/{{release.name}}"}}}]}}


class Harness:
    def __init__(self) -> None:
        self.clock = FixedClock()
        self.source = FakeTemplateSource()
        self.source.add(TEMPLATE)
        self.provider = FakeProvider()
        self.provider.script(1)
        self.applied: list = []
        self.results: list[ApplyResult] = []
        self.prior = STATUS
        self.events: list = []

    def runner(self) -> AnalysisRunner:
        return AnalysisRunner(templates=self.source, providers={"web": self.provider}, clock=self.clock)

    async def apply(self, action):
        self.applied.append(action)
        return self.results.pop(0) if self.results else ApplyResult(deployment_arn="arn:dep")

    async def step(self, may_act: bool = True, runner: AnalysisRunner | None = None) -> ReleaseStatus:
        status, events = await (runner or self.runner()).step(
            spec=SPEC, namespace="ns", name="web", status=replace(STATUS, analysis_runs=()), prior=self.prior,
            may_act=may_act, apply=self.apply)
        self.events += events
        # what the next pass reads back: the stored form
        self.prior = replace(STATUS, analysis_runs=runs_from_list(runs_to_list(status.analysis_runs)))
        return status


async def test_measurements_follow_the_interval_and_survive_a_new_runner():
    h = Harness()
    await h.step()
    await h.step()  # not due yet: the same run, one measurement
    assert len(h.provider.seen) == 1 and h.provider.seen[0]["url"] == "http://probe/web"
    h.clock.advance(10)
    await h.step(runner=h.runner())  # a restarted operator: a new runner, state only from status
    assert len(h.provider.seen) == 2
    h.clock.advance(10)
    status = await h.step(runner=h.runner())
    [run] = status.analysis_runs
    assert (run.phase.value, run.metrics[0].count, run.action) == ("Successful", 3, "CONTINUE")
    assert h.applied == [ContinueHooks("arn:dep", ("h1",), "CONTINUE", h.applied[0].request)]
    h.clock.advance(10)
    await h.step()
    assert len(h.applied) == 1 and len(h.provider.seen) == 3, "a verdict acts once"
    assert [e.reason for e in h.events] == ["AnalysisStarted", "AnalysisSuccessful", "AnalysisPromoted"]


async def test_a_refused_call_is_retried_and_recorded_once():
    h = Harness()
    h.source.add({**TEMPLATE, "spec": {"metrics": [{**TEMPLATE["spec"]["metrics"][0], "count": 1}]}})
    h.results = [ApplyResult(problem=AwsProblem("ThrottlingException", "slow down", False, "ContinueServiceDeployment"))]
    status = await h.step()
    assert status.analysis_runs[0].action is None and "acting failed" in status.analysis_runs[0].message
    status = await h.step()
    assert status.analysis_runs[0].action == "CONTINUE" and len(h.applied) == 2


async def test_a_person_wins_the_pass_the_planner_acts_in():
    h = Harness()
    h.source.add({**TEMPLATE, "spec": {"metrics": [{**TEMPLATE["spec"]["metrics"][0], "count": 1}]}})
    status = await h.step(may_act=False)
    assert status.analysis_runs[0].phase.value == "Successful" and not h.applied


async def test_a_missing_template_is_an_error_until_it_exists():
    h = Harness()
    h.source.templates.clear()
    status = await h.step()
    [run] = status.analysis_runs
    assert run.phase.value == "Error" and "AnalysisTemplateNotFound" in run.message
    assert "EcsAnalysisTemplate/smoke not found" in status.message
    assert [e.reason for e in h.events] == ["AnalysisStarted", "AnalysisError"]
    assert not h.applied and not h.provider.seen
    h.source.add(TEMPLATE)
    status = await h.step()
    assert status.analysis_runs[0].phase.value == "Running" and len(h.provider.seen) == 1


async def test_provider_errors_end_inconclusive_never_successful():
    h = Harness()
    h.source.add({**TEMPLATE, "spec": {"metrics": [{**TEMPLATE["spec"]["metrics"][0], "interval": "0s",
                                                    "consecutiveErrorLimit": 1}]}})
    h.provider.results.clear()
    h.provider.script(MeasurementError("prometheus http://p unreachable"))
    await h.step()
    status = await h.step()
    [run] = status.analysis_runs
    assert run.phase.value == "Inconclusive" and "unreachable" in run.message and not h.applied
    assert "approve 1 or reject 1" in status.message
    assert [e.reason for e in h.events].count("AnalysisMeasurementError") == 2
