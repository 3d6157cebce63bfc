"""The object store: the write path every request takes (HTTP or in-process), the event log and the watchers.

All methods run on the server's event loop thread, so a write, its event-log entry and its delivery to watchers
happen atomically with respect to other requests: a watch started from a list's resourceVersion misses nothing.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime
from typing import Any

from . import admission, fields
from .errors import ApiError, already_exists, bad_request, conflict, not_found
from .patching import clone, json_patch, merge_patch, strategic_merge
from .resources import Registry, Resource, resource_from_crd

_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's utilrand alphabet for generateName
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACES = ("", "namespaces")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Watcher:
    def __init__(self, key, namespace, label_match, field_match) -> None:
        self.key, self.namespace = key, namespace
        self.label_match, self.field_match = label_match, field_match
        self.queue: asyncio.Queue = asyncio.Queue()

    def matches(self, obj: dict | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata", {})
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.label_match is not None and not self.label_match(meta.get("labels") or {}):
            return False
        return self.field_match is None or self.field_match(obj)

    def event(self, kind: str, obj: dict, old: dict | None) -> tuple[str, dict] | None:
        """The event this watcher sees; an object leaving/entering its selector is DELETED/ADDED (watch cache)."""
        now_in, was_in = self.matches(obj), self.matches(old)
        if kind == "MODIFIED" and now_in != was_in:
            kind = "ADDED" if now_in else "DELETED"
        elif not now_in:
            return None
        return kind, obj


class Store:
    def __init__(self, log_size: int = 200_000) -> None:
        self.registry = Registry()
        self.rv = 0
        self.objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self.log: list[tuple[int, tuple, str, dict, dict | None]] = []
        self.log_floor = 0  # events at or below this resourceVersion have been compacted away
        self.log_size = log_size
        self.watchers: dict[tuple[str, str], set[Watcher]] = {}
        self.cel = admission.CelHolder()
        ns = self.registry.lookup("", "v1", "namespaces")
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(ns, "v1", None, {"metadata": {"name": name}})

    # -- reads ---------------------------------------------------------------------------------------------
    def bucket(self, res: Resource) -> dict[tuple[str, str], dict]:
        return self.objects.setdefault(res.key, {})

    def read(self, res: Resource, ns: str | None, name: str) -> dict:
        obj = self.bucket(res).get((ns or "", name))
        if obj is None:
            raise not_found(res.group_resource, name)
        return obj

    def list(self, res: Resource, ns: str | None, label_match=None, field_match=None) -> tuple[list[dict], str]:
        probe = Watcher(res.key, ns, label_match, field_match)
        # sorted by namespace and name, the order of etcd's keys (/registry/<resource>/<namespace>/<name>)
        items = [o for key, o in sorted(self.bucket(res).items()) if probe.matches(o)]
        return items, str(self.rv)

    # -- writes --------------------------------------------------------------------------------------------
    def create(self, res: Resource, version: str, ns: str | None, body: dict, *, dry_run: bool = False,
               strict: bool = False, warnings: list | None = None, manager: str | None = None) -> dict:
        obj = clone(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        self._set_namespace(res, ns, meta)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise admission.name_required(res)
            meta["name"] = meta["generateName"] + "".join(random.choices(_GENERATE_CHARS, k=5))
        if (meta.get("namespace", ""), meta["name"]) in self.bucket(res):
            raise already_exists(res.group_resource, meta["name"])
        for key in ("resourceVersion", "uid", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now())
        if admission.has_generation(res):
            meta["generation"] = 1
        obj = admission.admit(self, res, version, obj, None, None, strict, warnings)
        meta = obj["metadata"]
        meta.pop("managedFields", None)  # the server's to write
        if manager is not None:
            fields.track(obj, None, manager=manager, subresource=None, when=now())
        return obj if dry_run else self._commit(res, obj, None)

    def _set_namespace(self, res: Resource, ns: str | None, meta: dict) -> None:
        if not res.namespaced:
            meta.pop("namespace", None)
            return
        if meta.get("namespace") and meta["namespace"] != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = ns
        namespace = self.bucket(self.registry.lookup("", "v1", "namespaces")).get(("", ns))
        if namespace is None:
            raise not_found("namespaces", ns)
        if namespace.get("metadata", {}).get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", f'{res.group_resource} "{meta.get("name", "")}" is forbidden: unable to '
                           f"create new content in namespace {ns} because it is being terminated")

    def update(self, res: Resource, version: str, ns: str | None, name: str, body: dict, subresource: str | None,
               *, dry_run: bool = False, strict: bool = False, warnings: list | None = None,
               manager: str | None = None) -> dict:
        old = self.read(res, ns, name)
        new = clone(body)
        if not isinstance(new.get("metadata"), dict):
            raise bad_request("metadata must be an object")
        rv = new["metadata"].get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(res.group_resource, name)
        if not rv and res.crd_name:
            # custom resources do not allow unconditional updates (customresource strategy)
            raise admission.rv_required(res, name)
        return self._write(res, version, old, new, subresource, dry_run, strict, warnings, manager)

    def patch(self, res: Resource, version: str, ns: str | None, name: str, patch_type: str, patch: Any,
              subresource: str | None, *, dry_run: bool = False, strict: bool = False,
              warnings: list | None = None, manager: str | None = None) -> dict:
        if patch_type == "strategic" and res.crd_name:
            # custom resources have no patch strategies: kube-apiserver refuses the type (crdHandler's patch types)
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                           "accepted media types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml")
        old = self.read(res, ns, name)
        if patch_type == "json":
            new = json_patch(old, patch)
        elif patch_type in ("merge", "strategic"):
            if not isinstance(patch, dict):
                raise bad_request("a merge patch must be a JSON object")
            new = strategic_merge(old, patch) if patch_type == "strategic" else merge_patch(old, patch)
        else:
            raise ApiError(415, "UnsupportedMediaType", f"the patch type {patch_type!r} is not supported here "
                           "(server-side apply is not emulated)")
        if not isinstance(new.get("metadata"), dict):
            raise bad_request("metadata must be an object")
        rv = new["metadata"].get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(res.group_resource, name)
        return self._write(res, version, old, new, subresource, dry_run, strict, warnings, manager)

    def _write(self, res, version, old, new, subresource, dry_run, strict, warnings, manager=None) -> dict:
        new = admission.admit(self, res, version, new, old, subresource, strict, warnings)
        if "managedFields" in old["metadata"]:  # the server's to write: what a client sends is ignored
            new["metadata"]["managedFields"] = clone(old["metadata"]["managedFields"])
        else:
            new["metadata"].pop("managedFields", None)
        if admission.same(new, old):
            return old  # a no-op write stores nothing and bumps no resourceVersion, as on a cluster
        if manager is not None:
            fields.track(new, old, manager=manager, subresource=subresource, when=now())
        return new if dry_run else self._commit(res, new, old)

    def delete(self, res: Resource, ns: str | None, name: str, options: dict | None = None,
               *, dry_run: bool = False) -> dict:
        old = self.read(res, ns, name)
        admission.check_preconditions(res, old, (options or {}).get("preconditions") or {})
        if not old["metadata"].get("finalizers") and not self._has_content(res, old):
            if not dry_run:
                self._remove(res, old)
            return old
        if old["metadata"].get("deletionTimestamp"):
            return old
        new = clone(old)
        new["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=0)
        if "generation" in new["metadata"]:
            new["metadata"]["generation"] += 1  # rest.BeforeDelete bumps generation on graceful deletion
        if dry_run:
            return new
        if res.key == NAMESPACES:
            new.setdefault("status", {})["phase"] = "Terminating"
        new = self._commit(res, new, old)
        if res.key == NAMESPACES:
            self._empty_namespace(name)
        return new

    def _has_content(self, res: Resource, obj: dict) -> bool:
        if res.key != NAMESPACES:
            return False
        name = obj["metadata"]["name"]
        return any(key[0] == name for bucket in self.objects.values() for key in bucket)

    def _empty_namespace(self, name: str) -> None:
        for key, bucket in list(self.objects.items()):
            res = self.registry.get(key)
            for (ns, obj_name) in [k for k in bucket if k[0] == name]:
                if res is not None:
                    self.delete(res, ns, obj_name)
        self._finish_namespace(name)

    def _finish_namespace(self, name: str) -> None:
        ns_res = self.registry.lookup("", "v1", "namespaces")
        namespace = self.bucket(ns_res).get(("", name))
        if namespace and namespace["metadata"].get("deletionTimestamp") and not self._has_content(ns_res, namespace):
            self._remove(ns_res, namespace)

    # -- commit, events, watchers --------------------------------------------------------------------------
    def _commit(self, res: Resource, obj: dict, old: dict | None) -> dict:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and old is not None:
            return self._remove(res, obj)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self.bucket(res)[(meta.get("namespace", ""), meta["name"])] = obj
        self._emit(res, "ADDED" if old is None else "MODIFIED", obj, old)
        if res.key == CRDS:
            self._crd_changed(obj)
        return obj

    def _remove(self, res: Resource, obj: dict) -> dict:
        meta = obj["metadata"]
        self.bucket(res).pop((meta.get("namespace", ""), meta["name"]), None)
        self.rv += 1
        obj = {**obj, "metadata": {**meta, "resourceVersion": str(self.rv)}}
        self._emit(res, "DELETED", obj, None)
        if res.key == CRDS:
            self._crd_removed(obj)
        if meta.get("namespace"):
            self._finish_namespace(meta["namespace"])
        return obj

    def _emit(self, res: Resource, kind: str, obj: dict, old: dict | None) -> None:
        self.log.append((self.rv, res.key, kind, obj, old))
        if len(self.log) > self.log_size:
            cut = len(self.log) // 2
            self.log_floor = self.log[cut - 1][0]
            del self.log[:cut]
        for watcher in self.watchers.get(res.key, ()):
            event = watcher.event(kind, obj, old)
            if event is not None:
                watcher.queue.put_nowait(event)

    def watch(self, res: Resource, ns: str | None, label_match, field_match, since: str | None) -> Watcher:
        """Register a watcher with its backlog already queued: current objects (no/zero resourceVersion) or the
        log's events after `since`; a `since` older than the log is answered 410 Gone like a compacted etcd."""
        watcher = Watcher(res.key, ns, label_match, field_match)
        if not since or since == "0":
            for obj in self.bucket(res).values():
                if watcher.matches(obj):
                    watcher.queue.put_nowait(("ADDED", obj))
        else:
            try:
                start = int(since)
            except ValueError:
                raise bad_request(f"invalid resource version: {since!r}") from None
            if start < self.log_floor:
                raise ApiError(410, "Expired", f"too old resource version: {start} ({self.log_floor})")
            for rv, key, kind, obj, old in self.log:
                if rv > start and key == res.key:
                    event = watcher.event(kind, obj, old)
                    if event is not None:
                        watcher.queue.put_nowait(event)
        self.watchers.setdefault(res.key, set()).add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self.watchers.get(watcher.key, set()).discard(watcher)

    def close_watchers(self) -> None:
        for watchers in self.watchers.values():
            for watcher in watchers:
                watcher.queue.put_nowait(None)

    # -- CRDs ----------------------------------------------------------------------------------------------
    def _crd_changed(self, crd: dict) -> None:
        res = resource_from_crd(crd)
        old = next((r for r in self.registry.all() if r.crd_name == res.crd_name), None)
        if old is not None and old.key != res.key:
            self.registry.remove(old.key)
        self.registry.add(res)
        if any("x-kubernetes-validations" in json.dumps(s) for s in res.schemas.values() if s):
            self.cel.warm()

    def _crd_removed(self, crd: dict) -> None:
        res = resource_from_crd(crd)
        # the apiserver's CRD finalizer deletes every custom resource before the CRD goes away
        for obj in list(self.bucket(res).values()):
            self._remove(res, obj)
        self.objects.pop(res.key, None)
        self.registry.remove(res.key)
