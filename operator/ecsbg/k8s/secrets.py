"""The Kubernetes read seam for Secrets named by an EcsReleasePolicy (`spec.role.externalIdSecretRef`).

Read by reference, one GET per pass of a release that needs it: the operator never lists or watches Secrets, so
the chart grants `get` only, and only in the namespaces the installer names (docs/install.md).
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

from ecsbg.k8s.client import api_client
from ecsbg.k8s.client import call as client_call
from ecsbg.k8s.rest import ApiError, core_path


class SecretUnavailable(Exception):
    """The Secret or its key cannot be read (missing, forbidden): the release is refused, nothing is sent."""


class SecretReader(Protocol):
    async def read(self, *, namespace: str, name: str, key: str) -> str: ...


class KubeSecretReader:
    def __init__(self) -> None:
        self._api = api_client(10)

    async def read(self, *, namespace: str, name: str, key: str) -> str:
        try:
            secret: Any = await client_call(self._api.get, core_path("secrets", namespace, name))
        except ApiError as exc:
            raise SecretUnavailable(f"Secret {namespace}/{name}: {exc.status} {exc.reason}") from exc
        data = secret.get("data") or {}
        if key not in data:
            raise SecretUnavailable(f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode()
