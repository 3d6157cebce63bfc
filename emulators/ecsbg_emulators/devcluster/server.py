"""The HTTP face of the store: discovery, CRUD, patch, watch and Table responses, as kubectl and kopf use them."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from aiohttp import web

from . import fields, openapi, tables
from .errors import ApiError, bad_request
from .patching import parse_field_selector, parse_label_selector
from .resources import Resource
from .store import Store

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",  # applied as a merge patch (no patch strategies)
    "application/json-patch+json": "json",
    "application/apply-patch+yaml": "apply",
}
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0+ecsbg-devcluster", "gitCommit": "", "gitTreeState": "",
           "buildDate": "2026-01-01T00:00:00Z", "goVersion": "", "compiler": "python", "platform": "linux/amd64"}
_NOT_FOUND = ApiError(404, "NotFound", "the server could not find the requested resource")
WATCH_DEFAULT_TIMEOUT = 1800  # the apiserver's --min-request-timeout


@dataclass
class Target:
    res: Resource
    version: str
    namespace: str | None
    name: str | None
    subresource: str | None


def dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def respond(body, status: int = 200, warnings: list | None = None) -> web.Response:
    resp = web.Response(body=dumps(body), status=status, content_type="application/json")
    for text in warnings or ():
        resp.headers.add("Warning", '299 - "' + text.replace('"', '\\"') + '"')
    return resp


class ApiServer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.address = "127.0.0.1:0"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except ApiError as exc:
            return respond(exc.status(), exc.code)
        except ConnectionResetError:  # the client went away while sending its body: nothing was stored or done
            return web.Response(status=499)  # never read by anyone; aiohttp drops it quietly

    # -- routing -------------------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        discovery = self._discovery(parts)
        if discovery is not None:
            if request.method != "GET":
                raise ApiError(405, "MethodNotAllowed", "discovery is read-only")
            return respond(discovery)
        target = self._target(parts)
        method = request.method
        if method == "GET" and target.name is None and request.query.get("watch") in ("1", "true"):
            return await self.watch(request, target)
        handler = {"GET": self.get, "POST": self.create, "PUT": self.update, "PATCH": self.patch,
                   "DELETE": self.delete}.get(method)
        if handler is None:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")
        return await handler(request, target)

    def _discovery(self, parts: list[str]) -> dict | None:
        registry = self.store.registry
        if parts in (["version"], ["healthz"], ["readyz"], ["livez"]):
            return VERSION if parts == ["version"] else {"status": "ok"}
        if parts[:2] == ["openapi", "v3"]:
            doc = openapi.root(registry) if len(parts) == 2 else None
            if len(parts) in (4, 5):  # /openapi/v3/api/v1 or /openapi/v3/apis/G/V
                doc = openapi.group_version(registry, *(("", parts[3]) if parts[2] == "api" else parts[3:5]))
            if doc is None:
                raise _NOT_FOUND
            return doc
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.address}]}
        if parts == ["apis"]:
            groups = [_group(g, vs) for g, vs in registry.groups().items() if g]
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        if len(parts) == 2 and parts[0] == "apis":
            versions = registry.groups().get(parts[1])
            if not versions:
                raise _NOT_FOUND
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(parts[1], versions)}
        if (len(parts) == 2 and parts[0] == "api") or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
            found = registry.in_group_version(group, version)
            if not found:
                raise _NOT_FOUND
            entries = [e for r in found for e in r.discovery_entries()]
            return {"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}" if group else version, "resources": entries}
        return None

    def _target(self, parts: list[str]) -> Target:
        if len(parts) >= 3 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise _NOT_FOUND
        lookup = self.store.registry.lookup
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3 and (nested := lookup(group, version, rest[2])) is not None \
                and nested.namespaced:
            namespace, rest = rest[1], rest[2:]
        res = lookup(group, version, rest[0])
        if res is None or len(rest) > 3:
            raise _NOT_FOUND
        if res.namespaced and namespace is None and len(rest) > 1:
            raise _NOT_FOUND
        return Target(res, version, namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None)

    # -- verbs ---------------------------------------------------------------------------------------------
    async def get(self, request: web.Request, t: Target) -> web.Response:
        if t.name is not None:
            obj = self.store.read(t.res, t.namespace, t.name)
            return self._reply(request, t, obj)
        query = request.query
        items, rv = self.store.list(t.res, t.namespace, parse_label_selector(query.get("labelSelector")),
                                    parse_field_selector(query.get("fieldSelector")))
        items = [_as_version(o, t) for o in items]
        if _wants_table(request):
            return respond(tables.table(items, tables.columns_for(t.res, t.version), _include(request), rv))
        return respond({"kind": f"{t.res.kind}List", "apiVersion": t.res.api_version(t.version),
                        "metadata": {"resourceVersion": rv}, "items": items})

    async def create(self, request: web.Request, t: Target) -> web.Response:
        if t.name is not None:
            raise ApiError(405, "MethodNotAllowed", "POST to a named resource is not supported")
        if t.res.namespaced and t.namespace is None:
            raise _NOT_FOUND
        warnings: list[str] = []
        obj = self.store.create(t.res, t.version, t.namespace, await _body(request), **_write_opts(request, warnings))
        return self._reply(request, t, obj, 201, warnings)

    async def update(self, request: web.Request, t: Target) -> web.Response:
        warnings: list[str] = []
        obj = self.store.update(t.res, t.version, t.namespace, _named(t), await _body(request), t.subresource,
                                **_write_opts(request, warnings))
        return self._reply(request, t, obj, 200, warnings)

    async def patch(self, request: web.Request, t: Target) -> web.Response:
        patch_type = PATCH_TYPES.get(request.content_type)
        if patch_type is None:
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                           f"accepted media types include: {', '.join(PATCH_TYPES)}")
        warnings: list[str] = []
        body = await _body(request) if patch_type != "apply" else None
        obj = self.store.patch(t.res, t.version, t.namespace, _named(t), patch_type, body, t.subresource,
                               **_write_opts(request, warnings))
        return self._reply(request, t, obj, 200, warnings)

    async def delete(self, request: web.Request, t: Target) -> web.Response:
        options = await _body(request) if request.can_read_body else {}
        dry_run = request.query.get("dryRun") == "All"
        if t.name is None:
            items, rv = self.store.list(t.res, t.namespace, parse_label_selector(request.query.get("labelSelector")),
                                        parse_field_selector(request.query.get("fieldSelector")))
            deleted = [self.store.delete(t.res, t.namespace, o["metadata"]["name"], options, dry_run=dry_run)
                       for o in items]
            return respond({"kind": f"{t.res.kind}List", "apiVersion": t.res.api_version(t.version),
                            "metadata": {"resourceVersion": str(self.store.rv)}, "items": deleted})
        obj = self.store.delete(t.res, t.namespace, t.name, options, dry_run=dry_run)
        if t.res.crd_name and not obj["metadata"].get("deletionTimestamp"):
            # a custom resource deleted at once is answered with a Success Status, not the object (the CRD
            # handler's store does not set ReturnDeletedObject)
            details = {"name": t.name, "group": t.res.group, "kind": t.res.plural, "uid": obj["metadata"].get("uid")}
            return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "details": details})
        return self._reply(request, t, obj)

    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        query = request.query
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        try:
            watcher = self.store.watch(t.res, t.namespace, parse_label_selector(query.get("labelSelector")),
                                       parse_field_selector(query.get("fieldSelector")), query.get("resourceVersion"))
        except ApiError as exc:
            if exc.code != 410:
                raise
            # a too-old resourceVersion is reported in-stream, as the apiserver's watch cache does
            await resp.prepare(request)
            await resp.write(dumps({"type": "ERROR", "object": exc.status()}) + b"\n")
            return resp
        await resp.prepare(request)
        columns = tables.columns_for(t.res, t.version) if _wants_table(request) else None
        try:
            await self._stream(resp, watcher, t, columns, _include(request),
                               float(query.get("timeoutSeconds") or WATCH_DEFAULT_TIMEOUT))
        except (ConnectionError, asyncio.CancelledError):  # the client left (aiohttp: "Connection lost")
            pass
        finally:
            self.store.unwatch(watcher)
        return resp

    async def _stream(self, resp, watcher, t: Target, columns, include: str, timeout: float) -> None:
        """Write events as JSON lines until the timeout, the client leaving, or the server stopping (None)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        first = True
        while (remaining := deadline - loop.time()) > 0:
            try:
                events = [await asyncio.wait_for(watcher.queue.get(), remaining)]
            except TimeoutError:
                return
            while not watcher.queue.empty():
                events.append(watcher.queue.get_nowait())
            closing = None in events
            chunk = b""
            for kind, obj in events[:events.index(None)] if closing else events:
                obj = _as_version(obj, t)
                if columns is not None:  # Table watch events carry the column definitions only once
                    obj = tables.table([obj], columns, include, obj["metadata"]["resourceVersion"], headers=first)
                    first = False
                chunk += dumps({"type": kind, "object": obj}) + b"\n"
            if chunk:
                await resp.write(chunk)
            if closing:
                return

    def _reply(self, request, t: Target, obj: dict, status: int = 200, warnings=None) -> web.Response:
        obj = _as_version(obj, t)
        if _wants_table(request):
            obj = tables.table([obj], tables.columns_for(t.res, t.version), _include(request),
                               obj["metadata"].get("resourceVersion", ""))
        return respond(obj, status, warnings)


