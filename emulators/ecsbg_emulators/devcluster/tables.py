"""Server-side printing: `meta.k8s.io/v1` Table responses built from a CRD's additionalPrinterColumns.

kubectl asks `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints whatever columns the server sends;
that is how `kubectl get <crd-kind>` shows printer columns on a real cluster (apiextensions-apiserver
tableconvertor). The JSONPath subset covers what printer columns use: `.a.b`, `[n]`, `[*]`, `[?(@.k=="v")]`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .resources import Resource

NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0, "jsonPath": ".metadata.name",
               "description": "Name must be unique within a namespace. Is required when creating resources, although "
               "some resources may allow a client to request the generation of an appropriate name automatically. "
               "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
               "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"}
AGE_COLUMN = {"name": "Age", "type": "date", "format": "", "priority": 0, "jsonPath": ".metadata.creationTimestamp",
              "description": "CreationTimestamp is a timestamp representing the server time when this object was created."}
# Built-in kinds whose kubectl columns users expect beyond NAME/AGE (the in-tree printers of kube-apiserver).
BUILTIN_COLUMNS = {
    ("", "namespaces"): [NAME_COLUMN, {"name": "Status", "type": "string", "jsonPath": ".status.phase"}, AGE_COLUMN],
    ("", "events"): [  # kubectl's LAST SEEN TYPE REASON OBJECT MESSAGE (pkg/printers/internalversion)
        {"name": "Last Seen", "type": "date", "jsonPath": ".lastTimestamp"},
        {"name": "Type", "type": "string", "jsonPath": ".type"},
        {"name": "Reason", "type": "string", "jsonPath": ".reason"},
        {"name": "Object", "type": "string", "compute": lambda o: "{}/{}".format(
            (o.get("involvedObject") or {}).get("kind", "").lower(), (o.get("involvedObject") or {}).get("name", ""))},
        {"name": "Message", "type": "string", "jsonPath": ".message"},
    ],
    ("", "configmaps"): [NAME_COLUMN, {"name": "Data", "type": "integer", "compute": lambda o: len(o.get("data") or {})
                                       + len(o.get("binaryData") or {})}, AGE_COLUMN],
}
_TOKEN = re.compile(r"\.([A-Za-z0-9_\-/]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]")


def jsonpath(obj: Any, expr: str) -> list[Any]:
    """All values the expression selects (an absent path selects nothing)."""
    expr = expr.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    expr = expr.lstrip("$")
    nodes = [obj]
    for match in _TOKEN.finditer(expr):
        key, index, filter_key, filter_value = match.groups()
        found = []
        for node in nodes:
            if key is not None and isinstance(node, dict) and key in node:
                found.append(node[key])
            elif index == "*" and isinstance(node, list):
                found.extend(node)
            elif index is not None and index != "*" and isinstance(node, list) and int(index) < len(node):
                found.append(node[int(index)])
            elif filter_key is not None and isinstance(node, list):
                found.extend(i for i in node if [str(v) for v in jsonpath(i, "." + filter_key)][:1] == [filter_value])
        nodes = found
    return nodes


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, which kubectl's AGE column uses."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y"


def _cell(values: list[Any], column: dict) -> Any:
    if not values:
        return None
    if column.get("type") == "date" and isinstance(values[0], str):
        try:
            created = datetime.strptime(values[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "<invalid>"
        return human_duration((datetime.now(UTC) - created).total_seconds())
    if len(values) == 1:
        value = values[0]
        return value if not isinstance(value, (dict, list)) else _text(value)
    return " ".join(_text(v) for v in values)


def _text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def columns_for(res: Resource, version: str) -> list[dict]:
    """Name, then the CRD's columns (Name and Age when it declares none), as apiextensions' tableconvertor does;
    a few built-in kinds get kubectl's usual columns."""
    if res.key in BUILTIN_COLUMNS:
        return BUILTIN_COLUMNS[res.key]
    return [NAME_COLUMN, *(res.columns.get(version) or [AGE_COLUMN])]


def definitions(columns: list[dict]) -> list[dict]:
    return [{"name": c["name"], "type": c.get("type", "string"), "format": c.get("format", ""),
             "description": c.get("description") or _crd_column_description(c), "priority": c.get("priority", 0)}
            for c in columns]


def _crd_column_description(column: dict) -> str:
    """kube-apiserver's text for a CRD printer column without a description (tableconvertor.New)."""
    return f"Custom resource definition column (in JSONPath format): {column['jsonPath']}" if "jsonPath" in column \
        else ""


def row(obj: dict, columns: list[dict], include: str) -> dict:
    cells = [c["compute"](obj) if "compute" in c else _cell(jsonpath(obj, c["jsonPath"]), c) for c in columns]
    result: dict = {"cells": cells}
    if include == "Object":
        result["object"] = obj
    elif include != "None":
        result["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                            "metadata": obj.get("metadata", {})}
    return result


def table(objs: list[dict], columns: list[dict], include: str, resource_version: str, headers: bool = True) -> dict:
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": definitions(columns) if headers else [],
            "rows": [row(o, columns, include) for o in objs]}
