"""We test deleting releases (docs/design.md "Deleting a release"), end to end with kopf and the dev cluster:
a release carries no finalizer unless it asks for `spec.onDelete: Rollback`, so deleting it after the operator is
gone never hangs; a Rollback release stops its ECS deployment before it goes; the documented command releases a
Rollback release the operator can no longer serve; the finalizer older versions left on releases is removed.
"""

from __future__ import annotations

import time
from typing import Any

from tests.integration.conftest import PLURAL, ReleaseEnv, release_manifest
from tests.integration.test_release import PAUSE_AFTER_TEST

FINALIZER = "ecsbg.dev/rollback-on-delete"
LEGACY = "kopf.zalando.org/KopfFinalizerMarker"
# docs/install.md "Uninstalling": the one command that lets a Rollback release go without an operator
RELEASE_COMMAND = ("patch", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')


def _finalizers(env: ReleaseEnv, name: str) -> list[str]:
    return list(env.obj(name).get("metadata", {}).get("finalizers") or [])


def _gone_within(env: ReleaseEnv, name: str, seconds: float) -> float | None:
    """Seconds until the release no longer exists, or None if it still does after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if not env.obj(name):
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def _delete(env: ReleaseEnv, name: str) -> None:
    env.kubectl("delete", "-n", env.namespace, f"{PLURAL}/{name}", "--wait=false")


def _deployment(env: ReleaseEnv, arn: str) -> dict[str, Any]:
    return env.client.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def test_releases_carry_no_finalizer_and_delete_after_the_operator_is_gone(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace))
    env.wait_phase("web", "Succeeded")
    assert _finalizers(env, "web") == []
    env.stop_operators()  # uninstalled
    _delete(env, "web")
    seconds = _gone_within(env, "web", 10)
    print(f"deleted_after_uninstall_in={seconds}")
    assert seconds is not None, f"deletion hangs: finalizers {_finalizers(env, 'web')}"


def test_deleting_a_leave_release_mid_deployment_leaves_ecs_running_and_ends_its_loop(release_env: ReleaseEnv):
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST))
    status = env.wait_phase("web", "AwaitingApproval")
    _delete(env, "web")
    assert _gone_within(env, "web", 10) is not None
    time.sleep(0.3)  # the loop notices the DELETED event
    before = len(env.ecs.requests)
    time.sleep(1.0)  # at a 0.02 s poll a live loop would read ECS dozens of times
    assert len(env.ecs.requests) == before, "the deleted release's loop ended"
    assert _deployment(env, status["deployment"]["arn"])["status"] == "IN_PROGRESS", "Leave: ECS carries on"


def test_deleting_a_rollback_release_stops_its_deployment_first(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST, onDelete="Rollback"))
    status = env.wait_phase("web", "AwaitingApproval")
    assert _finalizers(env, "web") == [FINALIZER]
    _delete(env, "web")
    assert _gone_within(env, "web", 20) is not None
    stops = [r for r in env.ecs.requests if r["operation"] == "StopServiceDeployment"]
    assert [(r["parameters"]["serviceDeploymentArn"], r["parameters"]["stopType"]) for r in stops] == [
        (status["deployment"]["arn"], "ROLLBACK")]
    assert _deployment(env, status["deployment"]["arn"])["status"] in (
        "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL")


def test_a_rollback_release_without_operator_is_released_by_the_documented_command(release_env: ReleaseEnv):
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, onDelete="Rollback"))
    env.wait_phase("web", "Succeeded")
    env.wait_status("web", lambda s: _finalizers(env, "web") == [FINALIZER], what="the finalizer")
    env.stop_operators()
    _delete(env, "web")
    assert _gone_within(env, "web", 1.0) is None, "kept: nothing can stop the deployment without the operator"
    command, *args = RELEASE_COMMAND
    env.kubectl(command, "-n", env.namespace, f"{PLURAL}/web", *args)
    assert _gone_within(env, "web", 10) is not None


def test_switching_back_to_leave_removes_the_finalizer(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, onDelete="Rollback"))
    env.wait_phase("web", "Succeeded")
    env.wait_status("web", lambda s: _finalizers(env, "web") == [FINALIZER], what="the finalizer")
    env.apply(release_manifest("web", env.namespace, onDelete="Leave"))
    env.wait_status("web", lambda s: _finalizers(env, "web") == [], what="no finalizer")
    time.sleep(0.5)
    assert env.status("web")["attempt"] == 1, "onDelete is not part of the spec hash: no new attempt"
    assert len(env.calls("UpdateService")) == 1


def test_the_finalizer_of_older_versions_is_removed(release_env: ReleaseEnv) -> None:
    env = release_env
    body = release_manifest("web", env.namespace)
    body["metadata"]["finalizers"] = [LEGACY]
    env.apply(body)
    env.start_operator()
    env.wait_status("web", lambda s: _finalizers(env, "web") == [], what="legacy finalizer removed")
