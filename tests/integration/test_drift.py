"""We test these aspects of a status that stays true, end to end (real kopf + dev cluster, real boto3 + emulator):

- a service changed out of band (`aws ecs update-service`, here a plain boto3 client) is reported as drift
  (Drifted condition, not Ready, status.drift, a Warning Event naming each field with both values) and the
  release is never redeployed under driftPolicy Report; drift that returns to the spec clears it;
- under driftPolicy Correct, drift starts a new attempt that deploys the spec again (normal blue/green);
- a spec whose task definition content and deployment configuration ECS already runs starts no deployment:
  a release created for what runs, and a Git revert to what runs after a rollback;
- Events come from component ecsbg-operator with an action, and name who set a request annotation.
"""

from __future__ import annotations

import time
from typing import Any

from tests.integration.conftest import IMAGE_V2, ReleaseEnv, release_manifest
from tests.plugins.ecs import IMAGE

PAUSE = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 1440, "action": "Rollback"}}]
IMAGE_V3 = "public.ecr.aws/nginx/nginx:1.29"


def _conditions(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status.get("conditions") or []}


def _events(env: ReleaseEnv, name: str, reason: str | None = None) -> list[dict[str, Any]]:
    listed = env.cluster.list("v1", "events", env.namespace)
    items = listed.get("items", []) if isinstance(listed, dict) else listed
    return [e for e in items if e.get("involvedObject", {}).get("name") == name
            and (reason is None or e.get("reason") == reason)]


