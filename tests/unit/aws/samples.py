"""ECS response dicts (botocore 1.44.5 shapes) and specs shared by the AWS-layer unit tests."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3

from ecsbg.domain.model import (
    ContainerOverride,
    ReleaseSpec,
    Strategy,
    StrategySpec,
    Target,
    TaskDefinitionSource,
)

REGION = "eu-west-1"
ACCOUNT = "111122223333"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web"
TD_41 = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:41"
TD_42 = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:42"
BLUE_TG = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web-blue/1"
GREEN_TG = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web-green/2"
OTHER_TG = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/admin/3"
PROD_RULE = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener-rule/app/lb/1/2/3"
TEST_RULE = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener-rule/app/lb/1/2/4"
LB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsInfrastructureRoleForLoadBalancers"
DEPLOYMENT_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/prod/web/abc"
REV_BLUE = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/prod/web/111"
REV_GREEN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/prod/web/222"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def stubbable(service: str = "ecs") -> Any:
    """A real boto3 client (the real model validates params) that never reaches the network under Stubber."""
    return boto3.client(
        service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def spec(**changes: Any) -> ReleaseSpec:
    base = ReleaseSpec(
        target=Target(region=REGION, cluster="prod", service="web"),
        task_definition=TaskDefinitionSource(arn=TD_42),
        strategy=StrategySpec(type=Strategy.BLUE_GREEN, bake_time_minutes=10),
        spec_hash="1f0c9a2b7d3e4f50",
    )
    return replace(base, **changes)


def containers_spec(*overrides: ContainerOverride) -> ReleaseSpec:
    return spec(task_definition=TaskDefinitionSource(containers=overrides))


SERVICE: dict[str, Any] = {
    "serviceArn": SERVICE_ARN,
    "serviceName": "web",
    "clusterArn": CLUSTER_ARN,
    "status": "ACTIVE",
    "taskDefinition": TD_41,
    "desiredCount": 3,
    "runningCount": 3,
    "pendingCount": 0,
    "schedulingStrategy": "REPLICA",
    "deploymentController": {"type": "ECS"},
    "currentServiceDeployment": DEPLOYMENT_ARN,
    "capacityProviderStrategy": [
        {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0},
        {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
    ],
    "networkConfiguration": {
        "awsvpcConfiguration": {"subnets": ["subnet-1", "subnet-2"], "securityGroups": ["sg-1"],
                                "assignPublicIp": "DISABLED"}
    },
    "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
    "deploymentConfiguration": {
        "minimumHealthyPercent": 100,
        "maximumPercent": 200,
        "strategy": "ROLLING",
        "deploymentCircuitBreaker": {
            "enable": False, "rollback": False, "thresholdConfiguration": {"type": "COUNT", "value": 5}
        },
        "alarms": {"alarmNames": ["existing-alarm"], "rollback": True, "enable": True},
        "linearConfiguration": {"stepPercent": 20.0, "stepBakeTimeInMinutes": 3},
    },
    "loadBalancers": [
        {"targetGroupArn": BLUE_TG, "containerName": "app", "containerPort": 8080},
        {"targetGroupArn": OTHER_TG, "containerName": "admin", "containerPort": 9090},
    ],
    "deployments": [
        {
            "id": "ecs-svc/1",
            "status": "PRIMARY",
            "taskDefinition": TD_41,
            "serviceConnectConfiguration": {
                "enabled": True,
                "namespace": "prod.local",
                "services": [
                    {"portName": "http", "clientAliases": [{"port": 80, "dnsName": "web"}]},
                    {"portName": "grpc", "clientAliases": [{"port": 50051}]},
                ],
            },
        }
    ],
}


def service(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(SERVICE)
    out.update(changes)
    return out


BASE_TASK_DEFINITION: dict[str, Any] = {
    "taskDefinition": {
        "taskDefinitionArn": TD_41,
        "family": "web",
        "revision": 41,
        "status": "ACTIVE",
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/web-task",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/web-exec",
        "networkMode": "awsvpc",
        "cpu": "512",
        "memory": "1024",
        "requiresCompatibilities": ["FARGATE"],
        "compatibilities": ["EC2", "FARGATE"],
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
        "registeredAt": T0,
        "registeredBy": f"arn:aws:iam::{ACCOUNT}:user/ci",
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "volumes": [{"name": "scratch"}],
        "containerDefinitions": [
            {
                "name": "app",
                "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web:1.4.1",
                "essential": True,
                "command": ["./serve"],
                "environment": [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "REGION", "value": REGION}],
                "portMappings": [{"containerPort": 8080, "protocol": "tcp", "name": "http"}],
                "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/tmp"}],
            },
            {"name": "sidecar", "image": "public.ecr.aws/envoy:v1.31.0", "essential": False},
        ],
    },
    "tags": [{"key": "team", "value": "payments"}, {"key": "aws:cloudformation:stack-name", "value": "web"}],
}


def deployment(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "serviceDeploymentArn": DEPLOYMENT_ARN,
        "serviceArn": SERVICE_ARN,
        "clusterArn": CLUSTER_ARN,
        "status": "IN_PROGRESS",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
        "createdAt": T0,
        "startedAt": T0,
        "updatedAt": T0,
        "sourceServiceRevisions": [
            {"arn": REV_BLUE, "requestedTaskCount": 3, "runningTaskCount": 3, "pendingTaskCount": 0,
             "requestedProductionTrafficWeight": 100.0, "requestedTestTrafficWeight": 0.0}
        ],
        "targetServiceRevision": {
            "arn": REV_GREEN, "requestedTaskCount": 3, "runningTaskCount": 2, "pendingTaskCount": 1,
            "requestedProductionTrafficWeight": 0.0, "requestedTestTrafficWeight": 100.0,
        },
        "lifecycleHookDetails": [
            {"hookId": "ecs-pause-1", "targetType": "PAUSE", "status": "AWAITING_ACTION",
             "expiresAt": T0, "timeoutAction": "ROLLBACK"}
        ],
    }
    out.update(changes)
    return out


def revision(arn: str, task_definition: str) -> dict[str, Any]:
    return {"serviceRevisionArn": arn, "serviceArn": SERVICE_ARN, "clusterArn": CLUSTER_ARN,
            "taskDefinition": task_definition, "createdAt": T0}
