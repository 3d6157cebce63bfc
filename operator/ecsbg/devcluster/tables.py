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

NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
               "description": "Name must be unique within a namespace."}
AGE_COLUMN = {"name": "Age", "type": "date", "format": "", "priority": 0, "jsonPath": ".metadata.creationTimestamp",
              "description": "CreationTimestamp is a timestamp representing the server time when this object was created."}
# Built-in kinds whose kubectl columns users expect beyond NAME/AGE (the in-tree printers of kube-apiserver).
BUILTIN_COLUMNS = {
    ("", "namespaces"): [{"name": "Status", "type": "string", "jsonPath": ".status.phase"}],
    ("", "events"): [
        {"name": "Type", "type": "string", "jsonPath": ".type"},
        {"name": "Reason", "type": "string", "jsonPath": ".reason"},
        {"name": "Object", "type": "string", "jsonPath": ".involvedObject.name"},
        {"name": "Message", "type": "string", "jsonPath": ".message"},
    ],
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
    """Name first, then the CRD's columns (Age only when the CRD declares none), as the tableconvertor does."""
    custom = res.columns.get(version) or BUILTIN_COLUMNS.get(res.key, [])
    extra = custom if res.crd_name and custom else [*custom, AGE_COLUMN]
    return [NAME_COLUMN, *extra]


def definitions(columns: list[dict]) -> list[dict]:
    return [{"name": c["name"], "type": c.get("type", "string"), "format": c.get("format", ""),
             "description": c.get("description", ""), "priority": c.get("priority", 0)} for c in columns]


def row(obj: dict, columns: list[dict], include: str) -> dict:
    cells = [obj.get("metadata", {}).get("name")]
    cells.extend(_cell(jsonpath(obj, c["jsonPath"]), c) for c in columns[1:])
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
