"""A release wave's analysis gate end to end: real kopf, real boto3 to the ECS emulator, the releases' analysis
engine measuring a real Prometheus (Debian's) that scrapes a small app whose error ratio the test sets.

Wave one's target succeeds; the gate's template finds the error ratio too high: the verdict (with its
measurements) is in the wave's status, a Warning AnalysisFailed Event names the metric, wave two is never
started, and failurePolicy.rollback returns wave one's service to the task definition it ran before. A gate naming
a template that does not exist makes its wave Invalid with no child (bad input).
"""

from __future__ import annotations

from ecsbg.domain.waves.model import GATE_VERDICTS
from tests.integration.conftest import ReleaseEnv, wait_for
from tests.integration.test_analysis import ERROR_RATE, app, cloudwatch, env, error_rate_template, prometheus
from tests.integration.test_waves import _deploys, _reasons, _seed, _status, _task_definition, _wait, _wave

__all__ = ["app", "cloudwatch", "env", "prometheus"]  # the fixtures this module uses, from test_analysis


def test_a_failing_analysis_gate_stops_the_next_wave_and_rolls_the_first_back(env: ReleaseEnv, app,
                                                                              prometheus) -> None:
    app.set(error_ratio=0.5)
    prometheus.wait_for_scrape()
    error_rate_template(env, prometheus)
    _seed(env)
    before = _task_definition(env, "us-east-1", "web")
    env.start_operator()
    missing = _wave(env, [{"name": "one", "targets": ["use1-web"], "gate": {"analysis": {"templateName": "nope"}}}])
    env.apply({**missing, "metadata": {**missing["metadata"], "name": "missing"}})
    env.apply(_wave(env, [{"name": "one", "targets": ["use1-web"], "gate": {"analysis": ERROR_RATE}},
                          {"name": "two", "targets": ["use1-api"]}], rollback=True))
    status = _wait(env, "RolledBack", timeout=60)

    one = status["waves"][0]
    gate, run = one["gate"], one["gate"]["analysis"]
    assert (gate["state"], gate["verdict"], run["phase"]) == ("Failed", "AnalysisFailed", "Failed")
    assert run["template"] == "EcsAnalysisTemplate/error-rate" and run["metrics"][0]["measurements"][0]["value"] == \
        "[0.5]"  # the real Prometheus' answer, the argument resolved into the query
    assert "the analysis gate after wave 'one' failed: metric error-ratio failed" in status["message"]
    assert {t["name"]: t["state"] for w in status["waves"] for t in w["targets"]} == {"use1-web": "RolledBack",
                                                                                     "use1-api": "Absent"}
    assert env.obj("rollout-use1-api") == {} and ("us-east-1", "api") not in _deploys(env)
    assert _task_definition(env, "us-east-1", "web") == before
    assert _deploys(env) == [("us-east-1", "web"), ("us-east-1", "web")]  # deployed, then rolled back: once each
    reasons = _reasons(env, "RolledBack")
    assert {"AnalysisStarted", "AnalysisFailed", "RollbackStarted"} <= set(reasons)
    assert reasons.count("AnalysisFailed") == 1 and "AnalysisFailed" in GATE_VERDICTS

    invalid = wait_for(lambda: (s := _status(env, "missing")).get("phase") == "Invalid" and s, "the Invalid wave")
    assert {c["reason"] for c in invalid["conditions"]} == {"AnalysisTemplateNotFound"}
    assert "EcsAnalysisTemplate/nope not found" in invalid["message"] and env.obj("missing-use1-web") == {}
