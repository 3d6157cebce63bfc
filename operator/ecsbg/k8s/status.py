"""The Kubernetes write seam for status: a merge patch on the /status subresource.

The reconcile loop runs inside a kopf daemon, whose `patch` kwarg is only applied when the daemon function
returns, so the loop writes status itself. The operator is the only writer of status, so no optimistic
concurrency is needed: a merge patch of the fields we own is enough.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ecsbg.k8s.client import api_client
from ecsbg.k8s.client import call as client_call
from ecsbg.k8s.rest import MERGE_PATCH, ApiError, custom_path

GROUP, VERSION, PLURAL = "ecsbg.dev", "v1alpha1", "ecsbluegreenreleases"


class ReleaseGone(Exception):
    """The release no longer exists (404): its reconcile loop ends."""


class StatusRefused(Exception):
    """422 for the object itself, not the status we sent: the release as stored breaks the CRD's schema (written
    past an older one, e.g. without a spec), and the API server validates the whole object on a status write
    too, so no status write can succeed until the object changes."""


def refused_for_the_object(code: int, body: Any) -> str | None:
    """The API server's message when a 422 names only fields outside `status` (else None: our patch is wrong)."""
    if code != 422:
        return None
    try:
        answer = json.loads(body) if isinstance(body, (str, bytes)) else dict(body or {})
    except (TypeError, ValueError):
        return None
    causes = (answer.get("details") or {}).get("causes") or []
    fields = [str(c.get("field") or "") for c in causes if isinstance(c, dict)]
    if not fields or any(f == "status" or f.startswith("status.") or not f for f in fields):
        return None
    return str(answer.get("message") or "; ".join(fields))


class StatusWriter(Protocol):
    async def patch_status(self, *, namespace: str, name: str, status: dict[str, Any]) -> None: ...


class KubeStatusWriter:
    """Writes through k8s.rest (sync, run in a thread)."""

    def __init__(self, timeout: float = 30.0) -> None:
        # (connect, read): a half-open connection (bytes swallowed, no reset) fails after `timeout` s, instead of
        # freezing the release loop forever
        self._api = api_client((timeout, timeout))

    async def ping(self) -> None:
        """GET /version: raises when the API cannot be reached (the liveness watchdog, ecsbg.handlers)."""
        await client_call(self._api.get, "/version")

    async def patch_status(self, *, namespace: str, name: str, status: dict[str, Any]) -> None:
        try:
            await self._patch(namespace, name, status)
        except ApiError as exc:
            if exc.status == 404:
                raise ReleaseGone(f"{namespace}/{name}") from exc
            refused = refused_for_the_object(exc.status, exc.body)
            if refused is not None:
                raise StatusRefused(refused) from exc
            raise

    async def _patch(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        # a JSON merge patch: custom resources take no strategic merge patch
        await client_call(self._api.patch, custom_path(GROUP, VERSION, PLURAL, namespace, name, "status"),
                          {"status": status}, content_type=MERGE_PATCH, decode=False)
