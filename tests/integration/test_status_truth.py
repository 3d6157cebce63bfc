"""We test that the status says what is true, end to end (real kopf + dev cluster, real boto3 + ECS emulator):

- stages faster than the poll still appear, every one, in ECS's order (not observed, with bounds);
- Linear steps are numbered in status;
- hooks are filed under their true stage, also when the operator first sees them stages later, with several
  hooks and with Linear steps, and their results produce Events;
- after a rollback REVISION is the revision serving production, targetRevision the rejected one, STAGE is empty
  and TRAFFIC a percent;
- a request annotation that is no attempt number leaves a Succeeded release alone (Warning + status note);
- an operator killed as its UpdateService reaches ECS, which then finishes (or rolls back) the deployment before
  a new operator process first reads it: the attempt records that deployment (adopted, not reused), its outcome
  and its stages, and ECS got one UpdateService (issue 12).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from bench.faults import compare_stages

from ecsbg.domain.model import Strategy, StrategySpec
from ecsbg.domain.stagepath import stage_path
from ecsbg_emulators.ecs.faults import Outcome
from tests.integration.conftest import PLURAL, ReleaseEnv, release_manifest, wait_for
from tests.plugins.process import OperatorProcess

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:smoke-test"
OTHER = "arn:aws:lambda:us-east-1:123456789012:function:load-test"
ROLE = "arn:aws:iam::123456789012:role/hooks"


def _lambda(function: str, *stages: str) -> dict:
    return {"type": "Lambda", "functionArn": function, "roleArn": ROLE, "stages": list(stages)}


def _pause(*stages: str) -> dict:
    return {"type": "Pause", "stages": list(stages), "timeout": {"minutes": 1440, "action": "Rollback"}}


def _emulator_stages(env: ReleaseEnv, deployment_arn: str) -> list[tuple[str, float | None]]:
    """(stage, production weight) each time the emulator's deployment changed stage or weight, deduplicated."""
    for service in env.ecs.control.state()["services"]:
        for deployment in service["deployments"]:
            if deployment["serviceDeploymentArn"] == deployment_arn:
                out: list[tuple[str, float | None]] = []
                for entry in deployment["history"]:
                    item = (entry["stage"], entry["productionWeight"])
                    if entry["stage"] and entry["status"] == "IN_PROGRESS" and (not out or out[-1] != item):
                        out.append(item)
                return out
    raise AssertionError(f"the emulator has no deployment {deployment_arn}")


def _events(env: ReleaseEnv, name: str, reason: str) -> list[dict]:
    events = env.cluster.list("v1", "events", env.namespace)
    items = events.get("items", []) if isinstance(events, dict) else events
    return [e for e in items if e.get("involvedObject", {}).get("name") == name and e.get("reason") == reason]


