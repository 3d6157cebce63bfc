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


def deployment_not_found(arn: str) -> EcsError:
    return EcsError("ServiceDeploymentNotFoundException", f"Service deployment not found: {arn}")


def conflict(message: str, resource_ids: list[str]) -> EcsError:
    return EcsError("ConflictException", message, resourceIds=resource_ids)


def server_error(message: str = "Internal server error.") -> EcsError:
    return EcsError("ServerException", message, status=500)
