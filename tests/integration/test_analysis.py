"""Automated analysis end to end: real kopf over the dev cluster, real boto3 to the ECS emulator, a real
Prometheus (Debian's) scraping a small app whose error ratio the test sets, a real HTTP endpoint for web probes.

- a Pause hook whose analysis passes is continued with no person; one whose analysis fails is rolled back, the
  reason naming the template and the metric; an inconclusive one waits for a person;
- a Linear release runs its analysis at every step's pause; a failing bake analysis rolls back during BAKE_TIME;
- an operator stopped in the middle of a run changes nothing: measurements are kept, the verdict acts once;
- bad input (unknown template, unreachable Prometheus) is a specific message and a Warning Event, never success.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest

from ecsbg.aws.cloudwatch import CloudWatchProvider
from ecsbg.aws.session import ClientFactory, ClientSettings
from ecsbg.clock import SystemClock
from ecsbg.handlers import build_registry
from ecsbg.wiring import build_analysis
from tests.analysis.apps import Probe, ScrapedApp
from tests.integration.conftest import ReleaseEnv, make_deps, release_manifest
from tests.observability.prom_server import PrometheusServer
from tests.plugins.moto import moto_server

GV = "ecsbg.dev/v1alpha1"
STAGE = "POST_TEST_TRAFFIC_SHIFT"


@pytest.fixture(scope="module")
def app() -> Iterator[ScrapedApp]:
    served = ScrapedApp()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def prometheus(app, tmp_path_factory) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), app.target)
    try:
        server.wait_ready()
        server.wait_for_scrape()
        yield server
    finally:
        server.stop()


@pytest.fixture
def probe() -> Iterator[Probe]:
    served = Probe()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def cloudwatch() -> Iterator[str]:
    """moto's server mode: a real local CloudWatch API (its URL)."""
    with moto_server() as url:
        yield url


@pytest.fixture
def env(release_env: ReleaseEnv, run_kopf, cloudwatch) -> ReleaseEnv:
    """release_env whose operators run automated analysis (the production wiring's runner; CloudWatch through
    the operator's client factory, pointed at moto)."""
    def start() -> Any:
        deps = make_deps(release_env.ecs.url)
        factory = ClientFactory(deps.metrics, ClientSettings(cloudwatch_endpoint_url=cloudwatch))
        deps.analysis = build_analysis(SystemClock(), deps.metrics, CloudWatchProvider(factory.cloudwatch))
        release_env.deps = deps  # type: ignore[attr-defined]
        handle = run_kopf(build_registry(deps.settings), namespaces=(release_env.namespace,), memo=kopf.Memo(deps=deps))
        release_env.operators.append(handle)
        return handle

    release_env.start_operator = start
    return release_env


def template(env: ReleaseEnv, name: str, metrics: list[dict], args: list[dict] | None = None) -> None:
    env.cluster.apply({"apiVersion": GV, "kind": "EcsAnalysisTemplate",
                       "metadata": {"name": name, "namespace": env.namespace},
                       "spec": {"args": args or [], "metrics": metrics}})


def error_rate_template(env: ReleaseEnv, prometheus: PrometheusServer, *, count: int = 2, **extra: Any) -> None:
    template(env, "error-rate", [{
        "name": "error-ratio", "interval": "1s", "count": count,
        "successCondition": "size(result) == 1 && result[0] < 0.05",
        "provider": {"prometheus": {"address": prometheus.url,
                                    "query": 'max(app_error_ratio{service="{{args.service}}"})'}},
        **extra,
    }], args=[{"name": "service"}])


def paused(ref: dict, stages: tuple[str, ...] = (STAGE,)) -> list[dict]:
    return [{"type": "Pause", "stages": list(stages), "timeout": {"minutes": 20160, "action": "Rollback"},
             "analysis": ref}]


ERROR_RATE = {"templateName": "error-rate", "args": [{"name": "service", "value": "web"}]}


def events(env: ReleaseEnv, name: str = "web") -> list[dict]:
    listed = env.cluster.list("v1", "events", env.namespace)
    items = listed.get("items", []) if isinstance(listed, dict) else listed
    return [e for e in items if e.get("involvedObject", {}).get("name") == name]


def reasons(env: ReleaseEnv) -> list[str]:
    return [e["reason"] for e in events(env)]


def wait_event(env: ReleaseEnv, reason: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events(env) if e.get("reason") == reason]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no Event {reason}: {reasons(env)}")


def runs(status: dict) -> list[dict]:
    return list(status.get("analysisRuns") or [])


