"""We test these aspects of the operator, end to end (real kopf + dev cluster, real boto3 + ECS emulator):

- full BlueGreen, Linear and Canary releases, every ECS stage mirrored in status in ECS's order;
- approve, reject, abort during bake, retry; a stale approval never acts on a later attempt;
- an ECS-initiated rollback ends RolledBack without a redeploy loop;
- operator restarts at several stages make zero extra UpdateService / RegisterTaskDefinition calls;
- settings the release does not own (capacity providers, network, desired count, load balancer entries) survive.
"""

from __future__ import annotations

import time

import pytest

from ecsbg_emulators.ecs.stages import STAGE_SECONDS
from tests.integration.conftest import IMAGE_V2, ReleaseEnv, release_manifest

PAUSE_AFTER_TEST = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"],
                     "timeout": {"minutes": 1440, "action": "Rollback"}}]


def _conditions(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status.get("conditions") or []}


def _emulator_stages(env: ReleaseEnv, deployment_arn: str) -> list[str]:
    for service in env.ecs.control.state()["services"]:
        for deployment in service["deployments"]:
            if deployment["serviceDeploymentArn"] == deployment_arn:
                stages: list[str] = []
                for entry in deployment["history"]:
                    if entry["stage"] and (not stages or stages[-1] != entry["stage"]):
                        stages.append(entry["stage"])
                return stages
    raise AssertionError(f"the emulator has no deployment {deployment_arn}")


