"""Lifecycle hooks: Lambda (scripted and URL) and PAUSE, with the documented answers and timeouts."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.emulator.helpers import HOOK, deploy, describe, history, hook_log, observe, stages_of, wait_until
from tests.plugins.ecs import seed_service

FN = HOOK + "validate"
ROLE = "arn:aws:iam::123456789012:role/ecsLambdaHookRole"


def lambda_hook(stages, fn=FN, **extra):
    return {"targetType": "AWS_LAMBDA", "hookTargetArn": fn, "roleArn": ROLE, "lifecycleStages": stages, **extra}


def pause_hook(stages, minutes=None, action=None):
    hook = {"targetType": "PAUSE", "lifecycleStages": stages}
    if minutes or action:
        hook["timeoutConfiguration"] = {k: v for k, v in (("timeoutInMinutes", minutes), ("action", action)) if v}
    return hook


def invocations(srv, fn=FN):
    return [i for i in srv.control.state()["hookInvocations"] if i["functionArn"] == fn]


def test_lambda_in_progress_then_succeeded_with_merged_hook_details(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0,
                 lifecycle_hooks=[lambda_hook(["POST_TEST_TRAFFIC_SHIFT"], hookDetails={"suite": "smoke"})])
    ecs_emulator.control.set_hook_behaviour(FN, {"kind": "in_progress", "times": 2, "callBackDelay": 2000,
                                                 "hookDetails": {"attempt": "again"}})
    arn = deploy(ecs)
    seen = wait_until(ecs, arn, lambda d: any(h["status"] == "IN_PROGRESS" for h in d.get("lifecycleHookDetails", [])))
    hook = seen["lifecycleHookDetails"][0]
    assert (hook["targetType"], hook["targetArn"]) == ("AWS_LAMBDA", FN)
    _, final = observe(ecs, arn)
    assert final["status"] == "SUCCESSFUL"
    assert "lifecycleHookDetails" not in final  # no hook is active once the deployment is over
    assert [(h["stage"], h["status"], h["invocations"]) for h in hook_log(ecs_emulator, arn)] == [
        ("POST_TEST_TRAFFIC_SHIFT", "SUCCEEDED", 3)]
    calls = invocations(ecs_emulator)
    assert len(calls) == 3  # IN_PROGRESS twice, then SUCCEEDED
    event = calls[0]["event"]
    assert event["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT" and event["resourceArn"] == arn
    details = event["executionDetails"]
    assert details["targetServiceRevisionArn"] == final["targetServiceRevision"]["arn"]
    assert details["testTrafficWeights"] == {} and details["productionTrafficWeights"] == {}
    assert calls[0]["event"]["hookDetails"] == {"suite": "smoke"}
    assert calls[2]["event"]["hookDetails"] == {"suite": "smoke", "attempt": "again"}  # merged, passed back
    assert len({c["event"]["executionId"] for c in calls}) == 3


def test_lambda_payload_carries_weights_at_shift_stages(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0,
                 lifecycle_hooks=[lambda_hook(["TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT"])])
    arn = deploy(ecs)
    final = observe(ecs, arn)[1]
    green, blue = final["targetServiceRevision"]["arn"], final["sourceServiceRevisions"][0]["arn"]
    by_stage = {c["event"]["lifecycleStage"]: c["event"]["executionDetails"] for c in invocations(ecs_emulator)}
    assert by_stage["TEST_TRAFFIC_SHIFT"]["testTrafficWeights"] == {green: 100.0, blue: 0.0}
    assert by_stage["PRE_PRODUCTION_TRAFFIC_SHIFT"]["productionTrafficWeights"] == {green: 0.0, blue: 100.0}


@pytest.mark.parametrize("kind", ["fail", "raise"])
def test_lambda_failure_rolls_back(ecs, ecs_emulator, kind):
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[lambda_hook(["POST_PRODUCTION_TRAFFIC_SHIFT"])])
    ecs_emulator.control.set_hook_behaviour(FN, {"kind": kind})
    arn = deploy(ecs)
    _, final = observe(ecs, arn)
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert [(h["stage"], h["status"]) for h in hook_log(ecs_emulator, arn)] == [
        ("POST_PRODUCTION_TRAFFIC_SHIFT", "FAILED")]
    blue = final["sourceServiceRevisions"][0]
    assert final["rollback"]["serviceRevisionArn"] == blue["arn"]
    assert blue["requestedProductionTrafficWeight"] == 100.0
    assert final["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0
    assert final["targetServiceRevision"]["runningTaskCount"] == 0
    hist = history(ecs_emulator, arn)
    rollback = [e for e in hist if e["status"] == "ROLLBACK_IN_PROGRESS"]
    # traffic shifts back: production first, then test
    assert stages_of(rollback) == ["POST_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
                                   "TEST_TRAFFIC_SHIFT", "CLEAN_UP"]
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert svc["taskDefinition"].endswith("web:1")


def test_rollback_reinvokes_production_shift_hooks_with_weights_back(ecs, ecs_emulator):
    gate = HOOK + "gate"
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[
        lambda_hook(["PRODUCTION_TRAFFIC_SHIFT"]), lambda_hook(["POST_PRODUCTION_TRAFFIC_SHIFT"], fn=gate)])
    ecs_emulator.control.set_hook_behaviour(gate, {"kind": "fail"})
    arn = deploy(ecs)
    final = observe(ecs, arn)[1]
    green = final["targetServiceRevision"]["arn"]
    weights = [c["event"]["executionDetails"]["productionTrafficWeights"][green] for c in invocations(ecs_emulator)]
    assert weights == [100.0, 0.0]


@contextlib.contextmanager
def hook_target(answer: dict, received: list | None = None, gate: threading.Event | None = None):
    """A local HTTP Lambda stand-in: records each event into `received`, waits for `gate` if given, then
    answers `answer`. Yields the URL for the emulator's `url` hook behaviour."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if received is not None:
                received.append(event)
            if gate is not None:
                gate.wait(10)
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    target = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{target.server_port}/"
    finally:
        if gate is not None:
            gate.set()
        target.shutdown()
        target.server_close()


