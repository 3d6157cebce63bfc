"""The Kubernetes write seam for status: a merge patch on the /status subresource.

The reconcile loop runs inside a kopf daemon, whose `patch` kwarg is only applied when the daemon function
returns, so the loop writes status itself. The operator is the only writer of status, so no optimistic
concurrency is needed: a merge patch of the fields we own is enough.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

GROUP, VERSION, PLURAL = "ecsbg.dev", "v1alpha1", "ecsbluegreenreleases"


class ReleaseGone(Exception):
    """The release no longer exists (404): its reconcile loop ends."""


class StatusWriter(Protocol):
    async def patch_status(self, *, namespace: str, name: str, status: dict[str, Any]) -> None: ...


class KubeStatusWriter:
    """Writes through the official `kubernetes` client (sync, run in a thread)."""

    def __init__(self) -> None:
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        self._api = client.CustomObjectsApi()

    async def patch_status(self, *, namespace: str, name: str, status: dict[str, Any]) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            await self._patch(namespace, name, status)
        except ApiException as exc:
            if exc.status == 404:
                raise ReleaseGone(f"{namespace}/{name}") from exc
            raise

    async def _patch(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        await asyncio.to_thread(
            self._api.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            {"status": status},
            # The client would pick application/json (a strategic-merge guess) for a dict body; CRs need
            # a JSON merge patch.
            _content_type="application/merge-patch+json",
        )
