"""The resource registry: built-in kinds a kopf operator and kubectl touch, plus kinds registered from CRDs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class Resource:
    group: str
    versions: list[str]
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    status_subresource: bool = False
    # per version: openAPIV3Schema (None: no schema, nothing pruned) and additionalPrinterColumns
    schemas: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, list[dict]] = field(default_factory=dict)
    crd_name: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.group, self.plural

    @property
    def group_resource(self) -> str:
        """`plural.group` as apiserver messages name a resource (`configmaps` for the core group)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version

    def discovery_entries(self) -> list[dict]:
        main = {"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
                "kind": self.kind, "verbs": ALL_VERBS}
        if self.short_names:
            main["shortNames"] = self.short_names
        if self.categories:
            main["categories"] = self.categories
        entries = [main]
        if self.status_subresource:
            # no shortNames here: kubectl resolves them per entry (reference 2.1: kmock's duplicate broke `get ns`)
            entries.append({"name": f"{self.plural}/status", "singularName": "", "namespaced": self.namespaced,
                            "kind": self.kind, "verbs": ["get", "patch", "update"]})
        return entries


def _core(plural, kind, namespaced=True, short=(), status=False, group="", version="v1") -> Resource:
    return Resource(group=group, versions=[version], plural=plural, singular=kind.lower(), kind=kind,
                    namespaced=namespaced, short_names=list(short), status_subresource=status)


def builtin_resources() -> list[Resource]:
    """What kopf's backbone waits for (namespaces, CRDs), what it writes (events, leases) and common kinds."""
    return [
        _core("namespaces", "Namespace", namespaced=False, short=["ns"], status=True),
        _core("events", "Event", short=["ev"]),
        _core("configmaps", "ConfigMap", short=["cm"]),
        _core("secrets", "Secret"),
        _core("serviceaccounts", "ServiceAccount", short=["sa"]),
        _core("pods", "Pod", short=["po"], status=True),
        _core("services", "Service", short=["svc"], status=True),
        _core("deployments", "Deployment", short=["deploy"], status=True, group="apps"),
        _core("leases", "Lease", group="coordination.k8s.io"),
        _core("events", "Event", short=["ev"], group="events.k8s.io"),
        _core("customresourcedefinitions", "CustomResourceDefinition", namespaced=False,
              short=["crd", "crds"], status=True, group="apiextensions.k8s.io"),
    ]


def resource_from_crd(crd: dict) -> Resource:
    """Build a Resource from a CRD's spec: served versions, scope, names, status subresource, schema, columns."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    served = [v for v in spec.get("versions") or [] if v.get("served", True)]
    # the storage version first: it is the preferred version in discovery, as on a cluster
    served.sort(key=lambda v: not v.get("storage", False))
    return Resource(
        group=spec.get("group", ""), versions=[v["name"] for v in served], plural=names.get("plural", ""),
        singular=names.get("singular") or names.get("kind", "").lower(), kind=names.get("kind", ""),
        namespaced=spec.get("scope", "Namespaced") == "Namespaced", short_names=list(names.get("shortNames") or []),
        categories=list(names.get("categories") or []),
        status_subresource=any("status" in (v.get("subresources") or {}) for v in served),
        schemas={v["name"]: (v.get("schema") or {}).get("openAPIV3Schema") for v in served},
        columns={v["name"]: list(v.get("additionalPrinterColumns") or []) for v in served},
        crd_name=(crd.get("metadata") or {}).get("name"),
    )


class Registry:
    """Resources by (group, plural), with lookups by version, as discovery serves them."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], Resource] = {}
        for res in builtin_resources():
            self.add(res)

    def add(self, res: Resource) -> None:
        self._by_key[res.key] = res

    def remove(self, key: tuple[str, str]) -> None:
        self._by_key.pop(key, None)

    def get(self, key: tuple[str, str]) -> Resource | None:
        return self._by_key.get(key)

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        res = self._by_key.get((group, plural))
        return res if res is not None and version in res.versions else None

    def by_kind(self, api_version: str, kind: str) -> tuple[Resource, str] | None:
        group, _, version = api_version.rpartition("/")
        for res in self._by_key.values():
            if res.group == group and res.kind == kind and version in res.versions:
                return res, version
        return None

    def all(self) -> list[Resource]:
        return list(self._by_key.values())

    def groups(self) -> dict[str, list[str]]:
        """group -> versions (preferred first), for /apis."""
        result: dict[str, list[str]] = {}
        for res in self._by_key.values():
            versions = result.setdefault(res.group, [])
            versions.extend(v for v in res.versions if v not in versions)
        return result

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self._by_key.values() if r.group == group and version in r.versions]