def test_a_passing_pause_analysis_promotes_with_no_person(env: ReleaseEnv, app, prometheus) -> None:
    app.set(error_ratio=0.01)
    prometheus.wait_for_scrape()
    error_rate_template(env, prometheus)
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=paused(ERROR_RATE)))
    status = env.wait_phase("web", "Succeeded", "RolledBack", "Failed", timeout=60)

    assert status["phase"] == "Succeeded", status
    [run] = runs(status)
    assert (run["template"], run["phase"], run["action"], run["stage"]) == \
        ("EcsAnalysisTemplate/error-rate", "Successful", "CONTINUE", STAGE)
    [metric] = run["metrics"]
    assert metric["count"] == 2 and [m["value"] for m in metric["measurements"]] == ["[0.01]", "[0.01]"]
    assert [c["parameters"]["action"] for c in env.calls("ContinueServiceDeployment")] == ["CONTINUE"]
    assert {"AnalysisStarted", "AnalysisSuccessful", "AnalysisPromoted"} <= set(reasons(env))
    assert "Approved" not in reasons(env), "no person approved it"


def test_a_failing_pause_analysis_rolls_back_naming_template_and_metric(env: ReleaseEnv, app, prometheus) -> None:
    app.set(error_ratio=0.5)
    prometheus.wait_for_scrape()
    error_rate_template(env, prometheus)
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=paused(ERROR_RATE)))
    status = env.wait_phase("web", "RolledBack", "Succeeded", "Failed", timeout=60)

    assert status["phase"] == "RolledBack", status
    assert "EcsAnalysisTemplate/error-rate" in status["message"] and "error-ratio" in status["message"]
    [run] = runs(status)
    assert (run["phase"], run["action"]) == ("Failed", "ROLLBACK")
    assert run["metrics"][0]["measurements"][0]["value"] == "[0.5]"
    failed = wait_event(env, "AnalysisFailed")
    assert failed["type"] == "Warning" and "error-ratio" in failed["message"]
    assert [c["parameters"]["action"] for c in env.calls("ContinueServiceDeployment")] == ["ROLLBACK"]


def test_an_inconclusive_web_analysis_waits_for_a_person(env: ReleaseEnv, probe: Probe) -> None:
    probe.answer(503, {"ok": False})
    template(env, "smoke", [{
        "name": "smoke", "count": 1,
        "successCondition": "result.status == 200 && result.value == true",
        "failureCondition": "result.status == 200 && result.value == false",
        "provider": {"web": {"url": f"{probe.url}/health?release={{{{release.name}}}}", "jsonPath": "$.ok"}},
    }])
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=paused({"templateName": "smoke"})))
    status = env.wait_status("web", lambda s: any(r["phase"] == "Inconclusive" for r in runs(s)), timeout=30,
                             what="an inconclusive run")
    assert status["phase"] == "AwaitingApproval"
    assert "a person decides: approve 1 or reject 1" in status["message"]
    assert probe.requests[0]["path"] == "/health?release=web"
    time.sleep(1.0)  # the operator keeps polling every 20 ms: nothing continues the pause
    assert env.status("web")["phase"] == "AwaitingApproval" and not env.calls("ContinueServiceDeployment")
    assert wait_event(env, "AnalysisInconclusive")["type"] == "Warning"

    env.annotate("web", "approve", "1")
    assert env.wait_phase("web", "Succeeded", "RolledBack", timeout=30)["phase"] == "Succeeded"
    assert "Approved" in reasons(env)


def test_a_linear_release_runs_its_analysis_at_every_step(env: ReleaseEnv, probe: Probe) -> None:
    template(env, "smoke", [{"name": "smoke", "successCondition": "result.status == 200",
                             "provider": {"web": {"url": probe.url}}}])
    env.start_operator()
    strategy = {"type": "Linear", "bakeTimeInMinutes": 0, "linear": {"stepPercent": 50, "stepBakeTimeInMinutes": 0}}
    env.apply(release_manifest("web", env.namespace, strategy=strategy,
                               hooks=paused({"templateName": "smoke"}, ("PRE_PRODUCTION_TRAFFIC_SHIFT",))))
    status = env.wait_phase("web", "Succeeded", "RolledBack", "Failed", timeout=60)

    assert status["phase"] == "Succeeded", status
    step_runs = runs(status)
    assert len(step_runs) >= 2, step_runs
    assert len({r["hookId"] for r in step_runs}) == len(step_runs), "one run per step's pause"
    assert all((r["phase"], r["action"]) == ("Successful", "CONTINUE") for r in step_runs)
    assert len(env.calls("ContinueServiceDeployment")) == len(step_runs)


def test_a_failing_bake_analysis_rolls_back_during_bake_time(env: ReleaseEnv, probe: Probe) -> None:
    probe.answer(500, {"ok": False})
    template(env, "bake-smoke", [{"name": "smoke", "interval": "1s", "successCondition": "result.status == 200",
                                  "provider": {"web": {"url": probe.url}}}])
    env.start_operator()
    strategy = {"type": "BlueGreen", "bakeTimeInMinutes": 1440, "bakeAnalysis": {"templateName": "bake-smoke"}}
    env.apply(release_manifest("web", env.namespace, strategy=strategy))
    status = env.wait_phase("web", "RolledBack", "Succeeded", "Failed", timeout=60)

    assert status["phase"] == "RolledBack", status
    [run] = runs(status)
    assert (run["stage"], run["phase"], run["action"]) == ("BAKE_TIME", "Failed", "STOP_ROLLBACK")
    assert "hookId" not in run
    assert len(env.calls("StopServiceDeployment")) == 1
    assert "EcsAnalysisTemplate/bake-smoke" in status["message"]