def test_lambda_url_target_gets_the_event_and_its_answer_is_used(ecs, ecs_emulator):
    received: list[dict] = []
    with hook_target({"hookStatus": "FAILED"}, received) as url:
        seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[lambda_hook(["POST_SCALE_UP"])])
        ecs_emulator.control.set_hook_behaviour(FN, {"kind": "url", "url": url})
        arn = deploy(ecs)
        final = observe(ecs, arn)[1]
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert received and received[0]["lifecycleStage"] == "POST_SCALE_UP" and received[0]["resourceArn"] == arn


def test_a_slow_url_target_does_not_block_the_server(ecs, ecs_emulator):
    release = threading.Event()
    with hook_target({"hookStatus": "SUCCEEDED"}, gate=release) as url:
        seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[lambda_hook(["PRE_SCALE_UP"])])
        seed_service(ecs, service="other", bake_time_in_minutes=0)
        ecs_emulator.control.set_hook_behaviour(FN, {"kind": "url", "url": url})
        arn = deploy(ecs)
        wait_until(ecs, arn, lambda d: bool(invocations(ecs_emulator)))
        other = deploy(ecs, service="other")  # the other service's deployment runs while the hook hangs
        assert observe(ecs, other)[1]["status"] == "SUCCESSFUL"
        assert describe(ecs, arn)["lifecycleStage"] == "PRE_SCALE_UP"
        release.set()
        assert observe(ecs, arn)[1]["status"] == "SUCCESSFUL"


def test_lambda_url_that_cannot_be_reached_rolls_back(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[lambda_hook(["PRE_SCALE_UP"])])
    ecs_emulator.control.set_hook_behaviour(FN, {"kind": "url", "url": "http://127.0.0.1:9/"})
    final = observe(ecs, deploy(ecs))[1]
    assert final["status"] == "ROLLBACK_SUCCESSFUL"


def _paused(ecs, arn):
    dep = wait_until(ecs, arn, lambda d: any(h["status"] == "AWAITING_ACTION" for h in d.get("lifecycleHookDetails", [])))
    return dep, dep["lifecycleHookDetails"][0]


