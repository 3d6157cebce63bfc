"""The Kubernetes Events seam. Events are emitted only on transitions (domain.events.transitions).

`KubeEventSink` posts core/v1 Events itself, through the client the status writer uses (k8s.rest), so
each Event says who made it (`source.component` and `reportingComponent` `ecsbg-operator`, the "From" of
`kubectl describe`) and what was done (`action`, from domain.events.ACTIONS) instead of kopf's `kopf` and
`Action?`. kopf's own posting is switched off (handlers.configure_kopf). Posting never blocks or fails a
reconcile: Events go out from a few worker threads, each release's in emission order (a release always maps to
the same worker), and a refused one is logged.

The backlog is bounded. Releases can emit Events faster than an API server accepts them (the 30-minute soak,
bench/soak.py, emitted about 80 a second while a loaded API took about 11, and an API outage stops posting
altogether); an unbounded queue then grew the operator by about 8 MiB a minute. Beyond `backlog` waiting Events
the oldest waiting one of that worker is dropped: Events are auxiliary (status is the record), a drop is counted
(`ecsbg_events_dropped_total`) and logged once per minute with the count.
"""

from __future__ import annotations

import collections
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from ecsbg.domain import shape
from ecsbg.k8s.rest import core_path

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
    """Posts core/v1 Events with k8s.rest (sync, on `workers` threads, in order per release). `api`: a
    k8s.rest.RestClient (tests: anything with its `post`)."""

    def __init__(self, api: Any = None, instance: str | None = None, timeout: float = 30.0, *, workers: int = 4,
                 backlog: int = 2000, on_drop: Callable[[int], None] | None = None) -> None:
        if api is None:
            from ecsbg.k8s.client import api_client

            api = api_client(timeout)
        self._api = api
        self._timeout = timeout  # seconds per request: a half-open connection must not hold Events forever
        self.instance = instance or os.environ.get("POD_NAME") or socket.gethostname()
        self._backlog, self._on_drop = max(backlog, 1), on_drop
        self._queues: list[collections.deque[dict[str, Any]]] = [collections.deque() for _ in range(max(workers, 1))]
        self._cond = threading.Condition()
        self._waiting = self._busy = 0
        self._dropped = 0  # since the last log line
        self._logged = 0.0
        self._closed = False
        self._threads = [threading.Thread(target=self._work, args=(q,), daemon=True, name=f"ecsbg-events-{i}")
                         for i, q in enumerate(self._queues)]
        for thread in self._threads:
            thread.start()

    @property
    def waiting(self) -> int:
        return self._waiting

    def emit(self, body: Mapping[str, Any], records: Iterable[Any]) -> None:
        events = [event_body(body, r, instance=self.instance, now=datetime.now(UTC)) for r in records]
        if not events:
            return
        meta = shape.child(body, "metadata")
        queue = self._queues[hash((meta.get("namespace"), meta.get("name"))) % len(self._queues)]
        dropped = 0
        with self._cond:
            if self._closed:
                return
            for event in events:
                if self._waiting >= self._backlog:
                    if queue:
                        queue.popleft()  # the oldest of this worker: a newer Event says more about now
                        self._waiting -= 1
                    else:  # every waiting Event belongs to other workers: this one goes
                        dropped += 1
                        continue
                    dropped += 1
                queue.append(event)
                self._waiting += 1
            self._cond.notify_all()
        if dropped:
            self._count_dropped(dropped)

    def _count_dropped(self, count: int) -> None:
        if self._on_drop is not None:
            self._on_drop(count)
        with self._cond:
            self._dropped += count
            now = time.monotonic()
            if now - self._logged < 60.0:
                return
            dropped, self._dropped, self._logged = self._dropped, 0, now
        logger.warning("dropped %d Kubernetes Events: more than %d were waiting to be posted (the API server is "
                       "slow or unreachable); status still records every transition", dropped, self._backlog)

    def _work(self, queue: collections.deque[dict[str, Any]]) -> None:
        while True:
            with self._cond:
                while not queue and not self._closed:
                    self._cond.wait()
                if not queue:
                    return  # closed and drained
                event = queue.popleft()
                self._waiting -= 1
                self._busy += 1
            try:
                self._post(event)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _post(self, event: dict[str, Any]) -> None:
        try:
            self._api.post(core_path("events", event["metadata"]["namespace"]), event, timeout=self._timeout,
                           decode=False)
        except Exception as exc:  # Events are auxiliary: never fail a reconcile for one
            logger.warning("could not post Event %s about %s/%s: %s", event["reason"],
                           event["metadata"]["namespace"], event["involvedObject"].get("name"), exc)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is waiting or being posted (tests; True when drained)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Post what is waiting, then stop the workers."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=max(self._timeout, 1.0) * 2)
