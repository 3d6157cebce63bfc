"""RecordingEvents: an ecsbg.k8s.events.EventSink that keeps what it was given, for reconciler tests.

It also renders each record with the real `event_body`, so a record the Kubernetes sink could not post (no
action, no reason) fails the test that produced it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ecsbg.k8s.events import event_body


class RecordingEvents:
    def __init__(self) -> None:
        self.records: list[Any] = []
        self.bodies: list[dict[str, Any]] = []

    def emit(self, body: Mapping[str, Any], records: Iterable[Any]) -> None:
        for record in records:
            self.bodies.append(event_body(body, record, instance="test", now=datetime.now(UTC)))
            self.records.append(record)

    def reasons(self) -> list[str]:
        return [r.reason for r in self.records]
