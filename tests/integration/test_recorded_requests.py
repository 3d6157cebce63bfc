"""We test that every request ECS acted on is recorded, end to end: an approval whose ContinueServiceDeployment
was in flight when the operator was stopped (its pass cancelled: no status, no Event, no metric) is recognised
by the next operator from the hook's state and recorded exactly once; a spec change during a deployment gets an
Event naming the attempt that supersedes it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import kopf

from ecsbg.handlers import build_registry
from tests.integration.conftest import ReleaseEnv, make_deps, release_manifest
from tests.integration.test_release import PAUSE_AFTER_TEST


def _events(env: ReleaseEnv, reason: str) -> list[dict[str, Any]]:
    events = env.cluster.list("v1", "events", env.namespace)
    items = events.get("items", []) if isinstance(events, dict) else events
    return [e for e in items if e.get("reason") == reason]


def _operator(env: ReleaseEnv, run_kopf: Any) -> tuple[Any, Any]:
    deps = make_deps(env.ecs.url)
    handle = run_kopf(build_registry(deps.settings), namespaces=(env.namespace,), memo=kopf.Memo(deps=deps))
    return handle, deps.metrics


def _hook_status(env: ReleaseEnv, deployment_arn: str) -> str | None:
    [dep] = env.client.describe_service_deployments(serviceDeploymentArns=[deployment_arn])["serviceDeployments"]
    hooks = dep.get("lifecycleHookDetails") or []
    return hooks[0].get("status") if hooks else dep["status"]


def test_an_approval_in_flight_when_the_operator_stops_is_recorded_once(release_env: ReleaseEnv, run_kopf) -> None:
    env = release_env
    first, _ = _operator(env, run_kopf)
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST))
    arn = env.wait_phase("web", "AwaitingApproval")["deployment"]["arn"]
    env.ecs.control.set_faults("latency:2s@ContinueServiceDeployment#1")  # the call is in flight for 2 s
    env.annotate("web", "approve", "1")
    time.sleep(0.7)
    first.stop()  # the pass awaiting ContinueServiceDeployment is cancelled; ECS still receives and applies it
    deadline = time.monotonic() + 10
    while _hook_status(env, arn) == "AWAITING_ACTION" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _hook_status(env, arn) != "AWAITING_ACTION", "ECS applied the approval"
    assert env.status("web").get("requests", {}).get("approve") is None, "the stopped pass recorded nothing"
    before = len(_events(env, "Approved"))
    _, metrics = _operator(env, run_kopf)
    env.wait_phase("web", "Succeeded")
    time.sleep(0.5)
    approved = len(_events(env, "Approved")) - before
    counted = metrics.registry.get_sample_value("ecsbg_requests_total", {"request": "approve", "result": "applied"})
    continues = [r for r in env.ecs.requests if r["operation"] == "ContinueServiceDeployment"]
    print(f"approved_events_after_kill={approved} approve_metric={counted} continue_calls={len(continues)}")
    assert approved == 1 and counted == 1
    assert len(continues) == 1, "recognised, not sent again"
    assert env.status("web")["requests"]["approve"] == 1


def test_a_spec_change_during_a_deployment_says_which_attempt_supersedes_it(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST))
    env.wait_phase("web", "AwaitingApproval")
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST, image="public.ecr.aws/nginx/nginx:1.29"))
    env.wait_status("web", lambda s: s.get("attempt") == 2, what="attempt 2")
    deadline = time.monotonic() + 10
    while not _events(env, "AttemptSuperseded") and time.monotonic() < deadline:
        time.sleep(0.05)
    [event] = _events(env, "AttemptSuperseded")
    assert "attempt 1" in event["message"] and "superseded by attempt 2" in event["message"], event["message"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn_operator(env: ReleaseEnv, log: Path) -> tuple[subprocess.Popen, int]:
    """`ecsbg run` as its own process (KUBECONFIG and the AWS test credentials come from the test's environment)."""
    port = _free_port()
    environ = {**os.environ, "ECSBG_NAMESPACES": env.namespace, "ECSBG_AWS_ENDPOINT_URL": env.ecs.url,
               "ECSBG_POLL_FAST_SECONDS": "0.05", "ECSBG_POLL_IDLE_SECONDS": "0.5", "ECSBG_METRICS_PORT": str(port),
               "ECSBG_HEALTH_PORT": "0", "ECSBG_COALESCE_MS": "0"}
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "ecsbg", "run"], env=environ, stdout=out, stderr=out)
    return process, port


def _metric(port: int, line_start: str) -> float | None:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return next((float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)), None)


def test_an_approval_in_flight_when_the_operator_process_is_killed_is_recorded_once(release_env: ReleaseEnv,
                                                                                     tmp_path: Path) -> None:
    env = release_env
    log = tmp_path / "operator.log"
    first, _ = _spawn_operator(env, log)
    second = None
    try:
        env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST))
        arn = env.wait_phase("web", "AwaitingApproval", timeout=60)["deployment"]["arn"]
        env.ecs.control.set_faults("latency:3s@ContinueServiceDeployment#1")  # in flight for 3 s at the emulator
        env.annotate("web", "approve", "1")
        deadline = time.monotonic() + 30
        while env.ecs.faults.rules[0].remaining != 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # the call reached ECS ...
        assert env.ecs.faults.rules[0].remaining == 0, log.read_text()[-3000:]
        first.send_signal(signal.SIGKILL)  # ... and the operator dies before the answer
        first.wait(10)
        deadline = time.monotonic() + 10
        while _hook_status(env, arn) == "AWAITING_ACTION" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _hook_status(env, arn) != "AWAITING_ACTION", "ECS applied the approval of the killed operator"
        assert env.status("web").get("requests", {}).get("approve") is None, "the killed pass recorded nothing"
        before = len(_events(env, "Approved"))
        second, port = _spawn_operator(env, log)
        env.wait_phase("web", "Succeeded", timeout=60)
        time.sleep(1.0)
        approved = len(_events(env, "Approved")) - before
        counted = _metric(port, 'ecsbg_requests_total{request="approve",result="applied"}')
        continues = [r for r in env.ecs.requests if r["operation"] == "ContinueServiceDeployment"]
        print(f"process kill: approved_events={approved} approve_metric={counted} continue_calls={len(continues)}")
        assert (approved, counted, len(continues)) == (1, 1.0, 1), log.read_text()[-3000:]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(15)
