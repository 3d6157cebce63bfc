"""spec.autoScaling end to end (real kopf, the Kubernetes API, real boto3, the ECS emulator, and moto's server
for Application Auto Scaling, whose ECS backend holds the same cluster and service names).

SuspendDuringDeployment suspends dynamic scale-in, scale-out and scheduled scaling for the attempt and restores
exactly the state found before it: after success, after a rollback, and when the operator that suspended it was
killed (SIGKILL, a real `ecsbg run` process) mid-deployment and another one finished the attempt. Observe only shows the scalable target.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.conftest import ReleaseEnv, release_manifest
from tests.plugins.ecs import seed_service
from tests.plugins.moto import moto_server
from tests.plugins.process import OperatorProcess

PAUSE = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 1440, "action": "Rollback"}}]
BEFORE = {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False, "ScheduledScalingSuspended": True}
ALL = dict.fromkeys(BEFORE, True)


@pytest.fixture(scope="module")
def aas_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def _scalable(env: ReleaseEnv, url: str, service: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The service in the emulator, and in moto a scalable target (min 1, max 3, scheduled scaling suspended by
    the platform team) with a target-tracking policy."""
    seed_service(env.client, service=service)
    env.seeded = len(env.ecs.requests)
    kw = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "moto", "aws_secret_access_key": "moto"}
    ecs, aas = boto3.client("ecs", **kw), boto3.client("application-autoscaling", **kw)
    ecs.create_cluster(clusterName="demo")
    ecs.create_service(cluster="demo", serviceName=service, desiredCount=2)  # Application Auto Scaling checks it
    ident = {"ServiceNamespace": "ecs", "ResourceId": f"service/demo/{service}",
             "ScalableDimension": "ecs:service:DesiredCount"}
    aas.register_scalable_target(**ident, MinCapacity=1, MaxCapacity=3, SuspendedState=BEFORE)
    aas.put_scaling_policy(PolicyName="cpu50", PolicyType="TargetTrackingScaling", **ident,
                           TargetTrackingScalingPolicyConfiguration={"TargetValue": 50.0, "PredefinedMetricSpecification": {
                               "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})
    monkeypatch.setenv("AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING", url)
    return lambda: {k: bool(v) for k, v in aas.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[ident["ResourceId"]])["ScalableTargets"][0]["SuspendedState"].items()}


def _normalised(state: dict[str, bool]) -> dict[str, bool]:
    return {key: state.get(key, False) for key in BEFORE}


def _ended(env: ReleaseEnv, name: str, timeout: float = 30.0) -> dict[str, Any]:
    """The attempt is over and the restore has been written (status.autoScaling.restore is gone)."""
    return env.wait_status(name, lambda s: s.get("phase") in ("Succeeded", "RolledBack", "Failed")
                           and "restore" not in (s.get("autoScaling") or {"restore": 1}), timeout,
                           what="ended and restored")


def _process(env: ReleaseEnv, tmp_path: Path, n: int, url: str) -> OperatorProcess:
    return OperatorProcess(kubeconfig=env.kubeconfig, namespace=env.namespace, log_path=tmp_path / f"op-{n}.log",
                           env={"ECSBG_AWS_ENDPOINT_URL": env.ecs.url, "ECSBG_COALESCE_MS": "0",
                                "ECSBG_POLL_FAST_SECONDS": "0.2", "AWS_DEFAULT_REGION": "us-east-1",
                                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING": url})


def test_suspended_during_the_attempt_and_restored_exactly_after_the_operator_is_killed(
        release_env: ReleaseEnv, aas_url: str, monkeypatch, tmp_path: Path) -> None:
    env = release_env
    state = _scalable(env, aas_url, "as-ok", monkeypatch)
    first = _process(env, tmp_path, 1, aas_url)
    try:
        env.apply(release_manifest("as-ok", env.namespace, service="as-ok", hooks=PAUSE,
                                   autoScaling="SuspendDuringDeployment"))
        status = env.wait_phase("as-ok", "AwaitingApproval", timeout=60)
        assert _normalised(state()) == ALL
        scaling = status["autoScaling"]
        assert scaling["restore"] == {"attempt": 1, "dynamicScalingIn": False, "dynamicScalingOut": False,
                                      "scheduledScaling": True}
        assert (scaling["minCapacity"], scaling["maxCapacity"], scaling["policies"]) == (
            1, 3, ["cpu50 (TargetTrackingScaling)"])
        assert "maxCapacity 3" in env.event_messages("as-ok", "ScalingCapacity")[0]  # 2 tasks run as up to 4
        assert env.event_messages("as-ok", "ScalingSuspended")
    finally:
        first.proc.kill()  # SIGKILL mid-deployment: the operator that suspended scaling is gone
        first.stop()
    second = _process(env, tmp_path, 2, aas_url)
    try:
        env.annotate("as-ok", "approve", "1")
        status = _ended(env, "as-ok", timeout=60)
        assert status["phase"] == "Succeeded", status["message"]
        assert _normalised(state()) == BEFORE, "exactly the state before: scheduled scaling stays suspended"
        assert "suspended: scheduled" in env.event_messages("as-ok", "ScalingRestored")[0]
    finally:
        second.stop()


def test_restored_after_a_rollback_and_observe_changes_nothing(release_env: ReleaseEnv, aas_url: str,
                                                                monkeypatch) -> None:
    env = release_env
    state = _scalable(env, aas_url, "as-rb", monkeypatch)
    env.start_operator()
    env.apply(release_manifest("as-rb", env.namespace, service="as-rb", hooks=PAUSE,
                               autoScaling="SuspendDuringDeployment"))
    env.wait_phase("as-rb", "AwaitingApproval")
    assert _normalised(state()) == ALL
    env.annotate("as-rb", "reject", "1")
    status = _ended(env, "as-rb")
    assert status["phase"] == "RolledBack", status["message"]
    assert _normalised(state()) == BEFORE

    observed = _scalable(env, aas_url, "as-obs", monkeypatch)
    env.apply(release_manifest("as-obs", env.namespace, service="as-obs", hooks=PAUSE, autoScaling="Observe"))
    status = env.wait_phase("as-obs", "AwaitingApproval")
    assert _normalised(observed()) == BEFORE, "Observe never writes"
    assert status["autoScaling"]["suspended"] == {"dynamicScalingIn": False, "dynamicScalingOut": False,
                                                  "scheduledScaling": True}
    assert "restore" not in status["autoScaling"]
