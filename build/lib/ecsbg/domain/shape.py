"""Defensive reads of a CR body as the Kubernetes API hands it over.

The API server validates against the CRD schema, but a body can still bypass it (an older CRD, a direct etcd
write, a proxy): `spec: "hello"`, `spec.target: [...]`, `metadata.generation: "two"`. Every code path that reads
the raw body outside domain.parsing goes through these, so bad input yields an Invalid status, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EMPTY: Mapping[str, Any] = {}


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else EMPTY


def child(body: Any, *path: str) -> Mapping[str, Any]:
    """The object at `path` (e.g. "spec", "target"), empty when any step is missing or not an object."""
    node = mapping(body)
    for key in path:
        node = mapping(node.get(key))
    return node


def text(value: Any) -> str:
    """A JSON string as is; anything else (numbers, lists, objects, null) as empty."""
    return value if isinstance(value, str) else ""


def integer(value: Any, default: int) -> int:
    """A JSON integer (not a bool), else `default`."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default
