"""Event-driven updates: ECS events from an SQS queue (EventBridge rule -> SQS) wake the releases they name.

Optional (ECSBG_EVENTS_QUEUE_URL): without it, or while the queue cannot be read, the operator polls as before.
One long-polling consumer thread (ReceiveMessage, WaitTimeSeconds 20, 10 messages) hands the services each event
names (domain.ecsevents) to `wake`, and deletes what it has handed over (DeleteMessageBatch): an event only makes
a release observe ECS at once, so a lost or repeated one costs a poll, never a wrong status.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ecsbg.aws.calls import AwsCalls, AwsError
from ecsbg.domain.ecsevents import ServiceKey, services_of

logger = logging.getLogger(__name__)

WAIT_SECONDS = 20  # SQS long polling: at most 20 s [doc: Amazon SQS short and long polling]
BATCH = 10  # ReceiveMessage MaxNumberOfMessages: 1-10


class EventConsumer:
    def __init__(self, sqs: AwsCalls, queue_url: str, wake: Callable[[ServiceKey], int],
                 wait_seconds: int = WAIT_SECONDS, error_pause: float = 5.0,
                 record: Callable[[str], None] = lambda result: None) -> None:
        """`wake(key)` wakes the releases of a service and returns how many it woke; `record(result)` counts each
        event (woke, unmatched, ignored: the ecsbg_ecs_events_total metric)."""
        self._sqs, self._url, self._wake, self._record = sqs, queue_url, wake, record
        self._wait, self._pause = wait_seconds, error_pause
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecsbg-events", daemon=True)
        self.received = self.woken = self.ignored = 0
        self._clock = time.monotonic
        self._read_at: float | None = None  # the last ReceiveMessage that answered

    def flowing(self) -> bool:
        """The queue answered within the last two long polls: events would reach the releases."""
        return self._read_at is not None and self._clock() - self._read_at < 2 * self._wait + 5

    def start(self) -> EventConsumer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except AwsError as exc:  # the queue is unreachable or denied: polling carries on meanwhile
                logger.warning("reading ECS events from %s failed: %s", self._url, exc)
                self._stop.wait(self._pause)

    def poll_once(self) -> None:
        answer = self._sqs.call("ReceiveMessage", QueueUrl=self._url, MaxNumberOfMessages=BATCH,
                                WaitTimeSeconds=self._wait)
        self._read_at = self._clock()
        messages = answer.get("Messages") or []
        for message in messages:
            self.received += 1
            keys = services_of(message.get("Body", ""))
            if keys is None:
                self.ignored += 1
                self._record("ignored")
                logger.info("ignored a message on %s that is no ECS event (id %s)", self._url, message.get("MessageId"))
                continue
            woken = sum(self._wake(key) for key in keys)
            self.woken += woken
            self._record("woke" if woken else "unmatched")
        if messages:
            self._sqs.call("DeleteMessageBatch", QueueUrl=self._url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