def _stays(env: ReleaseEnv, name: str, phase: str, seconds: float = 1.0) -> None:
    """The release keeps `phase` for `seconds` (the operator polls every 20 ms meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert env.status(name).get("phase") == phase
        time.sleep(0.05)


def test_bluegreen_release_mirrors_every_ecs_stage_in_order(slow_release_env: ReleaseEnv) -> None:
    env = slow_release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, strategy={"type": "BlueGreen", "bakeTimeInMinutes": 1}))
    status = env.wait_phase("web", "Succeeded", "RolledBack", "Failed", timeout=90)

    assert status["phase"] == "Succeeded", status
    mirrored = [s["stage"] for s in status["stages"]]
    assert mirrored == _emulator_stages(env, status["deployment"]["arn"])
    # a stage of half a second or more (at speed 10) outlasts a pass even on a loaded CI machine: each was observed
    # (CLEAN_UP may end between two polls); the 0.1 s ones are 5 polls long, but one pass on a loaded CI machine
    # took longer and PRE_SCALE_UP was filled in, marked observed: false (what the status promises for them)
    lasting = {stage for stage, seconds in STAGE_SECONDS.items() if seconds >= 5}
    assert all(s.get("observed", True) for s in status["stages"][:-1] if s["stage"] in lasting), status["stages"]
    assert mirrored[:3] == ["PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP"]
    assert mirrored[-2:] == ["BAKE_TIME", "CLEAN_UP"]
    assert all(s.get("finishedAt") for s in status["stages"]), "every stage of a finished release is closed"
    assert status["traffic"] == {"production": 100, "test": 100, "summary": "100%"}
    conditions = _conditions(status)
    assert conditions["Ready"]["status"] == "True" and "Reconciling" not in conditions and "Stalled" not in conditions
    assert status["observedGeneration"] == env.obj("web")["metadata"]["generation"]
    assert len(env.calls("UpdateService")) == 1


@pytest.mark.parametrize(
    ("strategy", "intermediate"),
    [
        ({"type": "Linear", "bakeTimeInMinutes": 0, "linear": {"stepPercent": 25, "stepBakeTimeInMinutes": 10}},
         {25, 50, 75}),
        ({"type": "Canary", "bakeTimeInMinutes": 0, "canary": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 20}},
         {10}),
    ],
    ids=["linear", "canary"],
)
def test_linear_and_canary_shift_production_traffic_in_steps(release_env: ReleaseEnv, strategy, intermediate) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, strategy=strategy))
    seen: set[float] = set()

    def record(status: dict) -> bool:
        production = (status.get("traffic") or {}).get("production")
        if production is not None:
            seen.add(production)
        return status.get("phase") in ("Succeeded", "RolledBack", "Failed")

    status = env.wait_status("web", record, timeout=30, what="a finished release")
    assert status["phase"] == "Succeeded", status
    # each step bakes 300 ms (10 min at speed 2000) or longer: a 20 ms poll sees every step
    assert intermediate <= seen, f"production weights seen: {sorted(seen)}"
    assert seen <= intermediate | {0, 100}


def test_pause_approval_applies_only_to_the_attempt_it_names(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST))
    status = env.wait_phase("web", "AwaitingApproval")
    assert status["stage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert status["traffic"] == {"production": 0, "test": 100, "summary": "0%"}, "green has all test traffic, no production"
    assert [h["status"] for h in status["hooks"]] == ["AWAITING_ACTION"]
    assert status["attempt"] == 1
    env.annotate("web", "approve", "1")
    assert env.wait_phase("web", "Succeeded")["attempt"] == 1

    # a new release (attempt 2) pauses again; the annotation still says approve=1 and must not act on it
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST, image="public.ecr.aws/nginx/nginx:1.29"))
    status = env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "AwaitingApproval")
    _stays(env, "web", "AwaitingApproval", seconds=1.0)
    assert len(env.calls("ContinueServiceDeployment")) == 1
    env.annotate("web", "approve", "2")
    assert env.wait_phase("web", "Succeeded")["attempt"] == 2
    assert len(env.calls("ContinueServiceDeployment")) == 2
    assert len(env.calls("UpdateService")) == 2


def test_reject_rolls_back_and_retry_starts_a_new_attempt(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST))
    env.wait_phase("web", "AwaitingApproval")
    env.annotate("web", "reject", "1")
    status = env.wait_phase("web", "RolledBack")
    assert status["deployment"]["status"] == "ROLLBACK_SUCCESSFUL"
    assert _conditions(status)["Stalled"]["status"] == "True"
    _stays(env, "web", "RolledBack", seconds=1.0)  # the same spec is not deployed again by itself
    assert len(env.calls("UpdateService")) == 1

    env.annotate("web", "retry", "1")
    status = env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "AwaitingApproval")
    env.annotate("web", "approve", "2")
    status = env.wait_phase("web", "Succeeded")
    assert status["attempt"] == 2 and status["specHash"]
    assert len(env.calls("UpdateService")) == 2
    # the retry reused the task definition revision registered for attempt 1 (same spec, same hash)
    assert len(env.calls("RegisterTaskDefinition")) == 1


def test_abort_during_bake_time_rolls_back(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, strategy={"type": "BlueGreen", "bakeTimeInMinutes": 1440}))
    status = env.wait_phase("web", "Baking")
    assert status["traffic"]["production"] == 100
    env.annotate("web", "abort", str(status["attempt"]))
    status = env.wait_phase("web", "RolledBack", timeout=30)
    assert status["traffic"]["production"] == 0
    stops = env.calls("StopServiceDeployment")
    assert len(stops) == 1 and stops[0]["parameters"]["stopType"] == "ROLLBACK"


def test_ecs_initiated_rollback_is_not_redeployed(release_env: ReleaseEnv) -> None:
    env = release_env
    function = "arn:aws:lambda:us-east-1:123456789012:function:smoke-test"
    env.ecs.control.set_hook_behaviour(function, {"kind": "fail"})
    env.start_operator()
    hooks = [{"type": "Lambda", "functionArn": function, "roleArn": "arn:aws:iam::123456789012:role/hooks",
              "stages": ["POST_TEST_TRAFFIC_SHIFT"]}]
    env.apply(release_manifest("web", env.namespace, hooks=hooks))
    status = env.wait_phase("web", "RolledBack")
    assert _conditions(status)["Stalled"]["status"] == "True"
    _stays(env, "web", "RolledBack", seconds=1.5)
    assert len(env.calls("UpdateService")) == 1


def test_operator_restarts_never_redeploy(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST,
                               strategy={"type": "BlueGreen", "bakeTimeInMinutes": 120}))
    env.wait_phase("web", "AwaitingApproval")
    env.stop_operators()
    env.start_operator()  # restart while paused
    _stays(env, "web", "AwaitingApproval", seconds=0.5)
    env.annotate("web", "approve", "1")
    env.wait_phase("web", "Baking")
    env.stop_operators()
    env.start_operator()  # restart during bake time
    status = env.wait_phase("web", "Succeeded", timeout=30)
    env.stop_operators()
    env.start_operator()  # restart after success
    _stays(env, "web", "Succeeded", seconds=0.5)
    assert status["attempt"] == 1
    assert len(env.calls("UpdateService")) == 1
    assert len(env.calls("RegisterTaskDefinition")) == 1


def test_settings_the_release_does_not_own_survive(release_env: ReleaseEnv) -> None:
    env = release_env
    before = env.client.describe_services(cluster="demo", services=["web"])["services"][0]
    env.start_operator()
    env.apply(release_manifest("web", env.namespace))
    env.wait_phase("web", "Succeeded")
    after = env.client.describe_services(cluster="demo", services=["web"])["services"][0]
    for key in ("capacityProviderStrategy", "networkConfiguration", "desiredCount", "platformVersion"):
        assert after.get(key) == before.get(key), key
    assert [(lb["targetGroupArn"], lb["containerName"], lb["containerPort"]) for lb in after["loadBalancers"]] == \
        [(lb["targetGroupArn"], lb["containerName"], lb["containerPort"]) for lb in before["loadBalancers"]]
    update = env.calls("UpdateService")[0]["parameters"]
    assert not {"capacityProviderStrategy", "networkConfiguration", "desiredCount"} & set(update)
    td = env.client.describe_task_definition(taskDefinition=after["taskDefinition"], include=["TAGS"])
    assert td["taskDefinition"]["containerDefinitions"][0]["image"] == IMAGE_V2
    assert any(t["key"] == "ecsbg.dev/taskdef-hash" for t in td["tags"])