def test_an_operator_stopped_mid_run_keeps_measurements_and_acts_once(env: ReleaseEnv, app, prometheus) -> None:
    app.set(error_ratio=0.0)
    prometheus.wait_for_scrape()
    error_rate_template(env, prometheus, count=4)
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=paused(ERROR_RATE)))
    env.wait_status("web", lambda s: any(m.get("count", 0) >= 1 for r in runs(s) for m in r.get("metrics", [])),
                    timeout=30, what="a first measurement")
    env.stop_operators()
    kept = runs(env.status("web"))[0]["metrics"][0]
    assert kept["phase"] == "Running" and 1 <= kept["count"] < 4

    env.start_operator()
    status = env.wait_phase("web", "Succeeded", "RolledBack", "Failed", timeout=60)
    assert status["phase"] == "Succeeded", status
    [run] = runs(status)
    assert run["metrics"][0]["count"] == 4, "measurements taken before the stop count; none is taken twice"
    assert len(env.calls("ContinueServiceDeployment")) == 1
    # the restarted operator does not announce the run again (the first one's Event may die with it: kopf posts
    # Events in the background)
    assert reasons(env).count("AnalysisStarted") <= 1


def test_an_unknown_template_is_a_warning_and_waits_for_a_person(env: ReleaseEnv) -> None:
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=paused({"templateName": "nope"})))
    event = wait_event(env, "AnalysisError")
    assert event["type"] == "Warning" and "AnalysisTemplateNotFound" in event["message"]
    status = env.status("web")
    assert status["phase"] == "AwaitingApproval" and "EcsAnalysisTemplate/nope not found" in status["message"]
    assert not env.calls("ContinueServiceDeployment")


def test_an_unreachable_prometheus_is_inconclusive_never_success(env: ReleaseEnv) -> None:
    template(env, "dead", [{
        "name": "error-ratio", "interval": "0s", "count": 1, "consecutiveErrorLimit": 1,
        "successCondition": "result[0] < 0.05",
        "provider": {"prometheus": {"address": "http://127.0.0.1:9", "query": "up"}},
    }])
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=paused({"templateName": "dead"})))
    status = env.wait_status("web", lambda s: any(r["phase"] == "Inconclusive" for r in runs(s)), timeout=30,
                             what="an inconclusive run")
    assert status["phase"] == "AwaitingApproval"
    assert "unreachable" in status["message"] and "consecutiveErrorLimit 1" in status["message"]
    assert wait_event(env, "AnalysisMeasurementError")["type"] == "Warning"
    assert not env.calls("ContinueServiceDeployment")


def put_errors(cloudwatch: str, value: float, service: str) -> None:
    import boto3

    client = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=cloudwatch)
    # moto files a datum without Timestamp outside every query window: give it one
    client.put_metric_data(Namespace="App", MetricData=[{
        "MetricName": "Errors", "Value": value, "Timestamp": datetime.now(UTC) - timedelta(seconds=30),
        "Dimensions": [{"Name": "Service", "Value": service}]}])


def cloudwatch_template(env: ReleaseEnv) -> None:
    template(env, "cw-errors", [{
        "name": "errors", "successCondition": "size(result.errors) > 0 && result.errors[0] < 5",
        "provider": {"cloudWatch": {"region": "us-east-1", "period": "5m", "metricDataQueries": [{
            "Id": "errors", "MetricStat": {
                "Metric": {"Namespace": "App", "MetricName": "Errors",
                           "Dimensions": [{"Name": "Service", "Value": "{{args.service}}"}]},
                "Period": 60, "Stat": "Sum"}}]}},
    }], args=[{"name": "service"}])


@pytest.mark.parametrize(("errors", "phase"), [(3.0, "Succeeded"), (50.0, "RolledBack")])
def test_a_cloudwatch_analysis_reads_metric_data_through_the_aws_seam(env: ReleaseEnv, cloudwatch, errors,
                                                                      phase) -> None:
    service = f"svc-{env.namespace}"  # one series per test: moto keeps its data for the module
    put_errors(cloudwatch, errors, service)
    cloudwatch_template(env)
    env.start_operator()
    ref = {"templateName": "cw-errors", "args": [{"name": "service", "value": service}]}
    env.apply(release_manifest("web", env.namespace, hooks=paused(ref)))
    status = env.wait_phase("web", "Succeeded", "RolledBack", "Failed", timeout=60)

    assert status["phase"] == phase, status
    [run] = runs(status)
    assert run["metrics"][0]["measurements"][0]["value"] == f'{{"errors":[{errors}]}}'
    calls = env.deps.metrics.registry.get_sample_value(  # type: ignore[attr-defined]
        "ecsbg_aws_api_calls_total", {"service": "cloudwatch", "operation": "GetMetricData"})
    assert calls == 1