def _wait_event(env: ReleaseEnv, name: str, reason: str, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _events(env, name, reason)
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {reason} Event for {name}")


def _hook_log(env: ReleaseEnv, deployment_arn: str) -> list[dict]:
    """The emulator's record of every hook execution of a deployment, with the stage it ran at."""
    for service in env.ecs.control.state()["services"]:
        for deployment in service["deployments"]:
            if deployment["serviceDeploymentArn"] == deployment_arn:
                return deployment["hooks"]
    raise AssertionError(f"the emulator has no deployment {deployment_arn}")


def _invocations(env: ReleaseEnv) -> dict[str, dict]:
    return {i["hookId"]: i for i in env.ecs.control.state()["hookInvocations"]}


def test_stages_faster_than_the_poll_are_all_recorded_in_order(release_env: ReleaseEnv) -> None:
    """At speed 2000 most stages last under a millisecond and the operator polls every 20 ms."""
    env = release_env
    env.start_operator()
    strategy = {"type": "Linear", "bakeTimeInMinutes": 1, "linear": {"stepPercent": 25, "stepBakeTimeInMinutes": 1}}
    env.apply(release_manifest("web", env.namespace, strategy=strategy))
    status = env.wait_phase("web", "Succeeded", "RolledBack", "Failed", timeout=60)
    assert status["phase"] == "Succeeded", status

    recorded = [(s["stage"], (s.get("step") or {}).get("number")) for s in status["stages"]]
    documented = [(p.stage, p.step.number if p.step else None)
                  for p in stage_path(StrategySpec(Strategy.LINEAR, 1, step_percent=25.0)) if not p.optional]
    assert recorded == documented  # every stage, each step, in ECS's order
    walked = [stage for stage, _ in _emulator_stages(env, status["deployment"]["arn"])]
    assert [stage for stage, _ in recorded] == [s for i, s in enumerate(walked) if i == 0 or walked[i - 1] != s]
    assert any(s.get("observed") is False for s in status["stages"]), "some stage was faster than the poll"
    steps = [s["step"] for s in status["stages"] if s["stage"] == "PRODUCTION_TRAFFIC_SHIFT"]
    assert steps == [{"number": n, "count": 4, "trafficPercent": 25.0 * n} for n in (1, 2, 3, 4)]
    for before, after in zip(status["stages"], status["stages"][1:], strict=False):
        assert before["startedAt"] <= before["finishedAt"] and before["startedAt"] <= after["startedAt"]
    assert "stage" not in status and "step" not in status, "nothing is in flight once the release succeeded"
    assert status["traffic"]["summary"] == "100%"


def test_hooks_run_while_the_operator_was_away_are_filed_and_settled(release_env: ReleaseEnv) -> None:
    """The operator is stopped while ECS runs TEST_TRAFFIC_SHIFT and starts POST_TEST_TRAFFIC_SHIFT's hook: it
    first sees that hook stages after the one it last saw, and ECS (listing only active hooks) drops the pause it
    left awaiting approval and, later, the POST_TEST hook once it succeeds."""
    env = release_env
    env.ecs.control.set_hook_behaviour(FUNCTION, {"kind": "manual"})
    hooks = [_pause("POST_SCALE_UP"), _lambda(OTHER, "TEST_TRAFFIC_SHIFT"),
             _lambda(FUNCTION, "POST_TEST_TRAFFIC_SHIFT")]
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=hooks,
                               strategy={"type": "BlueGreen", "bakeTimeInMinutes": 1440}))
    status = env.wait_phase("web", "AwaitingApproval")
    env.stop_operators()
    [pause] = status["hooks"]
    assert pause["stage"] == "POST_SCALE_UP"

    # someone continues the pause with the AWS CLI while the operator is away; the smoke test holds POST_TEST
    arn = status["deployment"]["arn"]
    env.client.continue_service_deployment(serviceDeploymentArn=arn, hookId=pause["hookId"], action="CONTINUE")
    deadline = time.monotonic() + 20
    while not (smoke := [i for i in _invocations(env).values() if i["functionArn"] == FUNCTION]):
        assert time.monotonic() < deadline, "the POST_TEST_TRAFFIC_SHIFT hook never ran"
        time.sleep(0.02)
    env.start_operator()
    status = env.wait_status("web", lambda s: any(h["hookId"] == smoke[0]["hookId"] for h in s.get("hooks", [])),
                             what="the smoke test hook in status")
    filed = {h["hookId"]: (h["stage"], h["status"]) for h in status["hooks"]}
    assert filed[smoke[0]["hookId"]] == ("POST_TEST_TRAFFIC_SHIFT", "IN_PROGRESS"), status["hooks"]
    # the pause ECS no longer lists ended when the deployment moved on: continued, not awaiting any more
    assert filed[pause["hookId"]] == ("POST_SCALE_UP", "SUCCEEDED"), status["hooks"]
    stages = [s["stage"] for s in status["stages"]]
    after_pause = status["stages"][stages.index("POST_SCALE_UP") + 1:]
    assert [(s["stage"], s.get("observed", True)) for s in after_pause] == [
        ("TEST_TRAFFIC_SHIFT", False), ("POST_TEST_TRAFFIC_SHIFT", True)]

    env.ecs.control.answer_hook(smoke[0]["hookId"], {"hookStatus": "SUCCEEDED"})
    status = env.wait_phase("web", "Baking")
    filed = {h["hookId"]: (h["stage"], h["status"]) for h in status["hooks"]}
    assert filed[smoke[0]["hookId"]] == ("POST_TEST_TRAFFIC_SHIFT", "SUCCEEDED"), status["hooks"]
    truth = {h["hookId"]: h["stage"] for h in _hook_log(env, arn)}
    assert all(truth[hook_id] == stage for hook_id, (stage, _) in filed.items()), (filed, truth)
    deadline = time.monotonic() + 10
    while len(messages := [e["message"] for e in _events(env, "web", "HookSucceeded")]) < 2:
        assert time.monotonic() < deadline, messages
        time.sleep(0.05)
    assert any("smoke-test at POST_TEST_TRAFFIC_SHIFT succeeded" in m for m in messages), messages
    assert any("Pause hook at POST_SCALE_UP succeeded" in m for m in messages), messages


