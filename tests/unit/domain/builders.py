"""Small builders of CR bodies and domain objects for the table-driven domain tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
ACCOUNT = "111122223333"
TD_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:42"
BASE_TD_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:41"
TG_BLUE = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/web-blue/0123456789abcdef"
TG_GREEN = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/web-green/0123456789abcdef"
RULE = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener-rule/app/web/0123/4567/89ab"
LB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecsInfrastructureRoleForLoadBalancers"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:smoke-test"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def body(spec: dict[str, Any] | None = None, annotations: dict[str, str] | None = None,
         generation: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "ecsbg.dev/v1alpha1",
        "kind": "EcsBlueGreenRelease",
        "metadata": {"name": "web", "namespace": "default", "generation": generation,
                     "annotations": dict(annotations or {})},
        "spec": copy.deepcopy(spec if spec is not None else containers_spec()),
    }


def containers_spec(**overrides: Any) -> dict[str, Any]:
    spec = {
        "target": {"region": "us-east-1", "cluster": "demo", "service": "web"},
        "taskDefinition": {"containers": [{"name": "app", "image": "repo/web:1.4.2"}]},
        "strategy": {"type": "BlueGreen", "bakeTimeInMinutes": 10},
    }
    spec.update(overrides)
    return spec


def arn_spec(**overrides: Any) -> dict[str, Any]:
    return containers_spec(taskDefinition={"arn": TD_ARN}, **overrides)


def full_spec() -> dict[str, Any]:
    """Every field set once."""
    return {
        "target": {"region": "eu-west-1", "cluster": "prod", "service": "web",
                   "roleArn": f"arn:aws:iam::{ACCOUNT}:role/ecsbg-deployer", "externalId": "ext-123"},
        "taskDefinition": {"containers": [
            {"name": "app", "image": "repo/web:1.4.2", "environment": [{"name": "LOG_LEVEL", "value": "info"}],
             "command": ["./serve", "--port=8080"]},
            {"name": "sidecar", "image": "repo/envoy@sha256:" + "a" * 64},
        ]},
        "strategy": {"type": "Linear", "bakeTimeInMinutes": 15, "linear": {"stepPercent": 12.5,
                                                                            "stepBakeTimeInMinutes": 3}},
        "loadBalancers": [{"targetGroupArn": TG_BLUE, "alternateTargetGroupArn": TG_GREEN,
                           "productionListenerRule": RULE, "testListenerRule": RULE, "roleArn": LB_ROLE}],
        "serviceConnect": {"testTrafficRules": [{"portName": "http", "header": {"name": "x-canary", "exact": "true"}},
                                                {"portName": "grpc", "header": {"name": "x-test"}}]},
        "lifecycleHooks": [
            {"type": "Lambda", "functionArn": FUNCTION, "roleArn": f"arn:aws:iam::{ACCOUNT}:role/hook",
             "stages": ["POST_SCALE_UP", "TEST_TRAFFIC_SHIFT"], "hookDetails": {"suite": "smoke", "n": [1, 2]},
             "timeout": {"minutes": 30, "action": "Continue"}},
            {"type": "Pause", "stages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"]},
        ],
        "alarms": {"names": ["web-5xx", "web-latency"], "rollback": True, "enable": True},
        "circuitBreaker": {"enable": True, "rollback": False},
        "requests": {"approve": 3, "reject": None, "abort": None, "retry": 2},
    }
