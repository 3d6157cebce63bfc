"""Release waves end to end with the operator as its own process (`ecsbg run`), killed with SIGKILL between waves
and inside a wave, across two AWS accounts.

Three targets in two accounts and two regions: account 123456789012 (the operator's own credentials) runs
us-east-1 demo/web and demo/api; account 210987654321 runs eu-west-1 demo/web, reached through the target's
roleArn (moto's STS mints keys of that account; the ECS emulator partitions by the caller's account, as AWS does).
Wave one waits at an approval gate: the operator is killed there and restarted; wave two's cross-account target
waits at its own Pause hook: the operator is killed there and restarted. The emulator's request record proves that
every service got exactly one UpdateService, in the right account, wave one before wave two; a background watcher
records the stored wave in every phase it passes through and each is judged by kstatus (cli-utils) and by the
wave's Argo CD health script (gopher-lua), as tests/integration/test_waves.py does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.integration.conftest import GV, IMAGE_V2, ReleaseEnv, wait_for
from tests.integration.test_operator_process import operator_process
from tests.integration.test_waves import PAUSE, SEEN, WAVES, _judged, _status, _wait
from tests.plugins.ecs import elb_arns, seed_service
from tests.plugins.k8s import E2E

pytestmark = pytest.mark.skipif(E2E, reason="runs `ecsbg run` against the local API server")
__all__ = ["operator_process"]  # the fixture this module uses, from test_operator_process

HOME, OTHER = "123456789012", "210987654321"
ROLE = f"arn:aws:iam::{OTHER}:role/ecsbg-deployer"
TARGETS = [{"name": "use1-web", "region": "us-east-1", "cluster": "demo", "service": "web"},
           {"name": "use1-api", "region": "us-east-1", "cluster": "demo", "service": "api"},
           {"name": "euw1-web", "region": "eu-west-1", "cluster": "demo", "service": "web", "roleArn": ROLE,
            "overrides": {"lifecycleHooks": PAUSE}}]


def _ecs(env: ReleaseEnv, region: str, account: str) -> Any:
    """A client of `account` (the emulator's rule: a 12-digit access key ID is that account)."""
    key = "testing" if account == HOME else account
    return boto3.client("ecs", endpoint_url=env.ecs.url, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key="testing")


@pytest.fixture
def sts() -> Iterator[str]:
    """moto's server as the STS the operator assumes the cross-account role through (its URL)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class Watcher:
    """Reads the wave every 20 ms, so the first stored object of each phase is kept for kstatus and Argo CD."""

    def __init__(self, env: ReleaseEnv) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(env,), daemon=True)
        self._thread.start()

    def _run(self, env: ReleaseEnv) -> None:
        while not self._stop.is_set():
            try:
                _status(env)
            except Exception:  # noqa: BLE001 - a read racing a restart: the next one counts
                pass
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _updates(env: ReleaseEnv) -> list[tuple[str, str, str]]:
    """(account, region, service) of each UpdateService the operator made, in order."""
    return [(r["account"], r["region"], r["parameters"]["service"].rsplit("/", 1)[-1])
            for r in env.calls("UpdateService")]


def _child_phase(env: ReleaseEnv, target: str) -> str | None:
    return (env.obj(f"rollout-{target}").get("status") or {}).get("phase")


def test_a_sigkilled_operator_between_and_inside_waves_starts_nothing_twice_across_accounts(
        release_env: ReleaseEnv, operator_process, sts: str) -> None:
    env = release_env
    SEEN.clear()
    seed_service(env.client, service="api")
    eu_arns = {k: v.replace(":us-east-1:", ":eu-west-1:").replace(HOME, OTHER) for k, v in elb_arns("web").items()}
    seed_service(_ecs(env, "eu-west-1", OTHER), service="web", load_balancer=eu_arns)
    env.seeded = len(env.ecs.requests)
    start = lambda: operator_process(AWS_ENDPOINT_URL_STS=sts, ECSBG_POLL_FAST_SECONDS="0.05",  # noqa: E731
                                     ECSBG_POLL_IDLE_SECONDS="0.3")
    process = start()
    watcher = Watcher(env)
    try:
        env.apply({"apiVersion": GV, "kind": "EcsReleaseWave", "metadata": {"name": "rollout",
                                                                            "namespace": env.namespace},
                   "spec": {"template": {"taskDefinition": {"containers": [{"name": "app", "image": IMAGE_V2}]},
                                         "strategy": {"type": "BlueGreen", "bakeTimeInMinutes": 10}},
                            "targets": TARGETS,
                            "waves": [{"name": "one", "targets": ["use1-web"], "gate": {"approval": True}},
                                      {"name": "two", "targets": ["use1-api", "euw1-web"]}]}})
        process.wait_for(lambda: _status(env).get("phase") == "AwaitingApproval", "wave one's gate", 60)
        process.proc.kill()  # SIGKILL between waves
        process.proc.wait(10)
        process = start()
        process.wait_for(lambda: "wave pass" in process.log() or process.healthz() == 200, "the new operator", 60)
        time.sleep(1.0)  # it has read the wave back: nothing moves while the gate waits
        assert _status(env)["phase"] == "AwaitingApproval" and _updates(env) == [(HOME, "us-east-1", "web")]
        env.kubectl("annotate", "-n", env.namespace, f"{WAVES}/rollout", "ecsbg.dev/approve=1:one")
        process.wait_for(lambda: _child_phase(env, "euw1-web") == "AwaitingApproval"
                         and _child_phase(env, "use1-api") == "Succeeded", "wave two's targets", 60)
        process.proc.kill()  # SIGKILL inside wave two: one target done, the other paused at its hook
        process.proc.wait(10)
        process = start()
        env.kubectl("annotate", "-n", env.namespace, "ecsbluegreenreleases/rollout-euw1-web", "ecsbg.dev/approve=1")
        status = _wait(env, "Succeeded", timeout=60)
        assert status["progress"] == "3/3" and [w["phase"] for w in status["waves"]] == ["Succeeded", "Succeeded"]
        wait_for(lambda: "Succeeded" in SEEN, "the watcher's Succeeded")
    finally:
        watcher.stop()
        process.stop()

    updates = _updates(env)
    # each service exactly once, in its own account, wave one first; wave two's order is free (both at once)
    assert updates[0] == (HOME, "us-east-1", "web")
    assert sorted(updates[1:]) == [(HOME, "us-east-1", "api"), (OTHER, "eu-west-1", "web")]
    deployed = {(r["account"], r["region"]) for r in env.calls("RegisterTaskDefinition")}
    assert (OTHER, "eu-west-1") in deployed  # the cross-account target deployed through the assumed role
    reasons = [e["reason"] for e in env.cluster.list("v1", "events", env.namespace)
               if e["involvedObject"].get("kind") == "EcsReleaseWave"]
    assert reasons.count("AwaitingApproval") == 1 and reasons.count("WaveStarted") == 2  # no wave announced twice
    _judged({"AwaitingApproval", "Progressing", "Succeeded"})
