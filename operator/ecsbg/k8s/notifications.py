"""Reads EcsNotificationProviders, ClusterEcsNotificationProviders and the Secrets they name, by name only
(chart RBAC: providers get, secrets get), with the short cache of the analysis template reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ecsbg.domain.notifications import CLUSTER_PROVIDER_KIND, PROVIDER_KIND
from ecsbg.k8s.rest import custom_path
from ecsbg.k8s.status import GROUP, VERSION
from ecsbg.k8s.templates import KubeTemplateSource

PLURALS = {PROVIDER_KIND: "ecsnotificationproviders", CLUSTER_PROVIDER_KIND: "clusterecsnotificationproviders"}


class ProviderSource(Protocol):
    async def provider(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    async def secret(self, namespace: str, name: str, key: str) -> str | None: ...


class KubeProviderSource(KubeTemplateSource):
    async def provider(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        plural = PLURALS[kind]
        if kind == CLUSTER_PROVIDER_KIND:
            return await self._cached(("p", kind, name), custom_path(GROUP, VERSION, plural, name=name))
        return await self._cached(("p", kind, namespace, name), custom_path(GROUP, VERSION, plural, namespace, name))
