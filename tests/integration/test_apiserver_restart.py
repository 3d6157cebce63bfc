"""Watches that end: the operator keeps working when kube-apiserver restarts under it (every watch is cut, the
watch cache is rebuilt from etcd) while a release awaits approval and while it bakes, the first time after etcd
was compacted, so that kopf's resumed watch is answered 410 Gone and kopf must list again."""

from __future__ import annotations

import logging

import pytest

from tests.integration.conftest import ReleaseEnv, release_manifest
from tests.integration.test_release import PAUSE_AFTER_TEST

pytestmark = pytest.mark.parametrize("k8s_backend", ["apiserver"], indirect=True)


def test_the_operator_survives_apiserver_restarts(release_env: ReleaseEnv, real_cluster, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="kopf")
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST,
                               strategy={"type": "BlueGreen", "bakeTimeInMinutes": 240}))
    env.wait_phase("web", "AwaitingApproval")
    env.kubectl("create", "configmap", "bump", "-n", env.namespace)  # etcd moves past the release's revision
    real_cluster.plane.compact_etcd()
    real_cluster.plane.restart_apiserver()
    env.annotate("web", "approve", "1")  # seen only through a watch opened after the restart
    env.wait_phase("web", "Baking", timeout=60)
    real_cluster.plane.restart_apiserver()
    status = env.wait_phase("web", "Succeeded", timeout=60)
    assert status["attempt"] == 1
    assert len(env.calls("UpdateService")) == 1 and len(env.calls("ContinueServiceDeployment")) == 1

    gone = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Restarting the watch-stream")
            and "ecsbluegreenreleases" in r.getMessage()]
    assert gone, "kopf's resumed watch of the releases was answered 410 Gone and kopf listed again"
