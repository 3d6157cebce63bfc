"""The analysis gate (domain.waves.gates, planning): bad references make the wave Invalid with no child; the run
starts after the bake, is recorded in the gate's status, and its verdict decides: Successful lets the next wave
go (after the approval, if any), Failed is a failure of the wave (failurePolicy applies), Inconclusive or Error
wait for a person."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ecsbg.domain.analysis.model import AnalysisRef, AnalysisRun, MetricRun, Verdict
from ecsbg.domain.waves import gates
from tests.waves.world import World, wave_body

KIND = "EcsAnalysisTemplate"
TEMPLATE = {"apiVersion": "ecsbg.dev/v1alpha1", "kind": KIND, "metadata": {"name": "errors", "namespace": "ns"},
            "spec": {"args": [{"name": "service"}, {"name": "limit", "value": "0.05"}],
                     "metrics": [{"name": "error-ratio", "successCondition": "result < 0.05",
                                  "provider": {"prometheus": {"address": "http://prom:9090",
                                                              "query": "errors{service='{{args.service}}'}"}}}]}}
ANALYSIS = {"templateName": "errors", "args": [{"name": "service", "value": "web"}]}


def _body(gate: dict, *, rollback: bool = False) -> dict:
    return wave_body([{"name": "one", "targets": ["t0"], "gate": gate}, {"name": "two", "targets": ["t1"]}],
                     rollback=rollback)


def _world(gate: dict, templates: dict | None = None, *, rollback: bool = False) -> World:
    world = World(_body(gate, rollback=rollback))
    world.templates = {(KIND, "errors"): TEMPLATE} if templates is None else templates
    return world


@pytest.mark.parametrize(("analysis", "templates", "reason", "says"), [
    (ANALYSIS, {}, "AnalysisTemplateNotFound", "EcsAnalysisTemplate/errors not found (in the wave's namespace)"),
    ({**ANALYSIS, "clusterScope": True}, {(KIND, "errors"): TEMPLATE}, "AnalysisTemplateNotFound",
     "ClusterEcsAnalysisTemplate/errors not found (cluster-scoped)"),
    ({"templateName": "errors"}, None, "MissingArgument", "argument(s) service need a value"),
    ({**ANALYSIS, "args": [*ANALYSIS["args"], {"name": "typo", "value": "1"}]}, None, "UnknownArgument",
     "has no argument(s) typo"),
    (ANALYSIS, {(KIND, "errors"): {**TEMPLATE, "spec": {"metrics": []}}}, "InvalidAnalysisTemplate",
     "at least one metric"),
    (ANALYSIS, "none", "AnalysisUnavailable", "runs no automated analysis"),
    ({"args": []}, None, "InvalidSpec", "gate.analysis.templateName is required"),
])  # fmt: skip
def test_a_gate_referencing_nothing_usable_is_invalid_and_creates_no_child(analysis, templates, reason, says):
    world = _world({"analysis": analysis}, templates)
    if templates == "none":
        world.templates = None
    out = world.step()
    assert out.status["phase"] == "Invalid" and out.writes == () and world.created == []
    assert {c["reason"] for c in out.status["conditions"]} == {reason} and says in out.status["message"]
    assert [(e.type, e.reason) for e in out.events] == [("Warning", reason)]


def _through_wave_one(world: World) -> None:
    world.step()
    world.finish("w-t0")


def _verdict(world: World, phase: Verdict, message: str = "metric error-ratio decided") -> AnalysisRun:
    run = gates.recorded(world.body["status"]["waves"][0]["gate"], 1)
    assert run is not None
    measured = replace(run, phase=phase, message=message, metrics=(MetricRun("error-ratio", phase=phase, count=1),))
    world.analyses = {"one": measured}
    return measured


def test_the_run_starts_after_the_bake_and_is_recorded_in_the_gate() -> None:
    world = _world({"bake": "10s", "analysis": ANALYSIS})
    _through_wave_one(world)
    out = world.step()
    assert out.status["waves"][0]["gate"]["state"] == "Baking" and "analysis" not in out.status["waves"][0]["gate"]
    out = world.step(11)
    gate = out.status["waves"][0]["gate"]
    assert gate["state"] == "Analyzing" and gate["analysis"]["phase"] == "Running"
    assert gate["analysis"]["template"] == "EcsAnalysisTemplate/errors" and gate["analysis"]["attempt"] == 1
    assert out.status["phase"] == "Progressing" and "analysis EcsAnalysisTemplate/errors running" in out.status[
        "message"]
    assert [e.reason for e in out.events] == ["AnalysisStarted"] and out.writes == () and out.active
    assert gates.live(world.body["status"], {"one": AnalysisRef("errors")})["one"][0].phase is Verdict.RUNNING
    out = world.step()  # the loop measured nothing due yet: the recorded run carries on, no Event again
    assert out.events == () and out.status["waves"][0]["gate"]["analysis"]["startedAt"] == gate["analysis"][
        "startedAt"]


@pytest.mark.parametrize(("gate", "verdict", "phase", "state", "next_wave", "reasons"), [
    ({}, Verdict.SUCCESSFUL, "Progressing", "Passed", True, ["AnalysisSuccessful", "GatePassed", "WaveStarted"]),
    ({"approval": True}, Verdict.SUCCESSFUL, "AwaitingApproval", "AwaitingApproval", False,
     ["AnalysisSuccessful", "AwaitingApproval"]),
    ({}, Verdict.INCONCLUSIVE, "AwaitingApproval", "AwaitingApproval", False,
     ["AnalysisInconclusive", "AwaitingApproval"]),
    ({}, Verdict.ERROR, "AwaitingApproval", "AwaitingApproval", False, ["AnalysisError", "AwaitingApproval"]),
    ({}, Verdict.FAILED, "Failed", "Failed", False, ["AnalysisFailed", "WaveFailed", "RolloutFailed"]),
])  # fmt: skip
def test_the_verdict_decides_the_gate(gate, verdict, phase, state, next_wave, reasons) -> None:
    world = _world({"analysis": ANALYSIS, **gate})
    _through_wave_one(world)
    world.step()
    _verdict(world, verdict)
    out = world.step()
    one = out.status["waves"][0]
    assert out.status["phase"] == phase and one["gate"]["state"] == state
    assert one["gate"]["analysis"]["phase"] == verdict.value
    assert one["gate"]["analysis"]["metrics"][0]["count"] == 1  # the measurements summary is kept
    assert ("w-t1" in {w.name for w in out.writes}) is next_wave
    assert [e.reason for e in out.events] == reasons
    world.analyses = {}  # later passes read the verdict back from status: nothing announced twice
    again = world.step()
    assert again.status["phase"] == phase and [e.reason for e in again.events if e.reason.startswith("Analysis")
                                                and e.reason != "AwaitingApproval"] == []


def test_a_failed_gate_is_a_failure_of_its_wave_and_rolls_it_back_with_the_policy() -> None:
    world = _world({"analysis": ANALYSIS}, rollback=True)
    _through_wave_one(world)
    world.step()
    _verdict(world, Verdict.FAILED, "metric error-ratio failed: 1 measurement(s) failed")
    out = world.step()
    assert out.status["phase"] == "RollingBack" and out.status["currentWave"] == "one"
    assert [w.name for w in out.writes] == ["w-t0"]  # back to the task definition it replaced
    assert "the analysis gate after wave 'one' failed: metric error-ratio failed" in out.status["message"]
    assert out.status["waves"][0]["gate"]["verdict"] == "AnalysisFailed" and "w-t1" not in world.children
    world.finish("w-t0")
    out = world.step()
    assert out.status["phase"] == "RolledBack" and world.states() == {"t0": "RolledBack", "t1": "Absent"}
    assert out.status["waves"][0]["gate"]["analysis"]["phase"] == "Failed"


def test_an_inconclusive_gate_goes_on_when_a_person_approves_it() -> None:
    world = _world({"analysis": ANALYSIS})
    _through_wave_one(world)
    world.step()
    _verdict(world, Verdict.INCONCLUSIVE, "metric error-ratio inconclusive")
    out = world.step()
    assert "ecsbg.dev/approve=1:one to go on, or ecsbg.dev/abort=1" in out.status["message"]
    world.body["metadata"]["annotations"]["ecsbg.dev/approve"] = "1:one"
    out = world.step()
    assert [w.name for w in out.writes] == ["w-t1"] and out.status["waves"][0]["gate"]["verdict"] == "Approved"


def test_a_run_of_an_earlier_attempt_is_not_this_attempts_verdict() -> None:
    world = _world({"analysis": ANALYSIS})
    _through_wave_one(world)
    world.step()
    world.analyses = {"one": replace(_verdict(world, Verdict.FAILED), attempt=0)}
    out = world.step(1)
    assert out.status["phase"] == "Progressing" and out.status["waves"][0]["gate"]["state"] == "Analyzing"
    assert world.now - timedelta(seconds=1) > world.now - timedelta(seconds=2)