def test_several_hooks_and_linear_steps_each_under_their_true_stage(release_env: ReleaseEnv) -> None:
    env = release_env
    hooks = [_lambda(FUNCTION, "POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT"), _lambda(OTHER, "PRODUCTION_TRAFFIC_SHIFT"),
             _pause("PRE_PRODUCTION_TRAFFIC_SHIFT")]
    strategy = {"type": "Linear", "bakeTimeInMinutes": 0, "linear": {"stepPercent": 25, "stepBakeTimeInMinutes": 1}}
    # ECS lists only active hooks: each Lambda run answers IN_PROGRESS once and succeeds 2 min (60 ms) later
    for function in (FUNCTION, OTHER):
        env.ecs.control.set_hook_behaviour(function, {"kind": "in_progress", "times": 1, "callBackDelay": 120})
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=hooks, strategy=strategy))
    status = env.wait_phase("web", "AwaitingApproval")
    assert status["step"] == {"number": 1, "count": 4, "trafficPercent": 25.0}
    env.annotate("web", "approve", "1")  # level-triggered: approves every step's pause of attempt 1
    status = env.wait_phase("web", "Succeeded", "RolledBack", "Failed", timeout=60)
    assert status["phase"] == "Succeeded", status

    pauses = [h for h in status["hooks"] if h["type"] == "PAUSE"]
    assert [(h["stage"], h["step"]["number"]) for h in pauses] == [("PRE_PRODUCTION_TRAFFIC_SHIFT", n)
                                                                  for n in (1, 2, 3, 4)]
    truth = _invocations(env)
    target = status["target"]["revisionArn"]
    lambdas = [h for h in status["hooks"] if h["type"] == "AWS_LAMBDA"]
    assert lambdas, status["hooks"]
    for hook in lambdas:
        event = truth[hook["hookId"]]["event"]
        assert hook["stage"] == event["lifecycleStage"], (hook, event["lifecycleStage"])
        if hook["stage"] == "PRODUCTION_TRAFFIC_SHIFT":  # the step's weight names the step
            weight = event["executionDetails"]["productionTrafficWeights"][target]
            assert hook["step"]["trafficPercent"] == weight, (hook, weight)
        else:
            assert "step" not in hook
    assert {h["stage"] for h in lambdas} <= {"POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"}
    assert len(_events(env, "web", "HookSucceeded")) >= len(pauses)


def test_after_a_rollback_revision_is_the_one_serving(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace))
    first = env.wait_phase("web", "Succeeded")
    assert first["revision"] == first["targetRevision"] and "stage" not in first
    assert first["traffic"]["summary"] == "100%"

    env.apply(release_manifest("web", env.namespace, image="public.ecr.aws/nginx/nginx:1.29",
                               hooks=[_pause("POST_TEST_TRAFFIC_SHIFT")]))
    paused = env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "AwaitingApproval")
    assert paused["revision"] == first["revision"], "production still runs attempt 1's revision while paused"
    assert paused["targetRevision"] != first["revision"]
    env.annotate("web", "reject", "2")
    status = env.wait_phase("web", "RolledBack")
    assert (status["revision"], status["targetRevision"]) == (first["revision"], paused["targetRevision"])
    assert f"{first['revision']} serves production traffic" in status["message"]
    assert "stage" not in status, "no deployment is in flight after a rollback"
    assert status["traffic"]["summary"] == "0%"
    ecs = env.client.describe_services(cluster="demo", services=["web"])["services"][0]
    assert ecs["taskDefinition"].endswith(f"task-definition/{status['revision']}")


def test_a_typo_annotation_leaves_a_succeeded_release_alone(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace))
    before = env.wait_phase("web", "Succeeded")
    env.annotate("web", "approve", "yes")
    status = env.wait_status("web", lambda s: s.get("requestErrors"), what="a request error in status")
    assert status["phase"] == "Succeeded"
    assert status["conditions"] == before["conditions"], "Ready stays True; no Stalled"
    assert "ecsbg.dev/approve" in status["requestErrors"][0] and "'yes'" in status["requestErrors"][0]
    [event] = _wait_event(env, "web", "InvalidRequest")
    assert event["type"] == "Warning" and "'yes'" in event["message"]
    time.sleep(0.5)
    assert len(_events(env, "web", "InvalidRequest")) == 1 and env.status("web")["phase"] == "Succeeded"
    assert not _events(env, "web", "InvalidSpec")

    env.kubectl("annotate", "-n", env.namespace, f"{PLURAL}/web", "ecsbg.dev/approve-")
    status = env.wait_status("web", lambda s: not s.get("requestErrors"), what="the request error cleared")
    assert status["phase"] == "Succeeded" and status["attempt"] == 1
    assert len(env.calls("UpdateService")) == 1


