"""Whether an approve / reject / abort / retry request applies to a release now (docs/design.md "Operations").

The operator ignores a request that names another attempt (one StaleRequest Event) and one that cannot act;
the plugin refuses both up front with a message, so a person learns at once why nothing will happen instead of
finding a Warning Event later. The check is pure: the CLI passes the object it just read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecsbg.domain.model import RequestKind

ANNOTATION_PREFIX = "ecsbg.dev/"
ABORTABLE = ("Pending", "Deploying", "AwaitingApproval", "Baking")
RETRYABLE = ("RolledBack", "Failed")


@dataclass(frozen=True)
class Decision:
    ok: bool
    attempt: int
    message: str
    annotation: str
    already: bool = False  # the annotation already names this attempt: nothing to write


def annotation_of(kind: RequestKind) -> str:
    return ANNOTATION_PREFIX + kind.value


def decide(kind: RequestKind, release: Mapping[str, Any], attempt: int | None = None) -> Decision:
    meta, status = release.get("metadata") or {}, release.get("status") or {}
    current = status.get("attempt") or 0
    name, key = meta.get("name"), annotation_of(kind)
    refuse = _refusal(kind, status, current, attempt)
    if refuse:
        return Decision(
            False, attempt if attempt is not None else current, f"cannot {kind.value} {name}: {refuse}", key
        )
    if str((meta.get("annotations") or {}).get(key)) == str(current):
        return Decision(True, current, f"{key} already names attempt {current} of {name}: nothing to do", key,
                        already=True)  # fmt: skip
    return Decision(
        True, current, f"{kind.value} requested for attempt {current} of {name} ({key}={current})", key
    )


def _refusal(kind: RequestKind, status: Mapping[str, Any], current: int, attempt: int | None) -> str | None:
    phase = status.get("phase") or "not reconciled yet"
    if current == 0:
        return "the operator has not started an attempt yet"
    if attempt is not None and attempt != current:
        return (f"attempt {attempt} is not the current attempt ({current}); the operator would ignore the "
                "request as stale")  # fmt: skip
    if kind in (RequestKind.APPROVE, RequestKind.REJECT):
        waiting = [h for h in status.get("hooks") or [] if h.get("status") == "AWAITING_ACTION"]
        if not waiting:
            return f"no lifecycle hook of attempt {current} is awaiting approval (phase {phase})"
    elif kind is RequestKind.ABORT and phase not in ABORTABLE:
        return f"abort applies while the release is {', '.join(ABORTABLE)}; it is {phase}"
    elif kind is RequestKind.RETRY and phase not in RETRYABLE and not status.get("drift"):
        return f"retry applies after the attempt ended RolledBack or Failed, or drifted; it is {phase}"
    return None
