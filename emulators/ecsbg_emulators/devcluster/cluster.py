"""DevCluster: the API server in a background thread with its own event loop, plus in-process helpers.

The helpers (apply, get, list, patch, delete) run the store's methods on the server's loop, i.e. the same code
path as HTTP requests: same admission, same resourceVersions, same watch events.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from .errors import ApiError
from .patching import clone, parse_label_selector
from .resources import Resource
from .server import ApiServer
from .store import Store

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CONTEXT = "ecsbg-dev"


class DevCluster:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.store = Store()
        self.server = ApiServer(self.store)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> DevCluster:
        ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="devcluster", daemon=True)
        self._thread.start()
        ready.result(timeout=30)
        return self

    def _serve(self, ready: concurrent.futures.Future) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start_site())
        except BaseException as exc:  # report bind errors to start()
            ready.set_exception(exc)
            return
        ready.set_result(None)
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _start_site(self) -> None:
        self._runner = web.AppRunner(self.server.app(), access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self.server.address = f"{self.host}:{self.port}"

    def stop(self) -> None:
        if self._loop is None or not self._loop.is_running():
            return
        self._loop.call_soon_threadsafe(self.store.close_watchers)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> DevCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def write_kubeconfig(self, path: str | Path) -> Path:
        """A kubeconfig with one context, `ecsbg-dev`, namespace default and a dummy token (no auth here)."""
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": CONTEXT, "preferences": {},
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url}}],
            "users": [{"name": CONTEXT, "user": {"token": "ecsbg-dev-dummy-token"}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"}}],
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # -- in-process helpers --------------------------------------------------------------------------------
    def call(self, fn, *args, **kwargs) -> Any:
        """Run a store method on the server's loop and return a copy of its result."""
        async def run():
            return clone(fn(*args, **kwargs))

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def _resource(self, group_version: str, plural: str) -> tuple[Resource, str]:
        group, _, version = group_version.rpartition("/")
        res = self.store.registry.lookup(group, version, plural)
        if res is None:
            raise ApiError(404, "NotFound", f"the server doesn't have a resource type {plural!r} in {group_version}")
        return res, version

    def apply(self, obj_or_path: dict | str | Path) -> list[dict]:
        """Create or update each object, as `kubectl apply` would (3-way merge via last-applied-configuration)."""
        if isinstance(obj_or_path, dict):
            docs = [obj_or_path]
        else:
            docs = [d for d in yaml.safe_load_all(Path(obj_or_path).read_text()) if d]
        return [self.call(self._apply_one, doc) for doc in docs]

    def _apply_one(self, doc: dict) -> dict:
        found = self.store.registry.by_kind(doc.get("apiVersion", ""), doc.get("kind", ""))
        if found is None:
            raise ApiError(404, "NotFound", f'no matches for kind "{doc.get("kind")}" in version '
                           f'"{doc.get("apiVersion")}"')
        res, version = found
        meta = doc.get("metadata") or {}
        ns = (meta.get("namespace") or "default") if res.namespaced else None
        desired = clone(doc)
        desired.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = _compact_json(doc)
        try:
            current = self.store.read(res, ns, meta.get("name", ""))
        except ApiError as exc:
            if exc.code != 404:
                raise
            return self.store.create(res, version, ns, desired)
        previous = _last_applied(current)
        return self.store.patch(res, version, ns, meta["name"], "merge", _three_way(previous, desired), None)

    def get(self, group_version: str, plural: str, namespace: str | None, name: str) -> dict | None:
        res, _ = self._resource(group_version, plural)
        try:
            return self.call(self.store.read, res, namespace, name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def list(self, group_version: str, plural: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[dict]:
        res, _ = self._resource(group_version, plural)
        return self.call(lambda: self.store.list(res, namespace, parse_label_selector(label_selector))[0])

    def create(self, group_version: str, plural: str, namespace: str | None, body: dict) -> dict:
        res, version = self._resource(group_version, plural)
        return self.call(self.store.create, res, version, namespace, body)

    def patch(self, group_version: str, plural: str, namespace: str | None, name: str, patch: Any, *,
              subresource: str | None = None, patch_type: str = "merge") -> dict:
        res, version = self._resource(group_version, plural)
        return self.call(self.store.patch, res, version, namespace, name, patch_type, patch, subresource)

    def delete(self, group_version: str, plural: str, namespace: str | None, name: str) -> dict:
        res, _ = self._resource(group_version, plural)
        return self.call(self.store.delete, res, namespace, name)

    def apply_all(self, paths: Iterable[str | Path]) -> None:
        for path in paths:
            self.apply(path)


def _compact_json(doc: dict) -> str:
    import json

    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def _last_applied(current: dict) -> dict:
    import json

    text = (current.get("metadata", {}).get("annotations") or {}).get(LAST_APPLIED)
    return json.loads(text) if text else {}


def _three_way(previous: Any, desired: Any) -> Any:
    """A merge patch that sets `desired` and deletes what the previous apply set and `desired` no longer has."""
    if not isinstance(previous, dict) or not isinstance(desired, dict):
        return desired
    patch = {key: None for key in previous if key not in desired}
    for key, value in desired.items():
        patch[key] = _three_way(previous.get(key), value)
    return patch