def _wait_event(env: ReleaseEnv, name: str, reason: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _events(env, name, reason)
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no {reason} Event for {name}: {[e.get('reason') for e in _events(env, name)]}")


def _service(env: ReleaseEnv) -> dict[str, Any]:
    return env.client.describe_services(cluster="demo", services=["web"])["services"][0]


def _wait_steady(env: ReleaseEnv, timeout: float = 15.0) -> None:
    """Wait until ECS finished the service's current deployment (an out-of-band one here)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arn = _service(env)["currentServiceDeployment"]
        status = env.client.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        if status["status"] == "SUCCESSFUL":
            return
        time.sleep(0.02)
    raise AssertionError("the out-of-band deployment did not finish")


def _short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def test_out_of_band_changes_are_reported_never_redeployed_and_cleared_when_undone(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace))
    deployed = _short(env.wait_phase("web", "Succeeded")["target"]["taskDefinitionArn"])
    seeded = "web:1"
    assert deployed == "web:2"

    env.client.update_service(cluster="demo", service="web", taskDefinition=seeded)  # aws ecs update-service
    status = env.wait_status("web", lambda s: "Drifted" in _conditions(s), what="the Drifted condition")
    assert status["phase"] == "Succeeded"
    conditions = _conditions(status)
    assert conditions["Ready"]["status"] == "False" and conditions["Ready"]["reason"] == "Drifted"
    assert conditions["Stalled"]["reason"] == "Drifted"
    assert {"field": "taskDefinition", "running": seeded, "expected": deployed} in status["drift"]
    assert "taskDefinition: ECS has web:1, the release deployed web:2" in status["message"]
    event = _wait_event(env, "web", "Drifted")
    assert event["type"] == "Warning" and "taskDefinition: ECS has web:1, the release deployed web:2" in event["message"]
    assert event["source"]["component"] == "ecsbg-operator" and event["action"] == "DetectDrift"

    # a deployment-configuration change starts no ECS deployment, and is drift too
    _wait_steady(env)
    env.client.update_service(cluster="demo", service="web", taskDefinition="web:2",
                              deploymentConfiguration={**_service(env)["deploymentConfiguration"],
                                                       "bakeTimeInMinutes": 5})
    status = env.wait_status("web", lambda s: [d["field"] for d in s.get("drift") or []]
                             == ["deploymentConfiguration.bakeTimeInMinutes"], what="only the bake time drifted")
    assert status["drift"][0]["running"] == "5" and status["drift"][0]["expected"] == "10"
    time.sleep(1.0)  # driftPolicy Report: the operator never writes to ECS on its own
    assert len(env.calls("UpdateService")) == 1 + 2, "the operator's one, and the two out-of-band ones"
    assert len(env.calls("RegisterTaskDefinition")) == 1

    env.client.update_service(cluster="demo", service="web",
                              deploymentConfiguration={**_service(env)["deploymentConfiguration"],
                                                       "bakeTimeInMinutes": 10})
    status = env.wait_status("web", lambda s: "Drifted" not in _conditions(s), what="the drift to clear")
    assert status["phase"] == "Succeeded" and not status.get("drift")
    assert _conditions(status)["Ready"]["status"] == "True" and "Stalled" not in _conditions(status)
    assert _wait_event(env, "web", "DriftResolved")["type"] == "Normal"
    assert status["attempt"] == 1


def test_drift_policy_correct_deploys_the_spec_again(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, driftPolicy="Correct"))
    deployed = env.wait_phase("web", "Succeeded")["target"]["taskDefinitionArn"]

    env.client.update_service(cluster="demo", service="web", taskDefinition="web:1")
    status = env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "Succeeded",
                             timeout=30, what="attempt 2 to correct the drift")
    assert _service(env)["taskDefinition"] == deployed, "ECS runs what the release deployed again"
    assert status["target"]["taskDefinitionArn"] == deployed and not status.get("drift")
    assert len(env.calls("UpdateService")) == 2 + 1, "attempts 1 and 2, and the out-of-band one"
    assert len(env.calls("RegisterTaskDefinition")) == 1, "the revision registered for attempt 1 is reused"
    assert status["deployment"]["attempt"] == 2 and status["stages"], "a normal deployment, every stage mirrored"
    correcting = _wait_event(env, "web", "CorrectingDrift")
    assert "attempt 2" in correcting["message"] and correcting["action"] == "CorrectDrift"
    assert "taskDefinition: ECS has web:1" in _wait_event(env, "web", "Drifted")["message"]


def test_a_release_of_what_already_runs_starts_no_deployment(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("same", env.namespace, image=IMAGE))  # the seeded service's image
    status = env.wait_phase("same", "Succeeded")
    assert status["deployment"]["reused"] is True and "status" not in status["deployment"]
    assert status["deployment"]["arn"] == _service(env)["currentServiceDeployment"], "the seeded one, not started"
    assert status["revision"] == "web:1" and _conditions(status)["Ready"]["status"] == "True"
    assert "without a deployment" in status["message"]
    assert env.calls("UpdateService") == [] and env.calls("RegisterTaskDefinition") == []
    skipped = _wait_event(env, "same", "DeploymentSkipped")
    assert "web:1" in skipped["message"] and skipped["action"] == "ReuseRevision"


def test_the_arn_form_naming_the_running_revision_starts_no_deployment(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    body = release_manifest("same", env.namespace)
    body["spec"]["taskDefinition"] = {"arn": _service(env)["taskDefinition"]}
    env.apply(body)
    status = env.wait_phase("same", "Succeeded")
    assert status["deployment"]["reused"] is True and status["deployment"]["attempt"] == 1
    assert env.calls("UpdateService") == []
    # another deployment configuration is something to deploy
    body["spec"]["strategy"] = {"type": "BlueGreen", "bakeTimeInMinutes": 1}
    env.apply(body)
    status = env.wait_status("same", lambda s: s.get("attempt") == 2 and s.get("phase") == "Succeeded")
    assert status["deployment"].get("arn") and len(env.calls("UpdateService")) == 1


def test_a_git_revert_to_what_runs_after_a_rollback_starts_no_deployment(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE))
    env.wait_phase("web", "AwaitingApproval")
    env.annotate("web", "approve", "1")
    running = env.wait_phase("web", "Succeeded")["target"]["taskDefinitionArn"]
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE, image=IMAGE_V3))
    env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "AwaitingApproval")
    env.annotate("web", "reject", "2")
    env.wait_phase("web", "RolledBack")
    assert _service(env)["taskDefinition"] == running

    env.apply(release_manifest("web", env.namespace, hooks=PAUSE, image=IMAGE_V2))  # git revert
    status = env.wait_status("web", lambda s: s.get("attempt") == 3 and s.get("phase") == "Succeeded",
                             what="attempt 3 Succeeded at once")
    assert status["deployment"]["reused"] is True and status["deployment"]["attempt"] == 3
    assert status["target"]["taskDefinitionArn"] == running and status["revision"] == _short(running)
    assert len(env.calls("UpdateService")) == 2, "no third deployment (no pause to approve again)"
    assert len(env.calls("RegisterTaskDefinition")) == 2, "no web:4 identical to web:2"
    assert _wait_event(env, "web", "DeploymentSkipped")["type"] == "Normal"


def test_events_name_the_operator_the_action_and_who_asked(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE))
    env.wait_phase("web", "AwaitingApproval")
    env.annotate("web", "approve", "1")  # kubectl annotate: field manager kubectl-annotate
    env.wait_phase("web", "Succeeded")
    approved = _wait_event(env, "web", "Approved")
    assert "requested by kubectl-annotate" in approved["message"], approved["message"]
    assert approved["action"] == "ContinueServiceDeployment"
    _wait_event(env, "web", "Succeeded")  # Events are posted after the status patch, from the sink's own thread
    events = _events(env, "web")
    assert {e["source"]["component"] for e in events} == {"ecsbg-operator"}
    assert {e.get("reportingComponent") for e in events} == {"ecsbg-operator"}
    assert all(e.get("action") and e["action"] != "Action?" for e in events)
    assert {"AttemptStarted", "DeploymentStarted", "AwaitingApproval", "Approved", "Succeeded"} <= {
        e["reason"] for e in events}
