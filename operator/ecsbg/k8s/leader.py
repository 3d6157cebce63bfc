"""Active/standby replicas: a coordination.k8s.io Lease decides which one runs the operator.

Only the holder runs kopf, so a standby makes no AWS call and no Kubernetes write but renewing its view of the
Lease; it answers its liveness probe meanwhile. The rules are client-go's leader election
(k8s.io/client-go/tools/leaderelection), kept small:

- a candidate takes the Lease when it is free or when the record has not changed for `lease_seconds` of the
  candidate's own clock since it first saw that record (timestamps of another machine are never compared to ours);
  every write carries the resourceVersion it read, so two candidates cannot both win (409 Conflict for the loser);
- the holder renews every `retry_seconds`; when it has not renewed for `renew_deadline_seconds` it stops the
  operator and, if that has not finished within the rest of the lease, exits the process: it has stopped acting
  before any standby may take over (`renew_deadline_seconds` < `lease_seconds`);
- a holder shutting down (SIGTERM) gives the Lease up, so the standby takes over at its next try instead of
  after a whole lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ecsbg.k8s.client import api_client
from ecsbg.k8s.rest import ApiError, RestClient, custom_path
from ecsbg.settings import LeaseSettings

logger = logging.getLogger(__name__)


def default_identity() -> str:
    """The pod name (HOSTNAME) plus a random suffix: a restarted container is a new candidate."""
    return f"{os.environ.get('HOSTNAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KubeLeases:
    """The three Lease calls over k8s.rest. Each request is bounded by the renew deadline: a holder whose renewal
    hangs must still notice in time that it has to stop."""

    def __init__(self, settings: LeaseSettings, api: RestClient | None = None) -> None:
        self._api = api or api_client(settings.renew_deadline_seconds)

    def read(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(self._api.get(_lease_path(namespace, name)))

    def create(self, namespace: str, body: dict[str, Any]) -> None:
        self._api.post(_lease_path(namespace), body)

    def replace(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        self._api.put(_lease_path(namespace, name), body)


def _lease_path(namespace: str, name: str | None = None) -> str:
    return custom_path("coordination.k8s.io", "v1", "leases", namespace, name)


class LeaderElector:
    """`api`: KubeLeases (tests: an in-memory store with the API server's optimistic concurrency); `clock` a
    monotonic clock (tests pass their own). A Lease is its JSON form, as the API server sends it."""

    def __init__(self, api: Any, settings: LeaseSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._api = api
        self.settings = settings
        self.identity = settings.identity or default_identity()
        self._clock = clock
        self._seen: tuple[Any, float] | None = None  # (holder, renewTime) of the record last read, and when
        self.renewed_at: float | None = None

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this candidate holds the Lease afterwards."""
        s = self.settings
        try:
            lease = self._api.read(s.namespace, s.name)
        except ApiError as exc:
            if exc.status != 404:
                raise
            return self._create()
        spec = lease.setdefault("spec", {})
        holder = spec.get("holderIdentity")
        record = (holder, spec.get("renewTime"))
        now = self._clock()
        if self._seen is None or self._seen[0] != record:
            self._seen = (record, now)
        held_by_other = holder not in (None, "", self.identity)
        if held_by_other and now - self._seen[1] < (spec.get("leaseDurationSeconds") or s.lease_seconds):
            return False
        if holder != self.identity:
            spec["acquireTime"] = _now()
            spec["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
        spec["holderIdentity"], spec["renewTime"] = self.identity, _now()
        spec["leaseDurationSeconds"] = int(s.lease_seconds)
        try:
            self._api.replace(s.namespace, s.name, lease)  # carries the metadata.resourceVersion read
        except ApiError as exc:
            if exc.status == 409:  # another candidate wrote first
                return False
            raise
        self.renewed_at = self._clock()
        return True

    def _create(self) -> bool:
        s = self.settings
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": s.name, "namespace": s.namespace},
                "spec": {"holderIdentity": self.identity, "acquireTime": _now(), "renewTime": _now(),
                         "leaseDurationSeconds": int(s.lease_seconds), "leaseTransitions": 0}}
        try:
            self._api.create(s.namespace, body)
        except ApiError as exc:
            if exc.status == 409:
                return False
            raise
        self.renewed_at = self._clock()
        return True

    def acquire(self, stop: threading.Event) -> bool:
        """Block until this candidate holds the Lease (True) or `stop` is set (False)."""
        while not stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    logger.info("leader election: %s holds lease %s/%s", self.identity, self.settings.namespace,
                                self.settings.name)
                    return True
            except Exception as exc:  # the API unreachable: a standby just keeps trying
                logger.warning("leader election: reading lease %s failed: %s", self.settings.name, exc)
            stop.wait(self.settings.retry_seconds)
        return False

    def keep(self, stop: threading.Event, on_lost: Callable[[], None]) -> None:
        """Renew until `stop` is set; call `on_lost` once the renew deadline passed without a renewal."""
        s = self.settings
        while not stop.wait(s.retry_seconds):
            try:
                if self.try_acquire_or_renew():
                    continue
                logger.error("leader election: lease %s was taken by another candidate", s.name)
            except Exception as exc:
                logger.warning("leader election: renewing lease %s failed: %s", s.name, exc)
            if self.renewed_at is None or self._clock() - self.renewed_at >= s.renew_deadline_seconds:
                on_lost()
                return

    def release(self) -> None:
        """Give the Lease up (graceful shutdown): the standby takes over at its next try."""
        s = self.settings
        try:
            lease = self._api.read(s.namespace, s.name)
            spec = lease.setdefault("spec", {})
            if spec.get("holderIdentity") != self.identity:
                return
            spec["holderIdentity"], spec["leaseDurationSeconds"] = None, 1
            self._api.replace(s.namespace, s.name, lease)
            logger.info("leader election: lease %s released", self.settings.name)
        except Exception as exc:  # the standby takes over after the lease anyway
            logger.warning("leader election: releasing lease %s failed: %s", self.settings.name, exc)


class StandbyProbe:
    """/healthz answering 200 while a standby waits (kopf's own probe starts only with the operator)."""

    def __init__(self, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(200 if self.path.startswith("/healthz") else 404)
                self.end_headers()
                self.wfile.write(b"standby\n")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ecsbg-standby-probe", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