def _group(name: str, versions: list[str]) -> dict:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def _as_version(obj: dict, t: Target) -> dict:
    api_version = t.res.api_version(t.version)
    return obj if obj.get("apiVersion") == api_version else {**obj, "apiVersion": api_version}


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _include(request: web.Request) -> str:
    return request.query.get("includeObject", "Metadata")


def _named(t: Target) -> str:
    if t.name is None:
        raise ApiError(405, "MethodNotAllowed", "a name is required")
    return t.name


def _write_opts(request: web.Request, warnings: list) -> dict:
    validation = request.query.get("fieldValidation", "Warn")
    return {"dry_run": request.query.get("dryRun") == "All", "strict": validation == "Strict",
            "warnings": warnings if validation != "Ignore" else None,
            "manager": fields.manager_of(request.query.get("fieldManager"), request.headers.get("User-Agent"))}


async def _body(request: web.Request) -> dict | list:
    raw = await request.read()
    if not raw:
        return {}
    if request.content_type == "application/vnd.kubernetes.protobuf":
        from .protobuf import decode

        return decode(raw)
    try:
        return json.loads(raw)
    except ValueError:
        try:
            import yaml

            return yaml.safe_load(raw)
        except Exception:
            raise bad_request("the request body is neither JSON nor YAML") from None
