"""PrometheusRecorder against the contract in docs/design.md, and its /metrics server."""

from __future__ import annotations

import re
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client import generate_latest

from ecsbg.metrics import vocabulary as v
from ecsbg.metrics.prometheus import PrometheusRecorder
from ecsbg.metrics.server import start_metrics_server
from tests.observability.release_script import DELETED, FINAL, drive
from tests.observability.tools import REPO, require


@pytest.fixture
def recorder() -> PrometheusRecorder:
    rec = PrometheusRecorder()
    drive(rec)
    return rec


def design_metrics() -> dict[str, tuple[str, set[str]]]:
    """The metrics table of docs/design.md: name -> (type, label names)."""
    text = (REPO / "docs" / "design.md").read_text()
    rows = re.findall(r"^\| `((?:ecsbg|controller_runtime)_\w+)` \| (\w+)[^|]* \| ([^|]+) \|$", text, re.M)
    assert len(rows) >= 16, "the metrics table of docs/design.md was not found"
    return {
        name: (kind, set(re.findall(r"[a-z_]+", re.sub(r"\([^)]*\)", "", labels))))
        for name, kind, labels in rows
    }


def exported(rec: PrometheusRecorder) -> dict[str, tuple[str, set[str]]]:
    out = {}
    for family in rec.registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {k for s in family.samples for k in s.labels if k != "le"}
        out[name] = (family.type, labels)
    return out


def series(rec: PrometheusRecorder, metric: str, **match: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in rec.registry.collect()
        for s in family.samples
        if s.name == metric and all(s.labels.get(k) == want for k, want in match.items())
    ]


def test_every_metric_of_the_design_is_exported_with_its_type_and_labels(recorder):
    assert exported(recorder) == design_metrics()


def test_no_created_series(recorder):
    text = generate_latest(recorder.registry).decode()
    assert "ecsbg_releases_finished_total" in text
    assert "_created" not in text


def test_one_info_series_per_release_carrying_its_state(recorder):
    infos = series(recorder, "ecsbg_release_info")
    assert {(s["namespace"], s["name"]) for s, _ in infos} == set(FINAL)
    for labels, value in infos:
        phase, stage = FINAL[(labels["namespace"], labels["name"])]
        assert (labels["phase"], labels["stage"], value) == (phase, stage or "", 1.0)
        # Given as an ARN by the script: only the name may become a label.
        assert labels["service"] == labels["name"] and labels["cluster"] == "prod"


def test_a_state_change_moves_the_info_series_and_no_state_set_repeats_it(recorder):
    def state(phase: str, stage: str | None) -> None:
        recorder.release_state(
            namespace="shop", name="web", strategy="BlueGreen", cluster="prod", service="web",
            phase=phase, stage=stage, production=None, test=None,
        )  # fmt: skip

    state("Deploying", "SCALE_UP")
    state("AwaitingApproval", "POST_TEST_TRAFFIC_SHIFT")
    infos = series(recorder, "ecsbg_release_info", namespace="shop", name="web")
    assert [(s["phase"], s["stage"]) for s, _ in infos] == [("AwaitingApproval", "POST_TEST_TRAFFIC_SHIFT")]
    # The info series is the only per-release state: a 0/1 series per phase and stage would say it 20 times.
    names = {family.name for family in recorder.registry.collect()}
    assert not names & {"ecsbg_release_phase", "ecsbg_release_stage"}
    per_release = [
        s for family in recorder.registry.collect() for s in family.samples
        if s.labels.get("namespace") == "shop" and s.labels.get("name") == "web"
    ]  # fmt: skip
    assert len(per_release) <= 6  # info, traffic (no weights now), step, steps, drifted, backoff


def test_a_state_reported_again_keeps_its_series_and_comes_back_after_a_deletion(recorder):
    """Most passes report the state they reported last time (nothing to change): the series stay as they are,
    a state reported again after another one moves them back, and one reported after the release's series were
    forgotten (deleted and re-created under the same name) brings them back."""
    def state(phase: str, production: float | None) -> None:
        recorder.release_state(
            namespace="shop", name="again", strategy="BlueGreen", cluster="prod", service="again",
            phase=phase, stage=None, production=production, test=None,
        )  # fmt: skip

    def shown() -> list[tuple[str, list[float]]]:
        infos = series(recorder, "ecsbg_release_info", name="again")
        traffic = [value for _, value in series(recorder, "ecsbg_release_traffic_percent", name="again")]
        return [(labels["phase"], traffic) for labels, _ in infos]

    for _ in range(2):
        state("Deploying", 20.0)
    assert shown() == [("Deploying", [20.0])]
    state("Deploying", 40.0)
    state("Deploying", 20.0)
    assert shown() == [("Deploying", [20.0])]
    recorder.forget_release(namespace="shop", name="again")
    assert shown() == []
    state("Deploying", 20.0)
    assert shown() == [("Deploying", [20.0])]


