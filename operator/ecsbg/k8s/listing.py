"""One LIST of the releases kopf is about to watch (ecsbg.releasebook): the namespaces kopf is given (`ecsbg run
-n`, ECSBG_NAMESPACES), each a name or a pattern in kopf's syntax (globs, `!` exclusions, comma-separated), or
every namespace when none is given."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ecsbg.k8s.client import api_client, call
from ecsbg.k8s.status import GROUP, PLURAL, VERSION

_PLAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # a namespace name: no pattern to expand


async def list_releases(namespaces: Iterable[str], timeout: float = 30.0, label_selector: str = "") -> list[dict[str, Any]]:
    """`label_selector`: ECSBG_RELEASE_SELECTOR, the shard's releases only (what kopf's watch sees too)."""
    from kubernetes import client

    shared = api_client()
    try:
        custom = client.CustomObjectsApi(shared)
        patterns = list(namespaces)
        if not patterns:
            listed = await call(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                label_selector=label_selector, _request_timeout=timeout)
            return list(listed.get("items") or [])
        out: list[dict[str, Any]] = []
        for namespace in await _namespaces(client.CoreV1Api(shared), patterns, timeout):
            listed = await call(custom.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
                                label_selector=label_selector, _request_timeout=timeout)
            out.extend(listed.get("items") or [])
        return out
    finally:
        shared.close()


async def _namespaces(core: Any, patterns: list[str], timeout: float) -> list[str]:
    plain = [p for p in patterns if _PLAIN.match(p)]
    if len(plain) == len(patterns):
        return list(dict.fromkeys(plain))
    # kopf's own matcher, so the book covers exactly what kopf watches (the same private helper kopf uses)
    from kopf._cogs.structs.references import match_namespace

    listed = await call(core.list_namespace, _request_timeout=timeout)
    names = [item.metadata.name for item in listed.items]
    return [n for n in names if any(match_namespace(n, p) for p in patterns)]