def test_pause_waits_for_continue(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[pause_hook(["POST_TEST_TRAFFIC_SHIFT"])])
    arn = deploy(ecs)
    dep, hook = _paused(ecs, arn)
    assert dep["status"] == "IN_PROGRESS" and dep["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert hook["hookId"].startswith("ecs-pause-") and "targetArn" not in hook
    assert hook["timeoutAction"] == "ROLLBACK" and hook["expiresAt"] > dep["createdAt"]
    # still paused a while later (1,440 min default timeout = 43 s at speed 2000)
    again = describe(ecs, arn)
    assert again["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE")
    final = observe(ecs, arn)[1]
    assert final["status"] == "SUCCESSFUL"


def test_pause_continue_with_rollback(ecs):
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[pause_hook(["POST_PRODUCTION_TRAFFIC_SHIFT"])])
    arn = deploy(ecs)
    _, hook = _paused(ecs, arn)
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="ROLLBACK")
    final = observe(ecs, arn)[1]
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert final["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0


@pytest.mark.parametrize(("action", "outcome"), [("ROLLBACK", "ROLLBACK_SUCCESSFUL"), ("CONTINUE", "SUCCESSFUL")])
def test_pause_timeout_takes_its_action(ecs, ecs_emulator, action, outcome):
    seed_service(ecs, bake_time_in_minutes=0,
                 lifecycle_hooks=[pause_hook(["PRE_SCALE_UP"], minutes=1, action=action)])
    arn = deploy(ecs)
    final = observe(ecs, arn)[1]
    assert final["status"] == outcome
    assert [h["status"] for h in hook_log(ecs_emulator, arn)] == ["TIMED_OUT"]


def test_continue_errors(ecs, raw_ecs):
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[pause_hook(["POST_SCALE_UP"])])
    arn = deploy(ecs)
    _, hook = _paused(ecs, arn)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-unknown")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        raw_ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="SKIP")
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])  # action defaults to CONTINUE
    with pytest.raises(ecs.exceptions.InvalidParameterException):  # no longer AWAITING_ACTION
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])
    with pytest.raises(ecs.exceptions.ServiceDeploymentNotFoundException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn + "x", hookId=hook["hookId"])
    assert observe(ecs, arn)[1]["status"] == "SUCCESSFUL"


def test_linear_pause_before_every_step_needs_its_own_continue(ecs):
    seed_service(ecs, strategy="LINEAR", bake_time_in_minutes=0,
                 linear_configuration={"stepPercent": 50.0, "stepBakeTimeInMinutes": 0},
                 lifecycle_hooks=[pause_hook(["PRE_PRODUCTION_TRAFFIC_SHIFT"])])
    arn = deploy(ecs)
    hook_ids, weights = [], []
    for _ in range(2):
        dep, hook = _paused(ecs, arn)
        hook_ids.append(hook["hookId"])
        weights.append(dep["targetServiceRevision"]["requestedProductionTrafficWeight"])
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])
        wait_until(ecs, arn, lambda d, h=hook["hookId"]: all(
            x["hookId"] != h for x in d.get("lifecycleHookDetails", [])))  # its stage is over
    assert len(set(hook_ids)) == 2 and weights == [0.0, 50.0]
    assert observe(ecs, arn)[1]["status"] == "SUCCESSFUL"


def test_parallel_hooks_one_failure_rolls_back_once(ecs, ecs_emulator):
    slow = HOOK + "slow"
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[
        lambda_hook(["POST_SCALE_UP"]), lambda_hook(["POST_SCALE_UP"], fn=slow)])
    ecs_emulator.control.set_hook_behaviour(FN, {"kind": "fail"})
    ecs_emulator.control.set_hook_behaviour(slow, {"kind": "in_progress", "times": 1, "callBackDelay": 1})
    arn = deploy(ecs)
    final = observe(ecs, arn)[1]
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert sorted(h["status"] for h in hook_log(ecs_emulator, arn)) == ["FAILED", "FAILED"]
    assert len(invocations(ecs_emulator, slow)) == 1  # cut short: not re-invoked after the rollback decision
    rollback = [e for e in history(ecs_emulator, arn) if e["status"].startswith("ROLLBACK")]
    # every rollback passes the two shift stages, even when no traffic had moved yet
    assert stages_of(rollback) == ["POST_SCALE_UP", "PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT", "CLEAN_UP"]


