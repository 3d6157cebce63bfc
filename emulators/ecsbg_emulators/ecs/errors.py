"""ECS error codes as the JSON 1.1 protocol returns them: `{"__type": code, "message": ...}`.

Codes and their exception shapes come from the botocore 1.44.5 ECS model; AWS JSON services answer client
errors (including ThrottlingException) with HTTP 400 and ServerException with 500.
"""

from __future__ import annotations

from typing import Any


class EcsError(Exception):
    """An error answer: the `__type` code, a message, the HTTP status and extra shape members."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "message": self.message, **self.extra}


def invalid(message: str) -> EcsError:
    return EcsError("InvalidParameterException", message)


def client_error(message: str) -> EcsError:
    return EcsError("ClientException", message)


def cluster_not_found() -> EcsError:
    return EcsError("ClusterNotFoundException", "Cluster not found.")


def service_not_found() -> EcsError:
    return EcsError("ServiceNotFoundException", "Service not found.")


def service_not_active() -> EcsError:
    """UpdateService on a deleted (DRAINING/INACTIVE) service [model: ServiceNotActiveException, "You can't update
    a service that's inactive"]; message as the AWS CLI prints it."""
    return EcsError("ServiceNotActiveException", "Service was not ACTIVE.")


# What real ECS answers for a task definition that does not exist (ClientException, observed output quoted in
# public bug reports, see docs/emulator.md): DescribeTaskDefinition says "Unable to describe task definition.",
# CreateService/UpdateService say "TaskDefinition not found.".
DESCRIBE_TD_NOT_FOUND = "Unable to describe task definition."
SERVICE_TD_NOT_FOUND = "TaskDefinition not found."


def deployment_not_found(arn: str) -> EcsError:
    return EcsError("ServiceDeploymentNotFoundException", f"Service deployment not found: {arn}")


def conflict(message: str, resource_ids: list[str]) -> EcsError:
    return EcsError("ConflictException", message, resourceIds=resource_ids)


def server_error(message: str = "Internal server error.") -> EcsError:
    return EcsError("ServerException", message, status=500)
