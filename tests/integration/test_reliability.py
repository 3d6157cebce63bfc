"""We test the operator against a flaky ECS: throttling, server errors, latency and dropped connections on every
operation (the emulator's fault injection). Retryable errors must only slow a release down: it still succeeds,
an approval still lands, and ECS sees exactly one deployment per attempt.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import ReleaseEnv, release_manifest
from tests.integration.test_release import PAUSE_AFTER_TEST


def _deployments_started(env: ReleaseEnv) -> int:
    """Deployments ECS created for the service since seeding (its own record, whatever the operator believes)."""
    state = env.ecs.control.state()
    service = next(s for s in state["services"] if s["service"] == "web")
    return len(service["deployments"]) - 1  # minus the service's first deployment


@pytest.mark.parametrize("faults", [
    "throttle:0.2,error:0.1,latency:5ms,seed:11",
    "drop:0.1,unavailable:0.1,seed:5",
], ids=["throttle-and-5xx", "dropped-connections"])
def test_release_succeeds_through_a_flaky_ecs(release_env: ReleaseEnv, faults: str) -> None:
    env = release_env
    env.ecs.control.set_faults(faults)
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST))
    env.wait_phase("web", "AwaitingApproval", timeout=60)
    env.annotate("web", "approve", "1")
    status = env.wait_phase("web", "Succeeded", "RolledBack", "Failed", timeout=60)
    assert status["phase"] == "Succeeded", status
    assert status["attempt"] == 1
    assert _deployments_started(env) == 1
    faulted = [r for r in env.ecs.requests[env.seeded:] if r["statusCode"] != 200]
    assert faulted, "the faults were injected"


def test_a_lost_update_service_answer_never_starts_a_second_deployment(release_env: ReleaseEnv) -> None:
    """UpdateService is not idempotent: if ECS applied it and the answer was lost, resending it (botocore's
    automatic retry) could start a second deployment. The operator must find the first one instead."""
    env = release_env
    env.ecs.control.set_faults("lost@UpdateService#1")
    env.start_operator()
    env.apply(release_manifest("web", env.namespace))
    status = env.wait_phase("web", "Succeeded", "RolledBack", "Failed", timeout=60)
    assert status["phase"] == "Succeeded", status
    lost = [r for r in env.ecs.requests if r["errorCode"] == "LostResponse"]
    assert len(lost) == 1 and lost[0]["statusCode"] == 200, "the first UpdateService was applied, its answer lost"
    assert _deployments_started(env) == 1
    assert status["deployment"]["arn"] == env.client.describe_services(
        cluster="demo", services=["web"])["services"][0]["currentServiceDeployment"]


def test_a_lost_forced_update_service_answer_never_starts_a_second_deployment(release_env: ReleaseEnv) -> None:
    """The same with forceNewDeployment (a spec change that keeps the task definition): a resent forced
    UpdateService would start a deployment each time it arrives."""
    env = release_env
    arn = env.client.register_task_definition(
        family="web", containerDefinitions=[{"name": "app", "image": "public.ecr.aws/nginx/nginx:1.28"}],
    )["taskDefinition"]["taskDefinitionArn"]
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, taskDefinition={"arn": arn}))
    env.wait_phase("web", "Succeeded")
    env.ecs.control.set_faults("lost@UpdateService#1")
    env.apply(release_manifest("web", env.namespace, taskDefinition={"arn": arn},
                               strategy={"type": "BlueGreen", "bakeTimeInMinutes": 20}))
    status = env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") in (
        "Succeeded", "RolledBack", "Failed"), timeout=60, what="attempt 2 finished")
    assert status["phase"] == "Succeeded", status
    forced = [r for r in env.ecs.requests if r["operation"] == "UpdateService"][-1]["parameters"]
    assert forced.get("forceNewDeployment") is True
    assert _deployments_started(env) == 2, "one deployment per attempt"
