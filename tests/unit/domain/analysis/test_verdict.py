"""The measurement/verdict state machine, table by table (Argo Rollouts' analysis semantics)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ecsbg.domain.analysis import verdict
from ecsbg.domain.analysis.model import MetricRun, Verdict
from ecsbg.domain.analysis.templates import parse_template

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def metric(**fields):
    raw = {"name": "m", "provider": {"prometheus": {"address": "http://p", "query": "q"}}, **fields}
    return parse_template({"kind": "EcsAnalysisTemplate", "metadata": {"name": "t"},
                           "spec": {"metrics": [raw]}}).metrics[0]


@pytest.mark.parametrize(("success", "failure", "result", "phase"), [
    ("result < 1", None, 0.5, Verdict.SUCCESSFUL),
    ("result < 1", None, 2, Verdict.FAILED),
    (None, "result > 1", 2, Verdict.FAILED),
    (None, "result > 1", 0.5, Verdict.SUCCESSFUL),
    ("result < 1", "result > 5", 3, Verdict.INCONCLUSIVE),
    ("result < 1", "result > 5", 0.1, Verdict.SUCCESSFUL),
    ("result < 1", "result > 5", 9, Verdict.FAILED),
    (None, None, 123, Verdict.SUCCESSFUL),
    ("result[0] < 1", None, [], Verdict.ERROR),  # empty vector: the condition cannot be evaluated
    ("result.status == 200", None, {"latency": 1}, Verdict.ERROR),
    ("result + 1", None, 1, Verdict.ERROR),  # not a boolean
])
def test_a_measurement_is_judged_by_its_conditions(success, failure, result, phase):
    fields = {k: v for k, v in (("successCondition", success), ("failureCondition", failure)) if v}
    assert verdict.judge(metric(**fields), result)[0] is phase


def _feed(m, phases):
    run = MetricRun("m")
    for i, phase in enumerate(phases):
        when = T0 + timedelta(seconds=i)
        taken = verdict.measurement(m, None, started=when, finished=when, error="boom") if phase == "E" else \
            verdict.measurement(m, {"S": 0, "F": 2, "I": 1}[phase], started=when, finished=when)
        run = verdict.record(m, run, taken)
    return run


COND = {"successCondition": "result == 0", "failureCondition": "result == 2"}


@pytest.mark.parametrize(("fields", "phases", "expected"), [
    ({"count": 3}, "SSS", Verdict.SUCCESSFUL),
    ({"count": 3}, "SS", Verdict.RUNNING),
    ({"count": 3}, "SF", Verdict.FAILED),  # failureLimit 0: the first failure decides
    ({"count": 3, "failureLimit": 1}, "SFS", Verdict.SUCCESSFUL),
    ({"count": 5, "failureLimit": 1}, "SFSF", Verdict.FAILED),
    ({"count": 3}, "SI", Verdict.INCONCLUSIVE),
    ({"count": 3, "inconclusiveLimit": 1}, "SIS", Verdict.SUCCESSFUL),
    ({"count": 2, "consecutiveErrorLimit": 2}, "EEE", Verdict.INCONCLUSIVE),  # errors never pass
    ({"count": 2, "consecutiveErrorLimit": 2}, "EESEES", Verdict.SUCCESSFUL),  # errors are not counted
    ({"count": 2, "consecutiveErrorLimit": 0}, "E", Verdict.INCONCLUSIVE),
    ({"interval": "1m"}, "SSSSSSSSSSSS", Verdict.RUNNING),  # no count with an interval: until stopped
])
def test_a_metric_phase_follows_its_limits(fields, phases, expected):
    m = metric(**COND, **fields)
    run = _feed(m, phases)
    assert run.phase is expected, run.message
    assert len(run.measurements) <= verdict.MAX_MEASUREMENTS
    assert run.count == sum(1 for p in phases if p != "E")


def test_measurements_are_due_after_initial_delay_then_every_interval():
    m = metric(interval="30s", count=3, initialDelay="1m")
    run = MetricRun("m")
    assert verdict.next_due(m, run, T0) == T0 + timedelta(minutes=1)
    taken = verdict.measurement(m, 1, started=T0 + timedelta(minutes=1), finished=T0 + timedelta(seconds=61))
    run = verdict.record(m, run, taken)
    assert verdict.next_due(m, run, T0) == T0 + timedelta(seconds=91)
    done = verdict.record(m, verdict.record(m, run, taken), taken)
    assert done.phase is Verdict.SUCCESSFUL and verdict.next_due(m, done, T0) is None


def _template(*metrics_):
    return parse_template({"metadata": {"name": "t"}, "spec": {"metrics": list(metrics_)}})


def _m(name):
    return {"name": name, "provider": {"web": {"url": "http://x"}}}


@pytest.mark.parametrize(("phases", "expected"), [
    ((Verdict.SUCCESSFUL, Verdict.SUCCESSFUL), Verdict.SUCCESSFUL),
    ((Verdict.SUCCESSFUL, Verdict.RUNNING), Verdict.RUNNING),
    ((Verdict.FAILED, Verdict.RUNNING), Verdict.FAILED),  # a failure ends the run at once
    ((Verdict.INCONCLUSIVE, Verdict.RUNNING), Verdict.RUNNING),
    ((Verdict.INCONCLUSIVE, Verdict.SUCCESSFUL), Verdict.INCONCLUSIVE),
    ((Verdict.INCONCLUSIVE, Verdict.FAILED), Verdict.FAILED),
])
def test_a_run_phase_is_the_worst_of_its_metrics(phases, expected):
    template = _template(_m("a"), _m("b"))
    runs = (MetricRun("a", phase=phases[0], message="x"), MetricRun("b", phase=phases[1], message="y"))
    phase, message = verdict.run_phase(template, runs)
    assert phase is expected
    if expected is Verdict.FAILED:
        assert "metric" in message and ("a" in message or "b" in message)


def test_only_due_metrics_are_measured():
    template = _template({**_m("a"), "interval": "10s", "count": 2}, {**_m("b"), "initialDelay": "1m"})
    assert [m.name for m in verdict.due(template, (), T0, T0)] == ["a"]
    assert [m.name for m in verdict.due(template, (), T0, T0 + timedelta(minutes=1))] == ["a", "b"]
