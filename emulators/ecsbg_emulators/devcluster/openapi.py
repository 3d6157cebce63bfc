"""A minimal OpenAPI v3 surface, enough for kubectl's default `--validate=strict`.

kubectl (1.27+) first asks `/openapi/v3` whether the server supports the `fieldValidation` query parameter for a
kind (k8s.io/cli-runtime resource.QueryParamVerifierV3: a PATCH operation tagged with the kind's
`x-kubernetes-group-version-kind` that lists the parameter). If so, it leaves validation to the server and sends
`fieldValidation=Strict`, which the store answers like the apiserver (unknown fields -> 400 "strict decoding error").
Without this document kubectl falls back to client-side validation, which needs the protobuf OpenAPI v2 we don't
serve. The request body lists no strategic-merge content type, so `kubectl apply` uses JSON merge patches, as it
does for custom resources on a real cluster. The CRD schemas are published under components for `kubectl explain`.
"""

from __future__ import annotations

from .resources import Registry, Resource


def _prefix(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def root(registry: Registry) -> dict:
    paths = {}
    for group, versions in registry.groups().items():
        for version in versions:
            prefix = _prefix(group, version)
            paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={len(registry.all())}"}
    return {"paths": paths}


def _schema_name(res: Resource, version: str) -> str:
    reversed_group = ".".join(reversed(res.group.split("."))) if res.group else "io.k8s.api.core"
    return f"{reversed_group}.{version}.{res.kind}"


def _patch_operation(res: Resource, version: str) -> dict:
    body = {"schema": {"type": "object"}}
    return {
        "operationId": f"patch{res.kind}",
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": res.group, "version": version, "kind": res.kind},
        "parameters": [{"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                       for name in ("dryRun", "fieldManager", "fieldValidation", "force")],
        "requestBody": {"content": {"application/merge-patch+json": body, "application/json-patch+json": body,
                                    "application/apply-patch+yaml": body}},
        "responses": {"200": {"description": "OK", "content": {"application/json": body}}},
    }


def group_version(registry: Registry, group: str, version: str) -> dict | None:
    found = registry.in_group_version(group, version)
    if not found:
        return None
    paths, schemas = {}, {}
    for res in found:
        scope = "namespaces/{namespace}/" if res.namespaced else ""
        paths[f"/{_prefix(group, version)}/{scope}{res.plural}/{{name}}"] = {"patch": _patch_operation(res, version)}
        schema = dict(res.schemas.get(version) or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
        schema["x-kubernetes-group-version-kind"] = [{"group": res.group, "version": version, "kind": res.kind}]
        schemas[_schema_name(res, version)] = schema
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
            "components": {"schemas": schemas}}
