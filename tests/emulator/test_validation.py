"""Server-side validation with AWS's error codes (client-side botocore checks switched off where they would
stop the request first), batch limits and ListServiceDeployments pagination/filters."""

from __future__ import annotations

import time

import pytest

from tests.emulator.helpers import HOOK, deploy, observe
from tests.plugins.ecs import seed_service

LAMBDA = {"targetType": "AWS_LAMBDA", "hookTargetArn": HOOK + "f", "lifecycleStages": ["POST_SCALE_UP"]}

INVALID_CONFIGURATIONS = {
    "unknown strategy": {"strategy": "BOGUS"},
    "blue/green without bake time": {"strategy": "BLUE_GREEN"},
    "bake time above 1440": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441},
    "linear config with BLUE_GREEN": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1,
                                      "linearConfiguration": {"stepPercent": 10.0}},
    "canary config with LINEAR": {"strategy": "LINEAR", "canaryConfiguration": {"canaryPercent": 10.0}},
    "stepPercent below 3": {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.9}},
    "stepPercent not a multiple of 0.1": {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 10.05}},
    "stepBakeTime above 1440": {"strategy": "LINEAR", "linearConfiguration": {"stepBakeTimeInMinutes": 1441}},
    "canaryPercent 0": {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.0}},
    "canaryPercent above 100": {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 100.1}},
    "canaryBakeTime negative": {"strategy": "CANARY", "canaryConfiguration": {"canaryBakeTimeInMinutes": -1}},
    "PAUSE at TEST_TRAFFIC_SHIFT": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
        {"targetType": "PAUSE", "lifecycleStages": ["TEST_TRAFFIC_SHIFT"]}]},
    "PAUSE at PRODUCTION_TRAFFIC_SHIFT": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
        {"targetType": "PAUSE", "lifecycleStages": ["PRODUCTION_TRAFFIC_SHIFT"]}]},
    "AWS_LAMBDA without hookTargetArn": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
        {"targetType": "AWS_LAMBDA", "lifecycleStages": ["POST_SCALE_UP"]}]},
    "hook at a stage that takes none": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
        {**LAMBDA, "lifecycleStages": ["BAKE_TIME"]}]},
    "hook without stages": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
        {**LAMBDA, "lifecycleStages": []}]},
    "unknown hook target type": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
        {**LAMBDA, "targetType": "SNS"}]},
    "hook timeout 0": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
        {**LAMBDA, "timeoutConfiguration": {"timeoutInMinutes": 0}}]},
    "pause timeout above 20160": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
        {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"],
         "timeoutConfiguration": {"timeoutInMinutes": 20161}}]},
    "Lambda timeout above 1440": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
        {**LAMBDA, "timeoutConfiguration": {"timeoutInMinutes": 1441}}]},
    "unknown timeout action": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [
        {**LAMBDA, "timeoutConfiguration": {"action": "RETRY"}}]},
    "11 Lambda hooks": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1, "lifecycleHooks": [LAMBDA] * 11},
}


@pytest.mark.parametrize("config", INVALID_CONFIGURATIONS.values(), ids=INVALID_CONFIGURATIONS.keys())
def test_invalid_deployment_configuration_is_refused(ecs, raw_ecs, config):
    seed_service(ecs, bake_time_in_minutes=0)
    with pytest.raises(raw_ecs.exceptions.InvalidParameterException):
        raw_ecs.update_service(cluster="demo", service="web", deploymentConfiguration=config)
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert svc["deploymentConfiguration"]["bakeTimeInMinutes"] == 0  # nothing was stored


def test_invalid_configuration_is_refused_on_create_too(ecs):
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        seed_service(ecs, strategy="CANARY", canary_configuration={"canaryPercent": 0.05}, wait=False)
    assert ecs.list_services(cluster="demo")["serviceArns"] == []


def test_valid_edges_are_accepted(ecs):
    seed_service(ecs, strategy="LINEAR", bake_time_in_minutes=1440,
                 linear_configuration={"stepPercent": 100.0, "stepBakeTimeInMinutes": 0}, wait=False)
    seed_service(ecs, service="c", strategy="CANARY", canary_configuration={"canaryPercent": 0.1}, wait=False,
                 lifecycle_hooks=[{"targetType": "PAUSE", "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
                                   "timeoutConfiguration": {"timeoutInMinutes": 20160, "action": "CONTINUE"}},
                                  {**LAMBDA, "timeoutConfiguration": {"timeoutInMinutes": 1440}},
                                  {**LAMBDA, "timeoutConfiguration": {"timeoutInMinutes": 1}}])


