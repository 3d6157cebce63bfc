"""Regions and accounts: every resource lives in the (account, region) of the request that created it, and a
region the emulator does not serve looks to botocore like an endpoint that is not there."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError

from ecsbg_emulators.ecs import EmulatorServer
from ecsbg_emulators.ecs.identity import account_of
from tests.emulator.conftest import validating
from tests.emulator.helpers import deploy, wait_finished
from tests.emulator.test_protocol import raw_post
from tests.plugins.ecs import seed_service


def client(url, region="us-east-1", key="testing", **config):
    return validating(boto3.client("ecs", endpoint_url=url, region_name=region, aws_access_key_id=key,
                                   aws_secret_access_key="testing", config=Config(**config) if config else None))


def aws_key(account: str, prefix: str = "ASIA") -> str:
    """An access key ID in AWS's current format for `account`, laid out as moto's STS mints them
    (moto's generate_access_key_id_from_account_id): base32 of account//2 plus a marker bit, then a
    character whose high bit is the account's last bit."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    number = int(account)
    head = base64.b32encode((number // 2 + (1 << 39)).to_bytes(5, "big")).decode()
    return prefix + head + alphabet[16 + 3 if number % 2 else 3] + "ABCDEFG"


def test_a_region_sees_only_its_own_resources(ecs_emulator):
    us, eu = client(ecs_emulator.url), client(ecs_emulator.url, "eu-west-1")
    svc = seed_service(us, bake_time_in_minutes=0)
    assert svc["serviceArn"] == "arn:aws:ecs:us-east-1:123456789012:service/demo/web"
    assert eu.list_clusters()["clusterArns"] == []
    assert eu.describe_clusters(clusters=["demo"])["failures"] == [
        {"arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/demo", "reason": "MISSING"}]
    with pytest.raises(eu.exceptions.ClusterNotFoundException):
        eu.update_service(cluster="demo", service="web", forceNewDeployment=True)
    with pytest.raises(eu.exceptions.ClusterNotFoundException):  # an ARN of another region does not resolve
        eu.describe_services(cluster=svc["clusterArn"], services=["web"])
    with pytest.raises(eu.exceptions.ClientException):
        eu.describe_task_definition(taskDefinition=svc["taskDefinition"])
    with pytest.raises(eu.exceptions.ResourceNotFoundException):  # tags too: an ARN names its region
        eu.tag_resource(resourceArn=svc["serviceArn"], tags=[{"key": "k", "value": "v"}])
    with pytest.raises(eu.exceptions.ClientException):
        eu.list_tags_for_resource(resourceArn=svc["serviceArn"])
    with pytest.raises(eu.exceptions.ClusterNotFoundException):
        eu.list_tags_for_resource(resourceArn=svc["clusterArn"])
    foreign = eu.describe_service_deployments(serviceDeploymentArns=[svc["currentServiceDeployment"]])
    assert foreign["failures"][0]["reason"] == "MISSING"
    # the same names again in eu-west-1: independent resources, numbered on their own, with eu-west-1 ARNs
    eu_svc = seed_service(eu, bake_time_in_minutes=0)
    assert eu_svc["serviceArn"] == "arn:aws:ecs:eu-west-1:123456789012:service/demo/web"
    assert eu_svc["taskDefinition"] == "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:1"
    arn = deploy(eu)
    assert arn.startswith("arn:aws:ecs:eu-west-1:123456789012:service-deployment/demo/web/")
    final = wait_finished(eu, arn)
    assert final["targetServiceRevision"]["arn"].startswith("arn:aws:ecs:eu-west-1:123456789012:service-revision/")
    assert us.describe_services(cluster="demo", services=["web"])["services"][0]["taskDefinition"].endswith("web:1")
    assert len(us.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]) == 1
    by_region = {(s["region"], s["taskDefinition"].rsplit("/", 1)[-1])
                 for s in ecs_emulator.control.state()["services"]}
    assert by_region == {("us-east-1", "web:1"), ("eu-west-1", "web:2")}
    assert {r["region"] for r in ecs_emulator.requests if r["operation"] == "UpdateService"} == {"eu-west-1"}


def test_the_account_comes_from_the_access_key(ecs_emulator):
    default, other = client(ecs_emulator.url), client(ecs_emulator.url, key="111122223333")
    assumed = client(ecs_emulator.url, key=aws_key("444455556667"))
    seed_service(default, bake_time_in_minutes=0)
    assert other.list_clusters()["clusterArns"] == [] and assumed.list_clusters()["clusterArns"] == []
    svc = seed_service(other, bake_time_in_minutes=0)
    assert svc["serviceArn"] == "arn:aws:ecs:us-east-1:111122223333:service/demo/web"
    assert svc["createdBy"] == "arn:aws:iam::111122223333:root"
    td = other.describe_task_definition(taskDefinition="web")["taskDefinition"]
    assert td["registeredBy"] == "arn:aws:iam::111122223333:root"
    created = assumed.create_cluster(clusterName="x")["cluster"]["clusterArn"]
    assert created == "arn:aws:ecs:us-east-1:444455556667:cluster/x"
    assert [c.rsplit("/", 1)[-1] for c in default.list_clusters()["clusterArns"]] == ["demo"]
    assert {(r["account"], r["operation"]) for r in ecs_emulator.requests if r["operation"] == "CreateCluster"} == {
        ("123456789012", "CreateCluster"), ("111122223333", "CreateCluster"), ("444455556667", "CreateCluster")}


@pytest.mark.parametrize(("key", "account"), [
    ("testing", "123456789012"),
    ("111122223333", "111122223333"),
    ("AKIAIOSFODNN7EXAMPLE", "123456789012"),  # an older key ID carries no account
    (aws_key("000000000001", "AKIA"), "000000000001"),
    (aws_key("999999999998"), "999999999998"),
    (aws_key("123456789012"), "123456789012"),
    # keys minted by moto 5.2.5's STS AssumeRole for roles in these accounts, and its IAM CreateAccessKey
    ("ASIATHPL2AOHGSGINQX5", "222222222222"),
    ("ASIAQAAAAAAD6KX4GGCB", "000000000007"),
    ("ASIA6RVFFB773WYT24AT", "999999999999"),
    ("AKIARZPUZDIKK2LIOLBC", "123456789012"),
])
def test_account_rule(key, account):
    assert account_of(key) == account


def test_a_region_not_served_looks_like_an_endpoint_that_does_not_exist():
    with EmulatorServer(speed=2000, regions={"us-east-1", "eu-west-1"}) as srv:
        assert client(srv.url, "eu-west-1").list_clusters()["clusterArns"] == []
        for region in ("eu-fake-9", "ap-southeast-2"):  # well-formed; not served by this emulator
            once = client(srv.url, region, retries={"total_max_attempts": 1})
            with pytest.raises(ConnectionClosedError) as err:
                once.list_clusters()
            assert "Connection was closed before we received a valid response" in str(err.value)
        retried = client(srv.url, "eu-fake-9", retries={"mode": "standard", "total_max_attempts": 3})
        with pytest.raises(ConnectionClosedError):
            retried.describe_services(cluster="demo", services=["web"])  # botocore retries it, like real ones
        unknown = [(r["region"], r["operation"], r["statusCode"], r["errorCode"]) for r in srv.requests[1:]]
    assert unknown == [("eu-fake-9", "ListClusters", None, "UnknownEndpoint"),
                       ("ap-southeast-2", "ListClusters", None, "UnknownEndpoint")] + \
        [("eu-fake-9", "DescribeServices", None, "UnknownEndpoint")] * 3


def test_the_default_regions_are_real_aws_regions(ecs_emulator):
    regions = set(ecs_emulator.control.state()["regions"])
    assert {"us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"} <= regions
    assert "eu-fake-9" not in regions
    with pytest.raises(ConnectionClosedError):
        client(ecs_emulator.url, "eu-fake-9", retries={"total_max_attempts": 1}).list_clusters()


def test_a_regional_host_refuses_a_signature_for_another_region(ecs_emulator):
    """Reached as ecs.eu-west-1.amazonaws.com, the endpoint is eu-west-1's and refuses a us-east-1 scope."""
    request = urllib.request.Request(ecs_emulator.url + "/", data=b"{}", method="POST", headers={
        "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters", "Host": "ecs.eu-west-1.amazonaws.com",
        "Authorization": "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/ecs/aws4_request, Signature=0"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    body = json.loads(err.value.read())
    assert (err.value.code, body["__type"]) == (400, "InvalidSignatureException")
    assert "not 'us-east-1'" in body["message"]
    status, _, _ = raw_post(ecs_emulator.url, "ListClusters", {})
    assert status == 200


def test_control_api_is_partition_aware(ecs_emulator):
    us, eu = client(ecs_emulator.url), client(ecs_emulator.url, "eu-west-1")
    alarms = {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}
    for c in (us, eu):
        seed_service(c, bake_time_in_minutes=1440, alarms=alarms)
    us_arn, eu_arn = deploy(us), deploy(eu)
    with pytest.raises(ValueError, match="several regions"):
        ecs_emulator.control.fail_tasks("demo", "web")
    ecs_emulator.control.fail_next_rollback("demo", "web", region="eu-west-1")
    ecs_emulator.control.set_alarm("web-5xx", "ALARM", region="eu-west-1")  # eu-west-1's alarm only
    assert wait_finished(eu, eu_arn)["status"] == "ROLLBACK_FAILED"
    assert us.describe_service_deployments(serviceDeploymentArns=[us_arn])["serviceDeployments"][0]["status"] in (
        "PENDING", "IN_PROGRESS")
    us.stop_service_deployment(serviceDeploymentArn=us_arn, stopType="ROLLBACK")
    assert wait_finished(us, us_arn)["status"] == "ROLLBACK_SUCCESSFUL"
