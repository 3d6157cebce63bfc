"""What one release needs to know about the others: which ECS service each claims (one release per service,
ecsbg.domain.ownership) and the phase, attempt and images each shows (spec.promoteFrom, ecsbg.gating).

Why not kopf indexes, as before: with an index on a resource, kopf makes every object of its initial listing a
toggle of one readiness set and wakes every waiting worker each time one is dropped, so a restart spends O(n^2)
wakeups before the first pass: about 6 s with 1,000 releases and 21-26 s with 2,000 (issue 12). The book is filled
by one LIST of the watched namespaces before kopf starts watching (ecsbg.k8s.listing; complete before any release
is reconciled, as an index was) and kept current by the watch's events (ecsbg.handlers `watched`, which kopf runs
before it spawns an object's daemon).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ecsbg.domain import shape
from ecsbg.domain.ownership import claim_account, target_key
from ecsbg.domain.schedule import slot_of

Key = tuple[str, str, str]


class ReleaseBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # the startup LIST fills it from a worker thread
        self._claims: dict[Key, dict[tuple[str, str], tuple[str, str, str]]] = {}
        self._key_of: dict[tuple[str, str], Key] = {}
        self._states: dict[tuple[str, str], dict[str, Any]] = {}
        # (uid, generation) each release's claim and cluster were read from: most events are our status writes
        self._versions: dict[tuple[str, str], tuple[Any, Any]] = {}
        # ECS cluster (domain.schedule's grid key) -> its releases; their ranks, rebuilt when membership changes
        self._cluster_of: dict[tuple[str, str], str] = {}
        self._members: dict[str, set[tuple[str, str]]] = {}
        self._ranks: dict[str, dict[tuple[str, str], int]] = {}

    def put(self, body: Mapping[str, Any]) -> None:
        """Record a release as its latest body shows it (any JSON may arrive: a body that bypassed the schema
        claims nothing)."""
        meta = shape.child(body, "metadata")
        ref = (shape.text(meta.get("namespace")), shape.text(meta.get("name")))
        status = shape.child(body, "status")
        state = {"phase": status.get("phase"), "attempt": status.get("attempt"),
                 "images": list(status.get("images") or [])}
        # the spec (its target) changes only with metadata.generation: reading the claim again on every status
        # write was 1.5 % of the operator's CPU with 1,000 releases starting at once. Bodies without a uid or a
        # generation (hand-made ones) are read whole every time, as reconciler._parse does.
        version = (meta.get("uid"), meta.get("generation"))
        with self._lock:
            if version[0] and version[1] is not None and self._versions.get(ref) == version:
                self._states[ref] = state
                return
        target = shape.child(body, "spec", "target")
        key = target_key(target)
        with self._lock:
            self._versions[ref] = version
            self._drop_claim(ref)
            if key is not None:
                claim = (shape.text(meta.get("creationTimestamp")), f"{ref[0]}/{ref[1]}", claim_account(target))
                self._claims.setdefault(key, {})[ref] = claim
                self._key_of[ref] = key
            self._states[ref] = state
            self._join(ref, cluster_of(target))

    def remove(self, namespace: str, name: str) -> None:
        with self._lock:
            self._drop_claim((namespace, name))
            self._states.pop((namespace, name), None)
            self._versions.pop((namespace, name), None)
            self._join((namespace, name), None)

    def poll_slot(self, namespace: str, name: str) -> tuple[int, int]:
        """(group, groups) of the release among its ECS cluster's (domain.schedule.slot_of); (0, 1) unknown."""
        ref = (namespace, name)
        with self._lock:
            cluster = self._cluster_of.get(ref)
            if cluster is None:
                return 0, 1
            ranks = self._ranks.get(cluster)
            if ranks is None:  # sorted by name: a release keeps its group while others come and go around it
                ranks = self._ranks[cluster] = {r: i for i, r in enumerate(sorted(self._members[cluster]))}
            return slot_of(ranks[ref], len(ranks))

    def claims(self, key: Key) -> list[tuple[str, str, str]]:
        """(creationTimestamp, "namespace/name", account) of every release targeting the service."""
        with self._lock:
            return list(self._claims.get(key, {}).values())

    def state(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._states.get((namespace, name))

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)

    def _join(self, ref: tuple[str, str], cluster: str | None) -> None:
        """Move `ref` to `cluster`'s members (None: out of every cluster); called on every watch event, so a
        status write (same cluster) changes nothing."""
        before = self._cluster_of.get(ref)
        if before == cluster:
            return
        if before is not None:
            self._members[before].discard(ref)
            self._ranks.pop(before, None)
            if not self._members[before]:
                del self._members[before]
            del self._cluster_of[ref]
        if cluster is not None:
            self._members.setdefault(cluster, set()).add(ref)
            self._ranks.pop(cluster, None)
            self._cluster_of[ref] = cluster

    def _drop_claim(self, ref: tuple[str, str]) -> None:
        key = self._key_of.pop(ref, None)
        if key is not None:
            holders = self._claims.get(key, {})
            holders.pop(ref, None)
            if not holders:
                self._claims.pop(key, None)


def cluster_of(target: Mapping[str, Any]) -> str:
    """The grid key of domain.schedule: releases of one ECS cluster read it together (batched calls)."""
    return f"{target.get('accountId', '')}/{target.get('region', '')}/{target.get('cluster', '')}"
