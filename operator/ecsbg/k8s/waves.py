"""The Kubernetes seam of release waves: list the namespace's releases, create or patch a child release, patch a
wave's status. The only I/O a wave does (it never calls AWS); the fake is tests/fakes/waves.py."""

from __future__ import annotations

from typing import Any, Protocol

from ecsbg.k8s.client import api_client
from ecsbg.k8s.client import call as client_call
from ecsbg.k8s.rest import JSON_PATCH, MERGE_PATCH, ApiError, custom_path
from ecsbg.k8s.status import GROUP, PLURAL, VERSION, ReleaseGone

WAVES = "ecsreleasewaves"


class AlreadyExists(Exception):
    """409 on create: a deterministic child name already taken (our own earlier create, or a release of
    someone else, which the next pass reports as TargetOwnedByRelease)."""


class WaveApi(Protocol):
    async def list_releases(self, namespace: str) -> list[dict[str, Any]]: ...
    async def create_release(self, namespace: str, body: dict[str, Any]) -> None: ...
    async def patch_release(self, namespace: str, name: str, ops: list[dict[str, Any]]) -> None: ...
    async def patch_wave_status(self, namespace: str, name: str, status: dict[str, Any]) -> None: ...


class KubeWaveApi:
    """Through k8s.rest (sync, run in a thread), like KubeStatusWriter."""

    def __init__(self, timeout: float = 30.0) -> None:
        self._api = api_client((timeout, timeout))

    async def list_releases(self, namespace: str) -> list[dict[str, Any]]:
        answer = await client_call(self._api.get, custom_path(GROUP, VERSION, PLURAL, namespace))
        return list(answer.get("items") or [])

    async def create_release(self, namespace: str, body: dict[str, Any]) -> None:
        try:
            await client_call(self._api.post, custom_path(GROUP, VERSION, PLURAL, namespace), body)
        except ApiError as exc:
            if exc.status == 409:
                raise AlreadyExists(body["metadata"]["name"]) from exc
            raise

    async def patch_release(self, namespace: str, name: str, ops: list[dict[str, Any]]) -> None:
        await client_call(self._api.patch, custom_path(GROUP, VERSION, PLURAL, namespace, name), ops,
                          content_type=JSON_PATCH)

    async def patch_wave_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        try:
            await client_call(self._api.patch, custom_path(GROUP, VERSION, WAVES, namespace, name, "status"),
                              {"status": status}, content_type=MERGE_PATCH)
        except ApiError as exc:
            if exc.status == 404:
                raise ReleaseGone(f"{namespace}/{name}") from exc
            raise
