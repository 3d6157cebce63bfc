"""Two `ecsbg run` replicas with leader election (real processes, the Kubernetes API, the ECS emulator):

- only the Lease holder operates: one release deployed with two replicas running makes exactly one
  RegisterTaskDefinition and one UpdateService, and the standby's log shows no reconcile;
- SIGKILL of the holder while its release waits at a Pause hook: the standby takes over once the lease has run
  out, acts on the approval (one ContinueServiceDeployment) and deploys the next change, again exactly once; the
  handover time is measured from the kill;
- a replica stopped (SIGTERM) gives the lease up at once, and the one that just won it stops at once too.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.integration.conftest import ReleaseEnv, release_manifest, wait_for
from tests.plugins.apiserver import RELEASE_NAMESPACE
from tests.plugins.process import OperatorProcess

PAUSE = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 1440, "action": "Rollback"}}]
LEASE = {"ECSBG_LEASE_SECONDS": "3", "ECSBG_LEASE_RENEW_DEADLINE_SECONDS": "2", "ECSBG_LEASE_RETRY_SECONDS": "0.5"}


def _lease(env: ReleaseEnv) -> tuple[str, str]:
    """(namespace, name): on the real API server the chart's Role grants leases in the operator's namespace only;
    one Lease name per test, as every test shares that namespace."""
    return (RELEASE_NAMESPACE if env.backend == "apiserver" else env.namespace), f"ecsbg-{env.namespace}"


def _replica(env: ReleaseEnv, tmp_path: Path, n: int) -> OperatorProcess:
    namespace, name = _lease(env)
    return OperatorProcess(kubeconfig=env.kubeconfig, namespace=env.namespace, log_path=tmp_path / f"op-{n}.log",
                           env={"ECSBG_AWS_ENDPOINT_URL": env.ecs.url, "ECSBG_COALESCE_MS": "0",
                                "ECSBG_POLL_FAST_SECONDS": "0.2", "AWS_DEFAULT_REGION": "us-east-1",
                                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                "ECSBG_LEADER_ELECTION_NAMESPACE": namespace, "ECSBG_LEASE_NAME": name,
                                "HOSTNAME": f"replica-{n}", **LEASE})


def _holder(env: ReleaseEnv) -> str:
    lease = env.cluster.get("coordination.k8s.io/v1", "leases", *_lease(env)) or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def _reconciled(process: OperatorProcess) -> bool:
    return any(json.loads(line).get("logger", "").startswith("ecsbg.reconciler")
               for line in process.log().splitlines() if line.startswith("{"))


def test_one_replica_operates_and_the_standby_takes_over_after_a_kill(release_env: ReleaseEnv, tmp_path) -> None:
    env = release_env
    first = _replica(env, tmp_path, 1)
    second = None
    try:
        wait_for(lambda: _holder(env).startswith("replica-1_"), "replica 1 to hold the lease")
        second = _replica(env, tmp_path, 2)
        second.wait_for(lambda: second.healthz() == 200, "the standby's liveness probe")
        env.apply(release_manifest("web", env.namespace, hooks=PAUSE))
        env.wait_phase("web", "AwaitingApproval", timeout=60)
        assert _holder(env).startswith("replica-1_") and not _reconciled(second)

        first.proc.kill()  # SIGKILL while the attempt waits at its Pause hook
        killed = time.monotonic()
        wait_for(lambda: _holder(env).startswith("replica-2_"), "replica 2 to take the lease", timeout=30)
        handover = time.monotonic() - killed
        print(f"handover after SIGKILL: {handover:.1f} s (lease 3 s, retry 0.5 s)")
        assert handover < 3 + 2 + 2, f"handover took {handover:.1f} s (lease 3 s)"
        env.annotate("web", "approve", "1")  # acted on by the new holder
        assert env.wait_phase("web", "Succeeded", "Failed", "RolledBack", timeout=60)["phase"] == "Succeeded"
        assert len(env.calls("UpdateService")) == 1 and len(env.calls("RegisterTaskDefinition")) == 1
        assert len(env.calls("ContinueServiceDeployment")) == 1
        env.apply(release_manifest("web", env.namespace, image="public.ecr.aws/nginx/nginx:1.30"))
        status = env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") in (
            "Succeeded", "Failed", "RolledBack"), timeout=60)
        assert status["phase"] == "Succeeded", status["message"]
        assert len(env.calls("UpdateService")) == 2 and len(env.calls("RegisterTaskDefinition")) == 2
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_replica_shutting_down_hands_the_lease_over_at_once(release_env: ReleaseEnv, tmp_path) -> None:
    env = release_env
    first = _replica(env, tmp_path, 1)
    wait_for(lambda: _holder(env).startswith("replica-1_"), "replica 1 to hold the lease")
    second = _replica(env, tmp_path, 2)
    try:
        second.wait_for(lambda: second.healthz() == 200, "the standby's liveness probe")
        stopped = time.monotonic()
        first.stop()  # SIGTERM: the lease is given up
        wait_for(lambda: _holder(env).startswith("replica-2_"), "replica 2 to take the lease", timeout=30)
        assert time.monotonic() - stopped < 3 + 2, "taken at the next try, not after a whole lease"
        assert first.proc.returncode == 0
        stopped = time.monotonic()
        second.stop()  # SIGTERM just as it won the lease: it ends (not ignoring it until stop() SIGKILLs it)
        assert second.proc.returncode in (0, -signal.SIGTERM) and time.monotonic() - stopped < 10, (
            second.proc.returncode, time.monotonic() - stopped)
    finally:
        second.stop()