def test_unknown_task_definition_and_enums(ecs, raw_ecs):
    seed_service(ecs, bake_time_in_minutes=0)
    # ClientException, as ECS answers (messages quoted from real AWS CLI/SDK output)
    for ref in ("web:42", "nope", "arn:aws:ecs:us-east-1:123456789012:task-definition/nope:1"):
        with pytest.raises(ecs.exceptions.ClientException) as err:
            ecs.update_service(cluster="demo", service="web", taskDefinition=ref)
        assert err.value.response["Error"]["Message"] == "TaskDefinition not found."
        with pytest.raises(ecs.exceptions.ClientException) as err:
            ecs.describe_task_definition(taskDefinition=ref)
        assert err.value.response["Error"]["Message"] == "Unable to describe task definition."
    with pytest.raises(ecs.exceptions.ClientException) as err:
        ecs.create_service(cluster="demo", serviceName="other", taskDefinition="web:42", desiredCount=0)
    assert err.value.response["Error"]["Message"] == "TaskDefinition not found."
    # "you can't update an existing service to use an INACTIVE task definition" [DeregisterTaskDefinition]
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "app", "image": "nginx:1"}])
    ecs.deregister_task_definition(taskDefinition="web:2")
    with pytest.raises(ecs.exceptions.InvalidParameterException) as err:
        ecs.update_service(cluster="demo", service="web", taskDefinition="web:2")
    assert err.value.response["Error"]["Message"] == "TaskDefinition is inactive"
    assert ecs.describe_task_definition(taskDefinition="web:2")["taskDefinition"]["status"] == "INACTIVE"
    with pytest.raises(raw_ecs.exceptions.InvalidParameterException):
        raw_ecs.update_service(cluster="demo", service="web", deploymentController={"type": "BOGUS"})


def test_batch_limits(ecs, raw_ecs):
    seed_service(ecs, bake_time_in_minutes=0)
    dep = ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"][0]
    arns = [dep["serviceDeploymentArn"]] * 20
    assert len(ecs.describe_service_deployments(serviceDeploymentArns=arns)["serviceDeployments"]) == 20
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.describe_service_deployments(serviceDeploymentArns=arns + arns[:1])
    revs = [dep["targetServiceRevisionArn"]] * 21
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.describe_service_revisions(serviceRevisionArns=revs)
    out = ecs.describe_service_revisions(serviceRevisionArns=revs[:1] + [revs[0] + "9"])
    assert out["failures"] == [{"arn": revs[0] + "9", "reason": "MISSING"}]
    out = ecs.describe_service_deployments(serviceDeploymentArns=[arns[0] + "x"])
    assert out["failures"][0]["reason"] == "MISSING"
    for bad in (0, 101):
        with pytest.raises(raw_ecs.exceptions.InvalidParameterException):
            raw_ecs.list_service_deployments(cluster="demo", service="web", maxResults=bad)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.list_service_deployments(cluster="demo", service="web", nextToken="garbage!")
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.list_service_deployments(cluster="demo", service="nope")
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.list_service_deployments(cluster="nope", service="web")


def test_list_service_deployments_pages_and_filters(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0)
    arns = []
    for _ in range(4):
        arns.append(deploy(ecs))
        observe(ecs, arns[-1])
    middle = time.time()
    for _ in range(2):
        arns.append(deploy(ecs))
        observe(ecs, arns[-1])
    listed, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = ecs.list_service_deployments(cluster="demo", service="web", maxResults=3, **kwargs)
        assert len(page["serviceDeployments"]) <= 3
        listed += [d["serviceDeploymentArn"] for d in page["serviceDeployments"]]
        token = page.get("nextToken")
        if not token:
            break
    assert listed[:6] == arns[::-1] and len(listed) == 7  # newest first, plus CreateService's deployment
    assert len(ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]) == 7
    recent = ecs.list_service_deployments(cluster="demo", service="web", createdAt={"after": middle})
    assert [d["serviceDeploymentArn"] for d in recent["serviceDeployments"]] == arns[:3:-1]
    ecs_emulator.control.set_speed(0.1)  # the next deployment stays PENDING for 20 s
    ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)
    running = ecs.list_service_deployments(cluster="demo", service="web", status=["PENDING", "IN_PROGRESS"])
    assert len(running["serviceDeployments"]) == 1
    done = ecs.list_service_deployments(cluster="demo", service="web", status=["SUCCESSFUL"], maxResults=100)
    assert {d["status"] for d in done["serviceDeployments"]} == {"SUCCESSFUL"}
    assert len(done["serviceDeployments"]) == 7