def test_alarm_during_a_pause_ends_the_pause(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[pause_hook(["POST_TEST_TRAFFIC_SHIFT"])],
                 alarms={"alarmNames": ["a"], "enable": True, "rollback": True})
    arn = deploy(ecs)
    _, hook = _paused(ecs, arn)
    ecs_emulator.control.set_alarm("a", "ALARM")
    final = observe(ecs, arn)[1]
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert [h["status"] for h in hook_log(ecs_emulator, arn)] == ["FAILED"]
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])


def test_manual_lambda_hook_is_answered_through_the_control_api(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[lambda_hook(["POST_TEST_TRAFFIC_SHIFT"])])
    ecs_emulator.control.set_hook_behaviour(FN, {"kind": "manual"})
    arn = deploy(ecs)
    dep = wait_until(ecs, arn, lambda d: bool(d.get("lifecycleHookDetails")))
    hook_id = dep["lifecycleHookDetails"][0]["hookId"]
    ecs_emulator.control.answer_hook(hook_id, {"hookStatus": "IN_PROGRESS", "callBackDelay": 1})
    wait_until(ecs, arn, lambda d: len(invocations(ecs_emulator)) == 2)  # re-invoked, waiting again
    assert describe(ecs, arn)["lifecycleHookDetails"][0]["status"] == "IN_PROGRESS"
    ecs_emulator.control.answer_hook(hook_id, {"hookStatus": "SUCCEEDED"})
    assert observe(ecs, arn)[1]["status"] == "SUCCESSFUL"
    with pytest.raises(KeyError):
        ecs_emulator.control.answer_hook(hook_id, {"hookStatus": "SUCCEEDED"})


def test_production_shift_lambda_recurs_at_every_linear_step(ecs, ecs_emulator):
    seed_service(ecs, strategy="LINEAR", bake_time_in_minutes=0,
                 linear_configuration={"stepPercent": 40.0, "stepBakeTimeInMinutes": 0},
                 lifecycle_hooks=[lambda_hook(["PRODUCTION_TRAFFIC_SHIFT"])])
    final = observe(ecs, deploy(ecs))[1]
    assert final["status"] == "SUCCESSFUL"
    green = final["targetServiceRevision"]["arn"]
    calls = invocations(ecs_emulator)
    assert [c["event"]["executionDetails"]["productionTrafficWeights"][green] for c in calls] == [40.0, 80.0, 100.0]
    assert len({c["hookId"] for c in calls}) == 3  # a new hook execution per step


