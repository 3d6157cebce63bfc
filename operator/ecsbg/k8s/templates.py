"""Reads analysis templates and Secrets by reference, through k8s.rest (sync, in a thread), with a short cache so a release polled every few seconds does not read its template every pass.

Only `get` by name: the operator never lists or watches Secrets (chart RBAC: templates get/list/watch,
secrets get).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

from ecsbg.domain.analysis.model import CLUSTER_TEMPLATE_KIND
from ecsbg.k8s.client import api_client
from ecsbg.k8s.client import call as client_call
from ecsbg.k8s.rest import ApiError, core_path, custom_path
from ecsbg.k8s.status import GROUP, VERSION

PLURALS = {"EcsAnalysisTemplate": "ecsanalysistemplates", CLUSTER_TEMPLATE_KIND: "clusterecsanalysistemplates"}
CACHE_SECONDS = 2.0


class KubeTemplateSource:
    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        self._api = api_client()
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._ttl = cache_seconds

    async def template(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        plural = PLURALS[kind]
        if kind == CLUSTER_TEMPLATE_KIND:
            return await self._cached(("t", kind, name), custom_path(GROUP, VERSION, plural, name=name))
        return await self._cached(("t", kind, namespace, name), custom_path(GROUP, VERSION, plural, namespace, name))

    async def secret(self, namespace: str, name: str, key: str) -> str | None:
        secret = await self._cached(("s", namespace, name), core_path("secrets", namespace, name))
        data = (secret or {}).get("data") or {}
        if key not in data:
            return None
        return base64.b64decode(data[key]).decode("utf-8")

    async def _cached(self, key: tuple[str, ...], path: str) -> Any:
        """The object at `path`, None when it does not exist (404), read again after the cache's few seconds."""
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        try:
            value = await client_call(self._api.get, path)
        except ApiError as exc:
            if exc.status != 404:
                raise
            value = None
        self._cache[key] = (time.monotonic(), value)
        return value
