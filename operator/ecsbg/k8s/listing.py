"""One LIST of the releases kopf is about to watch (ecsbg.releasebook): the namespaces kopf is given (`ecsbg run
-n`, ECSBG_NAMESPACES), each a name or a pattern in kopf's syntax (globs, `!` exclusions, comma-separated), or
every namespace when none is given."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ecsbg.k8s.client import api_client, call
from ecsbg.k8s.rest import RestClient, core_path, custom_path
from ecsbg.k8s.status import GROUP, PLURAL, VERSION

_PLAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # a namespace name: no pattern to expand


async def list_releases(namespaces: Iterable[str], timeout: float = 30.0, label_selector: str = "") -> list[dict[str, Any]]:
    """`label_selector`: ECSBG_RELEASE_SELECTOR, the shard's releases only (what kopf's watch sees too)."""
    api = api_client(timeout)
    query = {"labelSelector": label_selector}
    try:
        patterns = list(namespaces)
        if not patterns:
            listed = await call(api.get, custom_path(GROUP, VERSION, PLURAL), query=query)
            return list(listed.get("items") or [])
        out: list[dict[str, Any]] = []
        for namespace in await _namespaces(api, patterns):
            listed = await call(api.get, custom_path(GROUP, VERSION, PLURAL, namespace), query=query)
            out.extend(listed.get("items") or [])
        return out
    finally:
        api.close()


async def _namespaces(api: RestClient, patterns: list[str]) -> list[str]:
    plain = [p for p in patterns if _PLAIN.match(p)]
    if len(plain) == len(patterns):
        return list(dict.fromkeys(plain))
    # kopf's own matcher, so the book covers exactly what kopf watches (the same private helper kopf uses)
    from kopf._cogs.structs.references import match_namespace

    listed = await call(api.get, core_path("namespaces"))
    names = [str(item["metadata"]["name"]) for item in listed.get("items") or []]
    return [n for n in names if any(match_namespace(n, p) for p in patterns)]
