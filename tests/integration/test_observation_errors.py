"""We test what a failing read does to releases whose attempt has ended (issue 18 defect 1), end to end: one
AccessDenied per release on an idle poll (an IAM or SCP blip) leaves every Succeeded release Succeeded, with one
ObservationFailed Warning and one ObservationRecovered Event each and no Failed/Succeeded Events, and the
finished-release counter counts each attempt once, also in an operator started afterwards.
"""

from __future__ import annotations

import kopf

from ecsbg.handlers import build_registry
from ecsbg.metrics.prometheus import PrometheusRecorder
from tests.integration.conftest import ReleaseEnv, make_deps, release_manifest, wait_for
from tests.plugins.ecs import seed_service

SERVICES = ("web", "api", "jobs")


def _finished(metrics: PrometheusRecorder, result: str) -> float:
    return metrics.registry.get_sample_value("ecsbg_releases_finished_total",
                                             {"strategy": "BlueGreen", "result": result}) or 0.0


def _passes(metrics: PrometheusRecorder) -> float:
    return metrics.registry.get_sample_value("controller_runtime_reconcile_total",
                                             {"controller": "ecsbluegreenrelease", "result": "requeue_after"}) or 0.0


def _all_recovered(env: ReleaseEnv) -> bool:
    reasons = _reasons(env)
    failed = {n for n, r in reasons if r == "ObservationFailed"}
    return bool(failed) and failed == {n for n, r in reasons if r == "ObservationRecovered"}


def _reasons(env: ReleaseEnv) -> list[tuple[str, str]]:
    events = env.cluster.list("v1", "events", env.namespace)
    items = events.get("items", []) if isinstance(events, dict) else events
    return [(e["involvedObject"]["name"], e["reason"]) for e in items]


def test_a_denied_read_never_flaps_a_finished_release(release_env: ReleaseEnv, run_kopf) -> None:
    env = release_env
    for service in SERVICES[1:]:
        seed_service(env.client, service=service)
    env.seeded = len(env.ecs.requests)
    metrics = PrometheusRecorder()
    deps = make_deps(env.ecs.url, metrics=metrics, max_attempts=1)
    handle = run_kopf(build_registry(deps.settings), namespaces=(env.namespace,), memo=kopf.Memo(deps=deps))
    for service in SERVICES:
        env.apply(release_manifest(service, env.namespace, service=service))
    for service in SERVICES:
        env.wait_phase(service, "Succeeded", timeout=60)
    # the status is written before the metrics are recorded (ecsbg.reconciler): wait for the last one
    wait_for(lambda: _finished(metrics, "succeeded") == len(SERVICES), "every end counted", timeout=60.0)

    env.ecs.control.set_faults(f"deny@DescribeServices#{len(SERVICES)}")
    wait_for(lambda: len([r for r in env.ecs.requests if r["errorCode"] == "AccessDeniedException"]) == len(SERVICES),
             "every injected AccessDenied answered", timeout=60.0)
    wait_for(lambda: _all_recovered(env), "every release whose read failed to recover", timeout=60.0)
    reasons = _reasons(env)
    for service in SERVICES:
        assert env.status(service)["phase"] == "Succeeded"
        mine = [r for n, r in reasons if n == service]
        assert mine.count("Succeeded") == 1 and "Failed" not in mine, mine
        assert mine.count("ObservationFailed") == mine.count("ObservationRecovered") <= 1, mine
    assert (_finished(metrics, "succeeded"), _finished(metrics, "failed")) == (len(SERVICES), 0)

    handle.stop()  # a restart: the new process reads the stored status and counts nothing again
    fresh = PrometheusRecorder()
    deps = make_deps(env.ecs.url, metrics=fresh)
    run_kopf(build_registry(deps.settings), namespaces=(env.namespace,), memo=kopf.Memo(deps=deps))
    wait_for(lambda: _passes(fresh) >= 3 * len(SERVICES), "a few passes of the restarted operator", timeout=60.0)
    assert (_finished(fresh, "succeeded"), _finished(fresh, "failed")) == (0, 0)


def test_an_unreachable_ecs_endpoint_stalls_the_release_then_recovers(release_env: ReleaseEnv, run_kopf) -> None:
    """issue 9: an endpoint that cannot be reached for long is Stalled with a clear message, not retried silently;
    it recovers on its own when the endpoint answers again."""
    from dataclasses import replace

    from tests.plugins.process import TcpProxy

    env = release_env
    host, port = env.ecs.url.split("//", 1)[1].rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    try:
        proxy.refuse()
        deps = make_deps(proxy.url, max_attempts=1)
        deps.settings = replace(deps.settings, observation_stall_seconds=2, backoff_max_seconds=0.5)
        run_kopf(build_registry(deps.settings), namespaces=(env.namespace,), memo=kopf.Memo(deps=deps))
        env.apply(release_manifest("web", env.namespace))
        status = env.wait_status("web", lambda s: any(c["type"] == "Stalled" for c in s.get("conditions") or []),
                                 timeout=60, what="Stalled")
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["Stalled"]["reason"] == "EndpointUnreachable"
        assert conditions["ObservationFailed"]["reason"] == "EndpointUnreachable"
        assert "reading ECS has failed since" in status["message"] and "DescribeServices" in status["message"]
        assert status["phase"] == "Pending" and env.calls("UpdateService") == []
        wait_for(lambda: ("web", "Stalled") in _reasons(env), "a Stalled Warning", timeout=60.0)
        proxy.forward()
        status = env.wait_phase("web", "Succeeded", timeout=60)
        assert {c["type"] for c in status["conditions"]} == {"Ready"}
        assert ("web", "ObservationRecovered") in _reasons(env)
    finally:
        proxy.close()
