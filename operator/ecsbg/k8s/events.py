"""The Kubernetes Events seam. Events are emitted only on transitions (domain.status.transitions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class EventSink(Protocol):
    def emit(self, body: Mapping[str, Any], records: Iterable[Any]) -> None:
        """Each record has `type` ("Normal" | "Warning"), `reason` and `message`."""
        ...


class KopfEventSink:
    """Posts core/v1 Events through kopf's posting queue (works inside kopf handlers and daemons)."""

    def emit(self, body: Mapping[str, Any], records: Iterable[Any]) -> None:
        import kopf

        for record in records:
            kopf.event(body, type=record.type, reason=record.reason, message=record.message)
