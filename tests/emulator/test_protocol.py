"""Wire protocol, setup operations and reads, through boto3 (and raw HTTP where boto3 hides the wire)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import botocore.session
import pytest
from botocore.validate import ParamValidator

from tests.emulator.conftest import enum_errors
from tests.emulator.helpers import deploy, observe
from tests.plugins.ecs import IMAGE, seed_service

TD_ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/"


SIGNED = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0"


def raw_post(url, operation, body, target_prefix="AmazonEC2ContainerServiceV20141113.", authorization=SIGNED):
    headers = {"X-Amz-Target": target_prefix + operation, "Content-Type": "application/x-amz-json-1.1"}
    if authorization:
        headers["Authorization"] = authorization
    request = urllib.request.Request(url + "/", data=json.dumps(body).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.loads(err.read())


def test_json_11_wire_format(ecs_emulator):
    status, headers, body = raw_post(ecs_emulator.url, "CreateCluster", {"clusterName": "wire"})
    assert status == 200 and headers["Content-Type"] == "application/x-amz-json-1.1"
    assert body["cluster"]["clusterArn"] == "arn:aws:ecs:us-east-1:123456789012:cluster/wire"
    status, _, body = raw_post(ecs_emulator.url, "DescribeServices", {"cluster": "nope", "services": ["x"]})
    assert status == 400 and body["__type"] == "ClusterNotFoundException" and body["message"]
    status, _, body = raw_post(ecs_emulator.url, "NoSuchOperation", {})
    assert status == 400 and body["__type"] == "UnknownOperationException"


def test_an_unsigned_request_is_refused(ecs_emulator):
    status, _, body = raw_post(ecs_emulator.url, "ListClusters", {}, authorization=None)
    assert (status, body["__type"]) == (400, "MissingAuthenticationTokenException")
    status, _, body = raw_post(ecs_emulator.url, "ListClusters", {}, authorization="AWS AKIDEXAMPLE:sig")
    assert (status, body["__type"]) == (400, "IncompleteSignatureException")
    assert [r["errorCode"] for r in ecs_emulator.requests] == [
        "MissingAuthenticationTokenException", "IncompleteSignatureException"]


def test_clusters(ecs):
    ecs.create_cluster(clusterName="a", tags=[{"key": "team", "value": "web"}])
    again = ecs.create_cluster(clusterName="a")["cluster"]  # idempotent
    assert again["clusterName"] == "a"
    out = ecs.describe_clusters(clusters=["a", "missing"], include=["TAGS"])
    assert out["clusters"][0]["tags"] == [{"key": "team", "value": "web"}]
    assert out["failures"] == [{"arn": "arn:aws:ecs:us-east-1:123456789012:cluster/missing", "reason": "MISSING"}]


def test_task_definitions_register_describe_with_tags_and_deregister(ecs):
    first = ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "app", "image": IMAGE}], tags=[{"key": "app", "value": "web"}]
    )
    assert first["taskDefinition"]["taskDefinitionArn"] == TD_ARN + "web:1"
    assert first["tags"] == [{"key": "app", "value": "web"}]
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "app", "image": IMAGE}])
    latest = ecs.describe_task_definition(taskDefinition="web", include=["TAGS"])
    assert latest["taskDefinition"]["revision"] == 2 and latest["tags"] == []
    tagged = ecs.describe_task_definition(taskDefinition=TD_ARN + "web:1", include=["TAGS"])
    assert tagged["tags"] == [{"key": "app", "value": "web"}]
    assert "tags" not in ecs.describe_task_definition(taskDefinition="web:1")
    gone = ecs.deregister_task_definition(taskDefinition="web:2")["taskDefinition"]
    assert gone["status"] == "INACTIVE" and gone["deregisteredAt"]
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 1  # latest ACTIVE
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.describe_task_definition(taskDefinition="web:9")
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.register_task_definition(family="web", containerDefinitions=[{"name": "app", "image": ""}])


def test_list_task_definitions_filters_sorts_and_pages(ecs):
    for family in ("web", "web", "web", "worker"):
        ecs.register_task_definition(family=family, containerDefinitions=[{"name": "app", "image": IMAGE}])
    ecs.deregister_task_definition(taskDefinition="web:2")
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == [TD_ARN + "web:1", TD_ARN + "web:3"]
    assert ecs.list_task_definitions(familyPrefix="web", status="INACTIVE")["taskDefinitionArns"] == [TD_ARN + "web:2"]
    desc = ecs.list_task_definitions(sort="DESC")["taskDefinitionArns"]
    assert desc == [TD_ARN + "worker:1", TD_ARN + "web:3", TD_ARN + "web:1"]
    page = ecs.list_task_definitions(maxResults=2)
    rest = ecs.list_task_definitions(maxResults=2, nextToken=page["nextToken"])
    assert page["taskDefinitionArns"] + rest["taskDefinitionArns"] == [TD_ARN + "web:1", TD_ARN + "web:3",
                                                                        TD_ARN + "worker:1"]
    assert "nextToken" not in rest
    paginator = ecs.get_paginator("list_task_definitions")
    arns = [a for p in paginator.paginate(PaginationConfig={"PageSize": 1}) for a in p["taskDefinitionArns"]]
    assert len(arns) == 3


def test_tags_on_resources(ecs):
    svc = seed_service(ecs, wait=False)
    ecs.tag_resource(resourceArn=svc["serviceArn"], tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    ecs.tag_resource(resourceArn=svc["serviceArn"], tags=[{"key": "a", "value": "3"}])
    ecs.untag_resource(resourceArn=svc["serviceArn"], tagKeys=["b"])
    assert ecs.list_tags_for_resource(resourceArn=svc["serviceArn"])["tags"] == [{"key": "a", "value": "3"}]
    described = ecs.describe_services(cluster="demo", services=["web"], include=["TAGS"])["services"][0]
    assert described["tags"] == [{"key": "a", "value": "3"}]
    ecs.tag_resource(resourceArn=TD_ARN + "web:1", tags=[{"key": "k", "value": "v"}])
    assert ecs.describe_task_definition(taskDefinition="web:1", include=["TAGS"])["tags"] == [{"key": "k", "value": "v"}]


def test_service_is_stored_and_returned_faithfully(ecs):
    svc = seed_service(ecs)
    assert svc["serviceArn"] == "arn:aws:ecs:us-east-1:123456789012:service/demo/web"
    assert svc["taskDefinition"] == TD_ARN + "web:1"
    assert svc["deploymentController"] == {"type": "ECS"}
    assert svc["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    assert svc["loadBalancers"][0]["advancedConfiguration"]["alternateTargetGroupArn"].endswith("fedcba9876543210")
    assert svc["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    assert (svc["desiredCount"], svc["runningCount"], svc["status"]) == (2, 2, "ACTIVE")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        seed_service(ecs)  # not idempotent


def test_update_service_keeps_every_member_it_is_not_given(ecs):
    before = seed_service(ecs, bake_time_in_minutes=0)
    arn = deploy(ecs)
    observe(ecs, arn)
    after = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    for key in ("capacityProviderStrategy", "networkConfiguration", "desiredCount", "loadBalancers",
                "deploymentConfiguration", "deploymentController", "platformVersion", "schedulingStrategy"):
        assert after[key] == before[key], key
    assert after["taskDefinition"] == TD_ARN + "web:2"


def test_describe_and_list_services(ecs):
    seed_service(ecs, wait=False)
    for i in range(11):
        seed_service(ecs, service=f"s{i}", wait=False)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.describe_services(cluster="demo", services=[f"s{i}" for i in range(11)])  # at most 10
    out = ecs.describe_services(cluster="demo", services=["s1", "nope"])
    assert [s["serviceName"] for s in out["services"]] == ["s1"]
    assert out["failures"] == [{"arn": "arn:aws:ecs:us-east-1:123456789012:service/demo/nope", "reason": "MISSING"}]
    first = ecs.list_services(cluster="demo")
    assert len(first["serviceArns"]) == 10  # default page of ListServices
    rest = ecs.list_services(cluster="demo", nextToken=first["nextToken"])
    assert len(rest["serviceArns"]) == 2 and "nextToken" not in rest
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.list_services(cluster="nope")
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.update_service(cluster="demo", service="nope", desiredCount=1)
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.update_service(cluster="nope", service="web", desiredCount=1)


def test_delete_service(ecs, ecs_emulator):
    svc = seed_service(ecs, bake_time_in_minutes=0)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.delete_service(cluster="demo", service="web")
    ecs_emulator.control.set_speed(10.0)  # draining (30 s emulated) now lasts 3 real seconds, even under load
    # tasks still run: DRAINING, then INACTIVE once they stopped [DeleteService]
    assert ecs.delete_service(cluster="demo", service="web", force=True)["service"]["status"] == "DRAINING"
    ecs_emulator.control.set_speed(2000.0)  # the drain already scheduled keeps its due time
    with pytest.raises(ecs.exceptions.InvalidParameterException):  # the name is taken while DRAINING
        seed_service(ecs, bake_time_in_minutes=0, wait=False)
    with pytest.raises(ecs.exceptions.ServiceNotActiveException) as err:
        ecs.update_service(cluster="demo", service="web", desiredCount=1)
    assert err.value.response["Error"]["Message"] == "Service was not ACTIVE."
    deadline = time.monotonic() + 15
    while ecs.describe_services(cluster="demo", services=["web"])["services"][0]["status"] == "DRAINING":
        assert time.monotonic() < deadline, "still DRAINING"
        time.sleep(0.01)
    # "Services in the DRAINING or INACTIVE status can still be viewed with the DescribeServices API" [DeleteService]
    out = ecs.describe_services(cluster="demo", services=["web", "never"])
    assert [(s["serviceName"], s["status"], s["runningCount"]) for s in out["services"]] == [("web", "INACTIVE", 0)]
    assert "currentServiceDeployment" not in out["services"][0] and out["services"][0]["deployments"] == []
    assert [f["reason"] for f in out["failures"]] == ["MISSING"]
    assert ecs.list_services(cluster="demo")["serviceArns"] == []
    with pytest.raises(ecs.exceptions.ServiceNotActiveException):
        ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):  # deleting it again
        ecs.delete_service(cluster="demo", service="web", force=True)
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.list_service_deployments(cluster="demo", service="web")
    # its service deployments and revisions are deleted with it [service history and service revision pages]
    gone = ecs.describe_service_deployments(serviceDeploymentArns=[svc["currentServiceDeployment"]])
    assert [f["reason"] for f in gone["failures"]] == ["MISSING"]
    again = seed_service(ecs, bake_time_in_minutes=0)  # the name can be used again
    assert again["status"] == "ACTIVE" and again["currentServiceDeployment"] != svc["currentServiceDeployment"]


def test_deleting_a_service_without_tasks_makes_it_inactive_at_once(ecs):
    seed_service(ecs, bake_time_in_minutes=0, desired_count=0)
    assert ecs.delete_service(cluster="demo", service="web")["service"]["status"] == "INACTIVE"


def test_the_response_checker_catches_enum_and_member_mistakes():
    """The model check every test applies to every answer can fail (guards against a silent no-op)."""
    shape = botocore.session.get_session().get_service_model("ecs").operation_model(
        "DescribeServiceDeployments").output_shape
    good = {"serviceDeployments": [{"status": "IN_PROGRESS", "lifecycleStage": "PRE_PRODUCTION_TRAFFIC_SHIFT"}]}
    assert enum_errors(good, shape, "x") == []
    bad = {"serviceDeployments": [{"status": "ROLLBACK_INPROGRESS", "lifecycleStage": "BAKING"}]}
    assert len(enum_errors(bad, shape, "x")) == 2
    assert ParamValidator().validate({"serviceDeployments": [{"stage": "x"}]}, shape).has_errors()


TRIGGERS = {
    "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0fedcba9876543210"],
                                                     "securityGroups": ["sg-0123456789abcdef0"]}},
    "platformVersion": "1.4.0",
    "serviceRegistries": [{"registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-1"}],
    "serviceConnectConfiguration": {"enabled": True, "namespace": "demo",
                                    "services": [{"portName": "http", "clientAliases": [{"port": 80}]}]},
}
NOT_TRIGGERS = {
    "desiredCount": 4,
    "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
    "healthCheckGracePeriodSeconds": 30,
    "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
    "enableExecuteCommand": True,
    "propagateTags": "SERVICE",
}


@pytest.mark.parametrize(("member", "value"), TRIGGERS.items(), ids=TRIGGERS.keys())
def test_members_that_trigger_a_deployment(ecs, member, value):
    before = seed_service(ecs, bake_time_in_minutes=0)
    after = ecs.update_service(cluster="demo", service="web", **{member: value})["service"]
    assert after["currentServiceDeployment"] != before["currentServiceDeployment"]
    final = observe(ecs, after["currentServiceDeployment"])[1]
    (revision,) = ecs.describe_service_revisions(serviceRevisionArns=[final["targetServiceRevision"]["arn"]])[
        "serviceRevisions"]
    assert revision[member] == value
    assert revision["taskDefinition"] == before["taskDefinition"]


@pytest.mark.parametrize(("member", "value"), NOT_TRIGGERS.items(), ids=NOT_TRIGGERS.keys())
def test_members_that_do_not_trigger_a_deployment(ecs, member, value):
    before = seed_service(ecs, bake_time_in_minutes=0)
    after = ecs.update_service(cluster="demo", service="web", **{member: value})["service"]
    assert after["currentServiceDeployment"] == before["currentServiceDeployment"]
    assert after[member] == value
    assert {k: v for k, v in after.items() if k not in (member, "runningCount", "deployments",
                                                        "currentServiceRevisions", "events")} == \
        {k: v for k, v in before.items() if k not in (member, "runningCount", "deployments",
                                                      "currentServiceRevisions", "events")}
