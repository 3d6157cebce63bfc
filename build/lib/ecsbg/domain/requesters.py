"""Who asked: the field manager that set each request, from the object's metadata.managedFields.

Kubernetes records, per field manager and operation, which fields it set (server-side field tracking): `kubectl
annotate` is the manager `kubectl-annotate`, Argo CD `argocd-controller`, Flux `kustomize-controller`, a client
with `--field-manager=alice` is `alice`. The API keeps no user name on the object (that is the audit log's), so
the manager is the best the Kubernetes API tells: Events about a request name it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecsbg.domain.model import RequestKind

ANNOTATION_PREFIX = "ecsbg.dev/"


def requesters(metadata: Mapping[str, Any]) -> dict[str, str]:
    """request kind -> "<manager>" of the newest managedFields entry owning its annotation or spec field."""
    entries = [e for e in metadata.get("managedFields") or [] if isinstance(e, Mapping)]
    found: dict[str, str] = {}
    for kind in RequestKind:
        paths = (("f:metadata", "f:annotations", f"f:{ANNOTATION_PREFIX}{kind.value}"),
                 ("f:spec", "f:requests", f"f:{kind.value}"))
        owners = [e for e in entries if any(_owns(e.get("fieldsV1"), path) for path in paths)]
        if owners:
            newest = max(owners, key=lambda e: str(e.get("time") or ""))
            manager = str(newest.get("manager") or "unknown manager")
            operation = newest.get("operation")
            found[kind.value] = f"{manager} ({operation})" if operation == "Apply" else manager
    return found


def _owns(fields: Any, path: tuple[str, ...]) -> bool:
    node = fields
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True
