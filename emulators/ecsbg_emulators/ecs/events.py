"""ECS service deployment events, as an EventBridge rule with an SQS target would deliver them (`--events-queue`).

ECS emits "ECS Deployment State Change" events for service deployments ([doc: Amazon ECS service deployment state
change events]): `source: aws.ecs`, `resources: [service ARN]`, `detail.eventName` SERVICE_DEPLOYMENT_IN_PROGRESS
(a deployment or its rollback started), SERVICE_DEPLOYMENT_COMPLETED, SERVICE_DEPLOYMENT_FAILED (`eventType`
ERROR), and `detail.deploymentId` the legacy `ecs-svc/...` id. An EventBridge rule with an SQS target puts the
event JSON itself in the message body ([doc: Amazon EventBridge targets]). The emulator sends one message per
status change of that list to the queue (SendMessage in SQS's query protocol, ecs.query) from its own thread, so
a slow queue never holds up the state machine (ECS's deployment does not wait for EventBridge either); a failing
send is logged and dropped, as EventBridge delivery is at least once, not guaranteed in order.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from typing import Any

from . import query

# deployment status -> (eventName, eventType)
EVENTS = {
    "IN_PROGRESS": ("SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO"),
    "ROLLBACK_IN_PROGRESS": ("SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO"),
    "SUCCESSFUL": ("SERVICE_DEPLOYMENT_COMPLETED", "INFO"),
    "ROLLBACK_SUCCESSFUL": ("SERVICE_DEPLOYMENT_FAILED", "ERROR"),
    "ROLLBACK_FAILED": ("SERVICE_DEPLOYMENT_FAILED", "ERROR"),
}


def body(dep: Any, status: str) -> str | None:
    """The event JSON for a deployment that just reached `status`, or None when ECS emits none for it."""
    found = EVENTS.get(status)
    if found is None:
        return None
    service = dep.service
    region, account = service.arn.split(":")[3:5]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps({
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
        "account": account, "time": now, "region": region, "resources": [service.arn],
        "detail": {"eventType": found[1], "eventName": found[0], "deploymentId": dep.target.legacy_id,
                   "updatedAt": now, "reason": dep.status_reason or f"ECS deployment {dep.target.legacy_id} {status}.",
                   "clusterArn": service.cluster.arn}})


log = logging.getLogger(__name__)


class SqsSink:
    def __init__(self, queue_url: str, timeout: float = 5.0) -> None:
        self.queue_url = queue_url
        self.timeout = timeout
        self._pending: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._deliver, name="ecs-events", daemon=True)
        self._thread.start()

    def send(self, message: str) -> None:
        """Queue the message for delivery (called under the emulator's state lock: it must not wait)."""
        self._pending.put(message)

    def _deliver(self) -> None:
        while True:
            message = self._pending.get()
            params = {"Action": "SendMessage", "Version": "2012-11-05", "QueueUrl": self.queue_url,
                      "MessageBody": message}
            try:
                query.post(self.queue_url, params, region=_region(self.queue_url), service="sqs",
                           timeout=self.timeout)
            except Exception as exc:  # the queue is gone or slow: the event is lost, as EventBridge may lose one
                log.warning("sending an ECS event to %s failed: %s", self.queue_url, exc)


def _region(url: str) -> str:
    host = url.split("//", 1)[-1].split("/", 1)[0].split(".")
    return host[1] if len(host) >= 3 and host[0] == "sqs" else "us-east-1"
