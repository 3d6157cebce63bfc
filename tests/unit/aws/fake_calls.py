"""An in-memory ECS behind the AwsCalls interface, for tests where many threads call concurrently (Stubber
answers in FIFO order, which concurrent chunks cannot guarantee). Params are still validated against the
botocore model, and every call is recorded."""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
from botocore.validate import validate_parameters

from ecsbg.aws.calls import OPERATIONS, AwsError
from ecsbg.domain.observation import AwsProblem

_MODEL = botocore.session.get_session().get_service_model("ecs")


class FakeCalls:
    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}  # by name
        self.deployments: dict[str, dict[str, Any]] = {}
        self.revisions: dict[str, dict[str, Any]] = {}
        self.task_definitions: dict[str, dict[str, Any]] = {}  # arn -> DescribeTaskDefinition response
        self.fail: dict[str, AwsProblem] = {}  # operation -> problem to raise
        self.poison: set[str] = set()  # names/ARNs that make the whole request fail (InvalidParameterException)
        self.log: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.service = "ecs"
        self.region = "eu-west-1"

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.log if op == operation)

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        assert ("ecs", operation) in OPERATIONS
        validate_parameters(params, _MODEL.operation_model(operation).input_shape)
        with self._lock:
            self.log.append((operation, params))
        if operation in self.fail:
            raise AwsError(self.fail[operation])
        listed = [v for value in params.values() if isinstance(value, list) for v in value]
        if self.poison & set(listed):
            raise AwsError(AwsProblem("InvalidParameterException", f"bad identifier in {listed}", True, operation))
        return getattr(self, f"_{operation}")(**params)

    def _DescribeServices(self, cluster: str, services: list[str], **_: Any) -> dict[str, Any]:  # noqa: N802
        assert len(services) <= 10, "DescribeServices takes at most 10 services"
        found = [self.services[s] for s in services if s in self.services]
        failures = [{"arn": f"arn:aws:ecs:eu-west-1:111122223333:service/{cluster}/{s}", "reason": "MISSING"}
                    for s in services if s not in self.services]
        return {"services": found, "failures": failures}

    def _DescribeServiceDeployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:  # noqa: N802, N803
        assert len(serviceDeploymentArns) <= 20
        return {"serviceDeployments": [self.deployments[a] for a in serviceDeploymentArns if a in self.deployments],
                "failures": [{"arn": a, "reason": "MISSING"} for a in serviceDeploymentArns
                             if a not in self.deployments]}

    def _DescribeServiceRevisions(self, serviceRevisionArns: list[str]) -> dict[str, Any]:  # noqa: N802, N803
        assert len(serviceRevisionArns) <= 20
        return {"serviceRevisions": [self.revisions[a] for a in serviceRevisionArns if a in self.revisions],
                "failures": []}

    def _DescribeTaskDefinition(self, taskDefinition: str, include: list[str] | None = None) -> dict[str, Any]:  # noqa: N802, N803
        return self.task_definitions[taskDefinition]

    def _StopServiceDeployment(self, serviceDeploymentArn: str, stopType: str) -> dict[str, Any]:  # noqa: N802, N803
        return {"serviceDeploymentArn": serviceDeploymentArn}
