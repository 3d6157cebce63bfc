"""The Kubernetes Events seam. Events are emitted only on transitions (domain.events.transitions).

`KubeEventSink` posts core/v1 Events itself, through the official `kubernetes` client the status writer uses, so
each Event says who made it (`source.component` and `reportingComponent` `ecsbg-operator`, the "From" of
`kubectl describe`) and what was done (`action`, from domain.events.ACTIONS) instead of kopf's `kopf` and
`Action?`. kopf's own posting is switched off (handlers.configure_kopf). Posting never blocks or fails a
reconcile: Events go out in order from one worker thread, and a refused one is logged.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socket
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from ecsbg.domain import shape

logger = logging.getLogger(__name__)

COMPONENT = "ecsbg-operator"
MAX_MESSAGE = 1024  # what kopf and client-go keep; events.k8s.io's note is limited to 1 kB


class EventSink(Protocol):
    def emit(self, body: Mapping[str, Any], records: Iterable[Any]) -> None:
        """Each record has `type` ("Normal" | "Warning"), `reason`, `message` and `action`."""
        ...


def event_body(obj: Mapping[str, Any], record: Any, *, instance: str, now: datetime) -> dict[str, Any]:
    """A core/v1 Event about `obj` (a release body) for one EventRecord."""
    meta = shape.child(obj, "metadata")  # any JSON may arrive (a body that bypassed the schema): domain.shape
    message = str(record.message)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"generateName": f"{meta.get('name', 'release')}.", "namespace": meta.get("namespace")},
        "involvedObject": {key: value for key, value in {
            "apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta.get("name"),
            "namespace": meta.get("namespace"), "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion")}.items() if value},
        "type": record.type,
        "reason": record.reason,
        "message": message,
        "action": getattr(record, "action", None) or "Reconcile",
        "source": {"component": COMPONENT, "host": instance},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class KubeEventSink:
    """Posts core/v1 Events with the `kubernetes` client (sync, on one worker thread, in emission order)."""

    def __init__(self, api: Any = None, instance: str | None = None, timeout: float = 30.0) -> None:
        if api is None:
            from kubernetes import client, config

            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            api = client.CoreV1Api()
        self._api = api
        self._timeout = timeout  # seconds per request: a half-open connection must not hold Events forever
        self.instance = instance or os.environ.get("POD_NAME") or socket.gethostname()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecsbg-events")

    def emit(self, body: Mapping[str, Any], records: Iterable[Any]) -> None:
        events = [event_body(body, r, instance=self.instance, now=datetime.now(UTC)) for r in records]
        if events:
            self._executor.submit(self._post, events)

    def _post(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            try:
                self._api.create_namespaced_event(event["metadata"]["namespace"], event,
                                                  _request_timeout=self._timeout)
            except Exception as exc:  # Events are auxiliary: never fail a reconcile for one
                logger.warning("could not post Event %s about %s/%s: %s", event["reason"],
                               event["metadata"]["namespace"], event["involvedObject"].get("name"), exc)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)
