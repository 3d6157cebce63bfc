"""Reads analysis templates and Secrets by reference, through the official `kubernetes` client (sync, in a
thread), with a short cache so a release polled every few seconds does not read its template every pass.

Only `get` by name: the operator never lists or watches Secrets (chart RBAC: templates get/list/watch,
secrets get).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

from ecsbg.domain.analysis.model import CLUSTER_TEMPLATE_KIND
from ecsbg.k8s.client import call as client_call
from ecsbg.k8s.status import GROUP, VERSION

PLURALS = {"EcsAnalysisTemplate": "ecsanalysistemplates", CLUSTER_TEMPLATE_KIND: "clusterecsanalysistemplates"}
CACHE_SECONDS = 2.0


class KubeTemplateSource:
    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        self._custom = client.CustomObjectsApi()
        self._core = client.CoreV1Api()
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._ttl = cache_seconds

    async def template(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        plural = PLURALS[kind]
        if kind == CLUSTER_TEMPLATE_KIND:
            return await self._cached(("t", kind, name), self._custom.get_cluster_custom_object,
                                      GROUP, VERSION, plural, name)
        return await self._cached(("t", kind, namespace, name), self._custom.get_namespaced_custom_object,
                                  GROUP, VERSION, namespace, plural, name)

    async def secret(self, namespace: str, name: str, key: str) -> str | None:
        secret = await self._cached(("s", namespace, name), self._core.read_namespaced_secret, name, namespace)
        data = getattr(secret, "data", None) or {}
        if key not in data:
            return None
        return base64.b64decode(data[key]).decode("utf-8")

    async def _cached(self, key: tuple[str, ...], fn: Any, *args: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self._ttl:
            return hit[1]
        try:
            value = await client_call(fn, *args)
        except ApiException as exc:
            if exc.status != 404:
                raise
            value = None
        self._cache[key] = (time.monotonic(), value)
        return value
