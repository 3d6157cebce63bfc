"""One release per ECS service: the oldest release of a service owns it.

Two releases driving one service would supersede each other's deployments (a second deployment-triggering
UpdateService stops the first), so a newer release that names an owned service is refused like a bad spec: a
condition and a Warning naming the owner, and no AWS write. It takes over when the owner is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ecsbg.domain.parsing import InvalidSpec
from ecsbg.domain.shape import mapping, text

Claim = tuple[str, str]  # (creationTimestamp, "namespace/name"): RFC3339 UTC strings sort in time order


def target_key(target: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(region, cluster, service) with ARNs reduced to names, so `demo` and `arn:...:cluster/demo` collide."""
    region, cluster, service = (text(mapping(target).get(k)) for k in ("region", "cluster", "service"))
    if not (region and cluster and service):
        return None
    return region, cluster.rsplit("/", 1)[-1], service.rsplit("/", 1)[-1]


def conflict(me: str, claims: Iterable[Claim]) -> str | None:
    """The owner's "namespace/name" when it is not `me`, else None."""
    ordered = sorted(claims)
    if not ordered or ordered[0][1] == me:
        return None
    return ordered[0][1]


class ServiceOwnedElsewhere(InvalidSpec):
    """Raised for a release whose service another, older release owns."""


def check(namespace: str, name: str, target: Mapping[str, Any], claims: Iterable[Claim]) -> None:
    key = target_key(target)
    owner = conflict(f"{namespace}/{name}", claims) if key else None
    if owner is not None and key is not None:
        region, cluster, service = key
        raise ServiceOwnedElsewhere([
            f"spec.target: ECS service {cluster}/{service} in {region} is already released by {owner}; one "
            "release per service (the oldest owns it), this one takes over when that one is deleted"])
