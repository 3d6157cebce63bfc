"""The Kubernetes read seam for Secrets named by an EcsReleasePolicy (`spec.role.externalIdSecretRef`).

Read by reference, one GET per pass of a release that needs it: the operator never lists or watches Secrets, so
the chart grants `get` only, and only in the namespaces the installer names (docs/install.md).
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

from ecsbg.k8s.client import call as client_call


class SecretUnavailable(Exception):
    """The Secret or its key cannot be read (missing, forbidden): the release is refused, nothing is sent."""


class SecretReader(Protocol):
    async def read(self, *, namespace: str, name: str, key: str) -> str: ...


class KubeSecretReader:
    def __init__(self) -> None:
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        self._api = client.CoreV1Api()

    async def read(self, *, namespace: str, name: str, key: str) -> str:
        from kubernetes.client.exceptions import ApiException

        try:
            secret: Any = await client_call(self._api.read_namespaced_secret, name, namespace,
                                                  _request_timeout=10)
        except ApiException as exc:
            raise SecretUnavailable(f"Secret {namespace}/{name}: {exc.status} {exc.reason}") from exc
        data = secret.data or {}
        if key not in data:
            raise SecretUnavailable(f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode()