def _operator(env: ReleaseEnv, tmp_path: Path, n: int) -> OperatorProcess:
    return OperatorProcess(kubeconfig=env.kubeconfig, namespace=env.namespace, log_path=tmp_path / f"op-{n}.log",
                           env={"ECSBG_AWS_ENDPOINT_URL": env.ecs.url, "ECSBG_COALESCE_MS": "0",
                                "ECSBG_POLL_FAST_SECONDS": "0.2", "AWS_DEFAULT_REGION": "us-east-1",
                                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})


def _kill_on_arrival(env: ReleaseEnv, monkeypatch, victim: OperatorProcess, operation: str) -> threading.Event:
    """SIGKILL `victim` the moment `operation` reaches the emulator, which then handles it (bench.faults' `lost`
    kill point): the write happened in ECS, and the operator that sent it never learnt its answer."""
    decide, fired = env.ecs.faults.decide, threading.Event()

    def kill_then_handle(op: str) -> Outcome:
        if op != operation or fired.is_set():
            return decide(op)
        victim.proc.kill()
        victim.proc.wait(timeout=30)
        fired.set()
        return Outcome(lost=True)

    monkeypatch.setattr(env.ecs.faults, "decide", kill_then_handle)
    return fired


def _last_ecs_deployment(env: ReleaseEnv) -> dict[str, Any]:
    [service] = [s for s in env.ecs.control.state()["services"] if s["service"] == "web"]
    return service["deployments"][-1]


@pytest.mark.parametrize(("hook", "ecs_status", "phase"), [
    (None, "SUCCESSFUL", "Succeeded"),
    ({"kind": "fail"}, "ROLLBACK_SUCCESSFUL", "RolledBack"),
], ids=["succeeded", "rolled-back"])
def test_a_deployment_ecs_finished_while_no_operator_ran_is_the_attempts(
        release_env: ReleaseEnv, monkeypatch, tmp_path: Path, hook: dict | None, ecs_status: str, phase: str) -> None:
    env = release_env
    hooks = None
    if hook is not None:  # the smoke test fails: ECS rolls the deployment back on its own
        env.ecs.control.set_hook_behaviour(FUNCTION, hook)
        hooks = [_lambda(FUNCTION, "POST_SCALE_UP")]
    seeded = _last_ecs_deployment(env)["serviceDeploymentArn"]  # the service's first deployment
    first = _operator(env, tmp_path, 1)
    killed = _kill_on_arrival(env, monkeypatch, first, "UpdateService")
    try:
        env.apply(release_manifest("web", env.namespace, hooks=hooks))
        wait_for(killed.is_set, "the operator's UpdateService to reach ECS", timeout=60)
    finally:
        first.stop()
    intent = env.status("web")
    assert intent["attempt"] == 1 and "deployment" not in intent, intent
    assert intent.get("attemptStartedAt") and intent["baseDeploymentArn"] == seeded, intent
    # at speed 2000 ECS is done within a second, long before a new operator's first read
    ecs = wait_for(lambda: (d := _last_ecs_deployment(env))["status"] == ecs_status and d, f"ECS {ecs_status}")
    second = _operator(env, tmp_path, 2)
    try:
        status = env.wait_phase("web", "Succeeded", "RolledBack", "Failed", timeout=60)
    finally:
        second.stop()

    assert status["phase"] == phase, status["message"]
    assert status["deployment"] == {**status["deployment"], "attempt": 1, "arn": ecs["serviceDeploymentArn"],
                                    "status": ecs_status, "adopted": True}
    assert "reused" not in status["deployment"]
    assert len(env.calls("UpdateService")) == 1 and len(env.calls("RegisterTaskDefinition")) == 1
    # no poll saw it run: whatever is recorded was passed unseen, and nothing ECS did not walk is listed
    assert status["stages"] and all(s.get("observed") is False for s in status["stages"]), status["stages"]
    lost, invented = compare_stages(ecs["history"], status["stages"])
    assert invented == 0 and (lost == 0 or ecs_status != "SUCCESSFUL"), (ecs["history"], status["stages"])
    [started] = env.event_messages("web", "DeploymentStarted")
    assert ecs["serviceDeploymentArn"] in started and "adopted" in started and ecs_status in started, started
    assert not _events(env, "web", "DeploymentSkipped")
