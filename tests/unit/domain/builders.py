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
        "target": {"region": "us-east-1", "cluster": "prod", "service": "web",
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


# ------------------------------------------------------------------------------------------- domain objects

from ecsbg.domain.model import DeploymentRecord, HookDetail, Phase, ReleaseStatus  # noqa: E402
from ecsbg.domain.observation import (  # noqa: E402
    AwsProblem,
    Observation,
    ObservedDeployment,
    ObservedService,
    RevisionSummary,
)
from ecsbg.domain.parsing import parse_release  # noqa: E402

SERVICE_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/demo/web"
# The described base task definition (BASE_TD_ARN) as the AWS layer hands it to the planner.
BASE_CONTENT: dict[str, Any] = {"family": "web", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
                                "containerDefinitions": [{"name": "app", "image": "repo/web:1.4.1", "essential": True,
                                                          "environment": [{"name": "LOG_LEVEL", "value": "info"}]}]}
NEW_TD_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:43"


def dep_arn(n: int) -> str:
    return f"arn:aws:ecs:us-east-1:{ACCOUNT}:service-deployment/demo/web/d{n}"


def rev_arn(n: int) -> str:
    return f"arn:aws:ecs:us-east-1:{ACCOUNT}:service-revision/demo/web/{n}"


def release(spec: dict[str, Any] | None = None, annotations: dict[str, str] | None = None):
    return parse_release(body(spec, annotations))


def service(task_definition_arn: str = BASE_TD_ARN, current: str | None = None, **kw: Any) -> ObservedService:
    return ObservedService(arn=SERVICE_ARN, status=kw.pop("status", "ACTIVE"), task_definition_arn=task_definition_arn,
                           current_deployment_arn=current, **kw)


def pause(hook_id: str = "ecs-pause-1", status: str = "AWAITING_ACTION", stage: str | None = None,
          expires_at: datetime | None = None) -> HookDetail:
    return HookDetail(hook_id=hook_id, target_type="PAUSE", status=status, stage=stage, expires_at=expires_at,
                      timeout_action="ROLLBACK")


def deployment(n: int = 1, status: str = "IN_PROGRESS", stage: str | None = "SCALE_UP",
               td: str = TD_ARN, production: float | None = 0.0, test: float | None = 0.0,
               hooks: tuple[HookDetail, ...] = (), **kw: Any) -> ObservedDeployment:
    return ObservedDeployment(
        arn=dep_arn(n), status=status, lifecycle_stage=stage, started_at=kw.pop("started_at", at(0)),
        source_revisions=(RevisionSummary(arn=rev_arn(n * 10), task_definition_arn=BASE_TD_ARN),),
        target_revision=RevisionSummary(arn=rev_arn(n * 10 + 1), task_definition_arn=td,
                                        production_weight=production, test_weight=test),
        hooks=hooks, **kw)


def observe(current: ObservedDeployment | None = None, tracked: ObservedDeployment | None = None,
            td: str | None = None, taskdef_hash: str | None = None, problem: AwsProblem | None = None,
            base: dict[str, Any] | None = BASE_CONTENT, hashes: dict[str, str] | None = None,
            **service_kw: Any) -> Observation:
    """`td` (the service's task definition) defaults to what ECS says: the target's once `current` succeeded."""
    if td is None:
        succeeded = current is not None and current.status == "SUCCESSFUL" and current.target_revision is not None
        td = (current.target_revision.task_definition_arn if succeeded else None) or BASE_TD_ARN
    return Observation(service=service(td, current.arn if current else None, **service_kw), current=current,
                       tracked=tracked if tracked is not None else current, current_target_taskdef_hash=taskdef_hash,
                       problem=problem, base_task_definition=base, taskdef_hashes=hashes or {})


def prior(spec_hash: str | None, attempt: int = 1, phase: Phase | None = Phase.DEPLOYING,
          deployment_attempt: int | None = None, status: str = "IN_PROGRESS", base: str | None = BASE_TD_ARN,
          requests: dict[str, int | None] | None = None, **kw: Any) -> ReleaseStatus:
    """A status after `attempt` was recorded; its deployment (if deployment_attempt) is dep_arn(deployment_attempt)."""
    record = None
    if deployment_attempt is not None:
        record = DeploymentRecord(attempt=deployment_attempt, arn=dep_arn(deployment_attempt), status=status)
    return ReleaseStatus(observed_generation=1, phase=phase, attempt=attempt, spec_hash=spec_hash,
                         base_task_definition_arn=base, deployment=record, requests=requests or {}, **kw)


THROTTLED = AwsProblem(code="ThrottlingException", message="Rate exceeded", terminal=False,
                       operation="DescribeServices")
DENIED = AwsProblem(code="AccessDeniedException", message="not authorized to perform ecs:UpdateService",
                    terminal=True, operation="UpdateService")