def test_traffic_follows_the_reported_weights(recorder):
    web = {s["listener"]: value for s, value in series(recorder, "ecsbg_release_traffic_percent", name="web")}
    assert web == {"production": 100.0, "test": 100.0}
    recorder.release_state(
        namespace="shop", name="web", strategy="BlueGreen", cluster="prod", service="web",
        phase="Pending", stage=None, production=None, test=None,
    )  # fmt: skip
    assert series(recorder, "ecsbg_release_traffic_percent", name="web") == []


def test_series_of_a_deleted_release_disappear(recorder):
    namespace, name = DELETED
    text = generate_latest(recorder.registry).decode()
    assert f'namespace="{namespace}"' not in text
    recorder.forget_release(namespace="shop", name="web")
    text = generate_latest(recorder.registry).decode()
    assert 'name="web"' not in text and 'name="api"' in text
    assert series(recorder, "ecsbg_release_info", name="web") == []
    recorder.forget_release(namespace="shop", name="web")  # idempotent: a second delete event is harmless


def test_outcomes_are_counted(recorder):
    def value(name: str, **labels: str) -> float | None:
        return recorder.registry.get_sample_value(name, labels)

    assert value("ecsbg_releases_finished_total", strategy="BlueGreen", result="succeeded") == 1
    assert value("ecsbg_releases_finished_total", strategy="Canary", result="rolled_back") == 1
    assert value("ecsbg_releases_finished_total", strategy="Linear", result="aborted") == 0
    assert value("ecsbg_stage_duration_seconds_count", strategy="BlueGreen", stage="AWAITING_APPROVAL") == 1
    assert (
        value("ecsbg_hook_outcomes_total", type="PAUSE", stage="POST_TEST_TRAFFIC_SHIFT", outcome="approved")
        == 1
    )
    assert value("ecsbg_requests_total", request="approve", result="stale") == 1
    errors = value(
        "ecsbg_aws_api_errors_total", service="ecs", operation="DescribeServices", code="ThrottlingException"
    )
    assert errors == 4 * 5  # four throttled rounds, five releases each
    assert (
        value("controller_runtime_reconcile_total", controller="ecsbluegreenrelease", result="requeue_after")
        == 7 * 5
    )
    assert value("controller_runtime_active_workers", controller="ecsbluegreenrelease") == 0


def test_reconcile_errors_and_active_workers():
    rec = PrometheusRecorder()
    rec.reconcile_started()
    rec.reconcile_started()
    assert (
        rec.registry.get_sample_value("controller_runtime_active_workers", {"controller": v.CONTROLLER}) == 2
    )
    rec.reconcile(result="error", seconds=0.2)
    labels = {"controller": v.CONTROLLER}
    assert rec.registry.get_sample_value("controller_runtime_reconcile_errors_total", labels) == 1
    assert (
        rec.registry.get_sample_value("controller_runtime_reconcile_total", {**labels, "result": "error"})
        == 1
    )
    assert rec.registry.get_sample_value("controller_runtime_reconcile_time_seconds_count", labels) == 1
    assert rec.registry.get_sample_value("controller_runtime_active_workers", labels) == 1


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("release_state", {"phase": "Done"}),
        ("release_state", {"stage": "awaiting approval"}),
        ("release_finished", {"strategy": "BlueGreen", "result": "ok", "seconds": 1}),
        ("stage_finished", {"strategy": "Linear", "stage": "arn:aws:ecs:x", "seconds": 1}),
        ("hook_outcome", {"hook_type": "Webhook", "stage": "PRE_SCALE_UP", "outcome": "failed"}),
        ("request", {"request": "approve", "result": "done"}),
        (
            "aws_call",
            {
                "service": "ecs",
                "operation": "arn:aws:ecs:eu-west-1:1:service/a b",
                "seconds": 1,
                "error_code": None,
            },
        ),
        ("reconcile", {"result": "retry", "seconds": 1}),
    ],
)
def test_values_outside_the_vocabulary_are_refused(method, kwargs):
    state = {"namespace": "n", "name": "r", "strategy": "BlueGreen", "cluster": "c", "service": "s",
             "phase": "Deploying", "stage": "SCALE_UP", "production": None, "test": None}  # fmt: skip
    call = getattr(PrometheusRecorder(), method)
    with pytest.raises(ValueError):
        call(**({**state, **kwargs} if method == "release_state" else kwargs))


