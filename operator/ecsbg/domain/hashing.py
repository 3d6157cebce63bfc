"""Stable hashes that make starting an attempt idempotent (docs/design.md "Attempts, hashes and idempotency").

`spec_hash` decides when a new attempt starts (the task definition content hash is domain.taskdefs'). It hashes
canonical JSON: sorted keys, no whitespace, integral floats written as integers (YAML `10` and
`10.0` are the same spec), and lists whose order carries no meaning sorted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

HASH_LENGTH = 16
NOT_DEPLOYED = frozenset({"requests", "onDelete", "driftPolicy", "notifications", "paused", "preflight", "autoScaling"})  # spec fields that never start an attempt

# Lists whose order means nothing to ECS, by path of keys from the spec root ("*" = every list element), with
# the key that identifies an element (None: the element itself). Container commands keep their order.
_UNORDERED: tuple[tuple[tuple[str, ...], str | None], ...] = (
    (("taskDefinition", "containers"), "name"),
    (("taskDefinition", "containers", "*", "environment"), "name"),
    (("loadBalancers",), "targetGroupArn"),
    (("serviceConnect", "testTrafficRules"), "portName"),
    (("lifecycleHooks", "*", "stages"), None),
    (("lifecycleHooks",), None),  # hooks at the same stage run in parallel: order is irrelevant
    (("alarms", "names"), None),
)


def canonical_json(value: Any) -> str:
    return json.dumps(_normalize_numbers(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:HASH_LENGTH]


def spec_hash(spec: Mapping[str, Any]) -> str:
    """Hash of the deploy-relevant spec: everything but `requests` (operations never start a deployment) and
    `onDelete` (what happens when the release is deleted; the CRD defaults it, so hashing it would redeploy every
    release the first time an upgraded CRD hands it over) and `driftPolicy` (what to do about drift is not something
    to deploy), `notifications` (who hears about it), `paused` (when, not what) and `preflight` and `autoScaling`
    (what happens around the start, not what it deploys)."""
    relevant = {key: value for key, value in spec.items() if key not in NOT_DEPLOYED}
    normalized = _normalize_numbers(relevant)
    for path, key in _UNORDERED:
        normalized = _sort_at(normalized, path, key)
    return digest(normalized)


def _normalize_numbers(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _normalize_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize_numbers(v) for v in value]
    return value


def _sort_at(node: Any, path: tuple[str, ...], key: str | None) -> Any:
    """Return `node` with the list found at `path` sorted (copying only along the path)."""
    if not path:
        if not isinstance(node, list):
            return node
        return sorted(node, key=lambda item: canonical_json(item.get(key) if key and isinstance(item, dict) else item))
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(node, list):
        return [_sort_at(item, rest, key) for item in node]
    if isinstance(node, dict) and head in node:
        return {**node, head: _sort_at(node[head], rest, key)}
    return node
