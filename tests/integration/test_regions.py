"""A release names its region; ECS resources are regional. A release whose target.region is not where the service
lives must be refused by ECS (the emulator partitions by region, as AWS does), never deploy the service of
another region."""

from __future__ import annotations

import boto3
import pytest

from tests.integration.conftest import ReleaseEnv, release_manifest

WRITES = ("UpdateService", "RegisterTaskDefinition", "ContinueServiceDeployment", "StopServiceDeployment")


@pytest.mark.parametrize(("cluster_there", "fragment"), [(False, "ClusterNotFound"), (True, "ServiceNotFound")],
                         ids=["no-cluster-in-that-region", "cluster-but-no-service-in-that-region"])
def test_a_release_for_another_region_is_refused(release_env: ReleaseEnv, cluster_there: bool,
                                                 fragment: str) -> None:
    env = release_env  # the seeded service is demo/web in us-east-1
    if cluster_there:
        boto3.client("ecs", endpoint_url=env.ecs.url, region_name="eu-west-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_cluster(clusterName="demo")
    env.start_operator()
    body = release_manifest("web", env.namespace)
    body["spec"]["target"]["region"] = "eu-west-1"
    # a self-consistent spec for eu-west-1 (the parser refuses ARNs of another region before any call): only ECS
    # can tell that the service is not there
    for lb in body["spec"]["loadBalancers"]:
        for key, value in lb.items():
            lb[key] = value.replace(":us-east-1:", ":eu-west-1:")
    env.apply(body)
    status = env.wait_phase("web", "Failed")
    assert fragment in status["message"], status["message"]
    stalled = {c["type"]: c for c in status.get("conditions") or []}["Stalled"]
    assert stalled["status"] == "True" and fragment in stalled["message"]
    operator_calls = env.ecs.requests[env.seeded:]
    assert {r["region"] for r in operator_calls if r["operation"] == "DescribeServices"} == {"eu-west-1"}
    assert [r for r in operator_calls if r["operation"] in WRITES] == []  # no UpdateService anywhere
    # the us-east-1 service of the same name was not touched
    svc = env.client.describe_services(cluster="demo", services=["web"])["services"][0]
    assert svc["serviceArn"].startswith("arn:aws:ecs:us-east-1:") and svc["taskDefinition"].endswith("web:1")
    assert len(env.client.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]) == 1