def test_ecs_spellings_are_normalised_and_user_input_never_raises():
    rec = PrometheusRecorder()
    rec.release_finished(strategy="BLUE_GREEN", result="failed", seconds=30)
    # an Invalid spec may name any strategy; a hook may end before its stage was seen
    rec.release_finished(strategy="Rolling", result="failed", seconds=1)
    rec.hook_outcome(hook_type="PAUSE", stage="", outcome="approved")
    rec.aws_call(service="ecs", operation="DescribeServices", seconds=1, error_code="503")
    rec.aws_call(
        service="ecs", operation="DescribeServices", seconds=1, error_code="<html>Bad Gateway</html>"
    )
    rec.hook_outcome(hook_type="Lambda", stage="PRE_SCALE_UP", outcome="timed_out")
    get = rec.registry.get_sample_value
    assert get("ecsbg_releases_finished_total", {"strategy": "BlueGreen", "result": "failed"}) == 1
    assert get("ecsbg_releases_finished_total", {"strategy": "Unknown", "result": "failed"}) == 1
    assert get("ecsbg_hook_outcomes_total", {"type": "PAUSE", "stage": "", "outcome": "approved"}) == 1
    errors = {"service": "ecs", "operation": "DescribeServices"}
    assert get("ecsbg_aws_api_errors_total", {**errors, "code": "503"}) == 1
    assert get("ecsbg_aws_api_errors_total", {**errors, "code": "Other"}) == 1
    assert (
        get(
            "ecsbg_hook_outcomes_total",
            {"type": "AWS_LAMBDA", "stage": "PRE_SCALE_UP", "outcome": "timed_out"},
        )
        == 1
    )


def test_server_serves_the_registry_and_stops(recorder):
    server = start_metrics_server(0, recorder, addr="127.0.0.1")
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10).read().decode()
    finally:
        server.stop()
    assert "ecsbg_release_info{" in body and "_created" not in body
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=2)


def test_promtool_accepts_the_exposition(recorder):
    promtool = require("promtool")
    text = generate_latest(recorder.registry)
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert done.stdout.decode() + done.stderr.decode() == ""  # no lint warnings either


def test_step_series_exist_only_while_a_step_is_in_flight(recorder):
    assert series(recorder, "ecsbg_release_step", name="admin") == [({"namespace": "ops", "name": "admin"}, 1.0)]
    assert series(recorder, "ecsbg_release_steps", name="admin") == [({"namespace": "ops", "name": "admin"}, 10.0)]
    assert series(recorder, "ecsbg_release_step", name="web") == []  # BlueGreen: never a step
    recorder.release_step(namespace="ops", name="admin", number=None, count=None)
    assert series(recorder, "ecsbg_release_step", name="admin") == []
    recorder.release_step(namespace="ops", name="admin", number=2, count=10)
    recorder.forget_release(namespace="ops", name="admin")
    assert series(recorder, "ecsbg_release_steps", name="admin") == []


def test_hook_outcomes_carry_only_hookable_stages():
    rec = PrometheusRecorder()
    for stage in ("SCALE_UP", "BAKE_TIME", "CLEAN_UP"):
        with pytest.raises(ValueError, match="takes no lifecycle hook"):
            rec.hook_outcome(hook_type="PAUSE", stage=stage, outcome="approved")


def test_drift_gauge_and_counter():
    rec = PrometheusRecorder()

    def value(metric: str, **labels: str) -> float | None:
        return rec.registry.get_sample_value(metric, labels)

    assert value("ecsbg_drift_detected_total", field="taskDefinition") == 0  # exported before the first drift
    rec.release_drift(namespace="shop", name="web", drifted=False)
    assert value("ecsbg_release_drifted", namespace="shop", name="web") == 0
    rec.release_drift(namespace="shop", name="web", drifted=True,
                      detected=("taskDefinition", "deploymentConfiguration.bakeTimeInMinutes"))
    rec.release_drift(namespace="shop", name="web", drifted=True)  # the same drift, seen again
    assert value("ecsbg_release_drifted", namespace="shop", name="web") == 1
    assert value("ecsbg_drift_detected_total", field="taskDefinition") == 1
    assert value("ecsbg_drift_detected_total", field="deploymentConfiguration.bakeTimeInMinutes") == 1
    with pytest.raises(ValueError):
        rec.release_drift(namespace="shop", name="web", drifted=True, detected=("arn:aws:ecs:...",))
    rec.forget_release(namespace="shop", name="web")
    assert value("ecsbg_release_drifted", namespace="shop", name="web") is None
