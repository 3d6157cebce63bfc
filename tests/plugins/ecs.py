"""Fixtures for the local ECS emulator: `ecs_emulator`, `ecs_client`, and the `seed_service` helper.

    def test_x(ecs_client, ecs_emulator):
        svc = seed_service(ecs_client, cluster="demo", service="web", bake_time_in_minutes=10)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ecsbg_emulators.ecs import EmulatorServer

SPEED = 2000.0
ACCOUNT = "123456789012"
REGION = "us-east-1"
IMAGE = "public.ecr.aws/nginx/nginx:1.27"


def make_client(url: str, **config: Any) -> Any:
    """A real boto3 ECS client for the emulator (dummy credentials); `config` goes to botocore's Config."""
    return boto3.client(
        "ecs", endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
        aws_secret_access_key="testing", config=Config(**config) if config else None,
    )


@pytest.fixture
def ecs_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(host="127.0.0.1", port=0, speed=SPEED) as srv:
        yield srv


@pytest.fixture
def ecs_client(ecs_emulator: EmulatorServer) -> Any:
    return make_client(ecs_emulator.url)


def elb_arns(service: str = "web") -> dict[str, str]:
    """Made-up ELB ARNs for the blue/green load balancer of `service` (the emulator does not check them)."""
    elb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
    return {
        "blue": f"{elb}:targetgroup/{service}-blue/0123456789abcdef",
        "green": f"{elb}:targetgroup/{service}-green/fedcba9876543210",
        "prod_rule": f"{elb}:listener-rule/app/{service}-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
        "test_rule": f"{elb}:listener-rule/app/{service}-alb/50dc6c495c0c9188/3f8e2b1c4d5a6e7f/1a2b3c4d5e6f7a8b",
        "role": f"arn:aws:iam::{ACCOUNT}:role/ecsInfrastructureRoleForLoadBalancers",
    }


def seed_service(
    client: Any,
    cluster: str = "demo",
    service: str = "web",
    *,
    bake_time_in_minutes: int = 10,
    strategy: str = "BLUE_GREEN",
    lifecycle_hooks: list[dict[str, Any]] | None = None,
    linear_configuration: dict[str, Any] | None = None,
    canary_configuration: dict[str, Any] | None = None,
    alarms: dict[str, Any] | None = None,
    circuit_breaker: dict[str, Any] | None = None,
    desired_count: int = 2,
    load_balancer: dict[str, str] | None = None,
    wait: bool = True,
    timeout: float = 10.0,
    family: str = "web",
) -> dict[str, Any]:
    """Create cluster + task definition `web` + a blue/green-ready service; return DescribeServices' service.

    With `wait` (default) it returns once the service's first deployment finished, so tests start steady.
    `load_balancer`: ARNs like elb_arns' (blue, green, prod_rule, test_rule, role), e.g. of resources made in moto.
    """
    client.create_cluster(clusterName=cluster)
    td = client.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "app", "image": IMAGE, "essential": True,
                               "portMappings": [{"containerPort": 80, "protocol": "tcp"}]}],
    )["taskDefinition"]
    arns = load_balancer or elb_arns(service)
    deployment_configuration: dict[str, Any] = {"strategy": strategy, "bakeTimeInMinutes": bake_time_in_minutes}
    optional = {"lifecycleHooks": lifecycle_hooks, "linearConfiguration": linear_configuration,
                "canaryConfiguration": canary_configuration, "alarms": alarms,
                "deploymentCircuitBreaker": circuit_breaker}
    deployment_configuration.update({k: v for k, v in optional.items() if v is not None})
    client.create_service(
        cluster=cluster, serviceName=service, taskDefinition=td["taskDefinitionArn"], desiredCount=desired_count,
        deploymentController={"type": "ECS"}, deploymentConfiguration=deployment_configuration,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1, "base": 0}],
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c3d4e5f60718"],
                                                      "securityGroups": ["sg-0123456789abcdef0"],
                                                      "assignPublicIp": "DISABLED"}},
        loadBalancers=[{
            "targetGroupArn": arns["blue"], "containerName": "app", "containerPort": 80,
            "advancedConfiguration": {"alternateTargetGroupArn": arns["green"],
                                      "productionListenerRule": arns["prod_rule"],
                                      "testListenerRule": arns["test_rule"], "roleArn": arns["role"]},
        }],
    )
    deadline = time.monotonic() + timeout
    while True:
        svc = client.describe_services(cluster=cluster, services=[service])["services"][0]
        if not wait:
            return svc
        dep = client.describe_service_deployments(serviceDeploymentArns=[svc["currentServiceDeployment"]])
        if dep["serviceDeployments"][0]["status"] == "SUCCESSFUL":
            return client.describe_services(cluster=cluster, services=[service])["services"][0]
        if time.monotonic() > deadline:
            raise TimeoutError(f"the first deployment of {service} did not finish within {timeout} s")
        time.sleep(0.01)