def test_lifecycle_hook_details_lists_only_the_active_stage(ecs, ecs_emulator):
    """[doc: Lifecycle hooks for Amazon ECS service deployments]: lifecycleHookDetails has "each active hook"."""
    slow = HOOK + "slow"
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[
        lambda_hook(["POST_SCALE_UP"]),
        pause_hook(["POST_TEST_TRAFFIC_SHIFT"]), lambda_hook(["POST_TEST_TRAFFIC_SHIFT"], fn=slow)])
    ecs_emulator.control.set_hook_behaviour(slow, {"kind": "manual"})
    arn = deploy(ecs)
    dep, pause = _paused(ecs, arn)
    listed = {(h["targetType"], h["status"]) for h in dep["lifecycleHookDetails"]}
    assert listed == {("PAUSE", "AWAITING_ACTION"), ("AWS_LAMBDA", "IN_PROGRESS")}  # not POST_SCALE_UP's Lambda
    lambda_id = next(h["hookId"] for h in dep["lifecycleHookDetails"] if h["targetType"] == "AWS_LAMBDA")
    ecs_emulator.control.answer_hook(lambda_id, {"hookStatus": "SUCCEEDED"})
    # a hook that finished while another of its stage still runs is still the stage's: listed with its result
    dep = wait_until(ecs, arn, lambda d: {h["status"] for h in d["lifecycleHookDetails"]} == {
        "AWAITING_ACTION", "SUCCEEDED"})
    assert dep["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=pause["hookId"])
    wait_until(ecs, arn, lambda d: d.get("lifecycleStage") not in (None, "POST_TEST_TRAFFIC_SHIFT"))
    final = observe(ecs, arn)[1]
    assert final["status"] == "SUCCESSFUL" and "lifecycleHookDetails" not in final
    assert [(h["stage"], h["targetType"], h["status"]) for h in hook_log(ecs_emulator, arn)] == [
        ("POST_SCALE_UP", "AWS_LAMBDA", "SUCCEEDED"), ("POST_TEST_TRAFFIC_SHIFT", "PAUSE", "SUCCEEDED"),
        ("POST_TEST_TRAFFIC_SHIFT", "AWS_LAMBDA", "SUCCEEDED")]


def test_a_rollback_runs_the_shift_stage_hooks_and_no_others(ecs, ecs_emulator):
    """"When a roll back happens, Amazon ECS runs the lifecycle hooks for the following lifecycle stages:
    PRODUCTION_TRAFFIC_SHIFT, TEST_TRAFFIC_SHIFT" [doc: Lifecycle hooks for Amazon ECS service deployments]:
    both, even when the rollback starts before production traffic moved; the other stages' hooks are not rerun."""
    shift, pre, gate = HOOK + "shift", HOOK + "pre", HOOK + "gate"
    seed_service(ecs, bake_time_in_minutes=0, lifecycle_hooks=[
        lambda_hook(["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"], fn=shift),
        lambda_hook(["PRE_SCALE_UP"], fn=pre), lambda_hook(["POST_TEST_TRAFFIC_SHIFT"], fn=gate)])
    ecs_emulator.control.set_hook_behaviour(gate, {"kind": "fail"})
    ecs_emulator.control.set_hook_behaviour(shift, {"kind": "manual"})
    arn = deploy(ecs)
    for stage in ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT"):
        dep = wait_until(ecs, arn, lambda d, s=stage: d.get("lifecycleStage") == s and any(
            h["status"] == "IN_PROGRESS" for h in d.get("lifecycleHookDetails", [])))
        (running,) = dep["lifecycleHookDetails"]  # the hook execution of this stage only
        assert (running["targetArn"], running["status"]) == (shift, "IN_PROGRESS")
        ecs_emulator.control.answer_hook(running["hookId"], {"hookStatus": "SUCCEEDED"})
    final = observe(ecs, arn)[1]
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    green, blue = final["targetServiceRevision"]["arn"], final["sourceServiceRevisions"][0]["arn"]
    calls = [(c["functionArn"], c["event"]["lifecycleStage"], c["event"]["executionDetails"])
             for c in ecs_emulator.control.state()["hookInvocations"]]
    assert [(fn, stage) for fn, stage, _ in calls] == [
        (pre, "PRE_SCALE_UP"), (shift, "TEST_TRAFFIC_SHIFT"), (gate, "POST_TEST_TRAFFIC_SHIFT"),
        (shift, "PRODUCTION_TRAFFIC_SHIFT"), (shift, "TEST_TRAFFIC_SHIFT")]
    assert calls[1][2]["testTrafficWeights"] == {green: 100.0, blue: 0.0}
    assert calls[3][2]["productionTrafficWeights"] == {green: 0.0, blue: 100.0}  # how a hook tells a rollback
    assert calls[4][2]["testTrafficWeights"] == {green: 0.0, blue: 100.0}
    rollback = [h for h in hook_log(ecs_emulator, arn)][-2:]
    assert [(h["stage"], h["status"]) for h in rollback] == [
        ("PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED"), ("TEST_TRAFFIC_SHIFT", "SUCCEEDED")]
    assert len({h["hookId"] for h in hook_log(ecs_emulator, arn)}) == 5  # each execution has its own hookId
