"""metadata.managedFields: which field manager set which fields ("Server-Side Apply", kubernetes.io
docs/reference/using-api/server-side-apply, sections "Field management" and "Using Update operations").

What is emulated, for Update operations (create, update, patch; server-side apply is not emulated):
- the manager is the request's `fieldManager` query parameter, else the User-Agent up to its first "/"
  (apiserver's default: "kubectl-annotate", "kopf", "OpenAPI-Generator");
- one entry per (manager, operation, subresource) with `apiVersion`, `time`, `fieldsType: FieldsV1` and the
  fields it set in `fieldsV1` (`f:<name>` keys; a list is owned whole, where the apiserver would key items);
- a field set by one manager is taken from every other manager's entry ("Update operations ... take ownership
  of the changed fields"), and an entry left owning nothing is dropped;
- a write that changes nothing stores nothing (as before), so no entry moves.
"""

from __future__ import annotations

from typing import Any

from .patching import clone

# Set by the server, never by a manager: not tracked.
_BOOKKEEPING = {"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink",
                "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name"}


def manager_of(field_manager: str | None, user_agent: str | None) -> str:
    if field_manager:
        return field_manager[:128]
    return (user_agent or "unknown").split("/", 1)[0][:128] or "unknown"


def track(new: dict, old: dict | None, *, manager: str, subresource: str | None, when: str) -> None:
    """Record in new's managedFields that `manager` set every field that differs from `old`."""
    meta = new.setdefault("metadata", {})
    entries = [clone(e) for e in ((old or {}).get("metadata", {}).get("managedFields") or [])]
    changed = _tree(_changed(_content(new), _content(old or {})))
    if not changed:
        meta["managedFields"] = entries
        if not entries:
            meta.pop("managedFields", None)
        return
    kept = []
    for entry in entries:
        if entry.get("operation") == "Update":
            entry["fieldsV1"] = _without(entry.get("fieldsV1") or {}, changed)
        if entry.get("fieldsV1"):
            kept.append(entry)
    mine = next((e for e in kept if (e.get("manager"), e.get("operation"), e.get("subresource"))
                 == (manager, "Update", subresource)), None)
    if mine is None:
        mine = {"manager": manager, "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {}}
        if subresource:
            mine["subresource"] = subresource
        kept.append(mine)
    mine.update(apiVersion=new.get("apiVersion"), time=when, fieldsV1=_union(mine.get("fieldsV1") or {}, changed))
    meta["managedFields"] = kept


def _content(obj: dict) -> dict:
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _BOOKKEEPING}
    if meta:
        out["metadata"] = meta
    return out


def _changed(new: Any, old: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Leaf paths set in `new` with another value than in `old` (objects are walked, lists are leaves)."""
    if isinstance(new, dict) and new:
        base = old if isinstance(old, dict) else {}
        return [p for key, value in new.items() for p in _changed(value, base.get(key), (*path, key))]
    return [path] if path and new != old else []


def _tree(paths: list[tuple[str, ...]]) -> dict:
    root: dict = {}
    for path in paths:
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


def _union(a: dict, b: dict) -> dict:
    out = clone(a)
    for key, value in b.items():
        out[key] = _union(out.get(key) or {}, value) if value else out.get(key, {})
    return out


def _without(owned: dict, taken: dict) -> dict:
    out = {}
    for key, value in owned.items():
        if key not in taken:
            out[key] = value
        elif taken[key] and value:  # part of the subtree was taken
            rest = _without(value, taken[key])
            if rest:
                out[key] = rest
    return out
