"""kstatus's Compute() for a custom resource, re-implemented from kubernetes-sigs/cli-utils
pkg/kstatus/status/{status.go,generic.go} (../shared/reference/ecosystem.md 1a). Flux's health checks
(Kustomization healthChecks / wait) call exactly this for kinds it has no special rules for.
"""

from __future__ import annotations

from typing import Any

CURRENT, IN_PROGRESS, FAILED, TERMINATING = "Current", "InProgress", "Failed", "Terminating"


class KstatusError(ValueError):
    """Compute() returns an error (Flux reports the resource's health as failed to compute)."""


def _nested_int64(obj: dict[str, Any], *path: str) -> tuple[int | None, bool]:
    """unstructured.NestedInt64: a missing field is (None, False); a present non-integer is an error."""
    node: Any = obj
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None, False
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, int):
        raise KstatusError(
            f".{'.'.join(path)} accessor error: {node!r} is of the type {type(node).__name__}, expected int64"
        )
    return node, True


def compute(obj: dict[str, Any]) -> tuple[str, str]:
    """(status, reason) as kstatus computes them for a kind without type-specific rules."""
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return TERMINATING, "Resource scheduled for deletion"
    generation, has_generation = _nested_int64(obj, "metadata", "generation")
    if has_generation:
        observed, has_observed = _nested_int64(obj, "status", "observedGeneration")
        if has_observed and observed != generation:
            return IN_PROGRESS, "LatestGenerationNotObserved"
    conditions = (obj.get("status") or {}).get("conditions") or []
    for condition in conditions:  # the first Reconciling=True or Stalled=True wins, in list order
        if condition.get("type") == "Reconciling" and condition.get("status") == "True":
            return IN_PROGRESS, condition.get("reason", "")
        if condition.get("type") == "Stalled" and condition.get("status") == "True":
            return FAILED, condition.get("reason", "")
    for condition in conditions:
        if condition.get("type") == "Ready":
            if condition.get("status") == "True":
                return CURRENT, "Ready"
            return IN_PROGRESS, condition.get("reason", "")
    return CURRENT, "Resource is current"
