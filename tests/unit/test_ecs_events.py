"""ECS events from SQS (domain.ecsevents, ecsbg.aws.events, ecsbg.wakeups): which services an event names, what
the consumer wakes and deletes, and that a release loop is woken on its own event loop from another thread."""

from __future__ import annotations

import asyncio
import threading

from ecsbg.aws.events import EventConsumer
from ecsbg.domain.ecsevents import event, service_key, services_of
from ecsbg.wakeups import Wakers

SERVICE = "arn:aws:ecs:eu-west-1:111122223333:service/prod/web"


def test_services_an_event_names():
    assert services_of(event(SERVICE)) == (("eu-west-1", "prod", "web"),)
    assert services_of('{"source": "aws.ec2", "resources": []}') is None
    assert services_of("not json") is None and services_of("[1]") is None
    assert services_of('{"source": "aws.ecs", "resources": ["arn:aws:ecs:eu-west-1:1:task/prod/abc", 7]}') == ()
    assert service_key("arn:aws:ecs:eu-west-1:111122223333:service/web") is None  # old format: no cluster


class Sqs:
    def __init__(self, bodies: list[str]) -> None:
        self.bodies, self.deleted = bodies, []

    def call(self, operation: str, **params):
        if operation == "ReceiveMessage":
            messages = [{"MessageId": str(i), "ReceiptHandle": f"r{i}", "Body": b} for i, b in enumerate(self.bodies)]
            self.bodies = []
            return {"Messages": messages}
        self.deleted += [e["ReceiptHandle"] for e in params["Entries"]]
        return {}


def test_the_consumer_wakes_what_events_name_and_deletes_everything_it_read():
    woken: list[tuple[str, str, str]] = []
    sqs = Sqs([event(SERVICE), "garbage", event(SERVICE.replace("/web", "/api"))])
    counted: list[str] = []
    consumer = EventConsumer(sqs, "q", lambda key: woken.append(key) or int(key[2] == "web"), record=counted.append)
    consumer.poll_once()
    assert woken == [("eu-west-1", "prod", "web"), ("eu-west-1", "prod", "api")]
    assert (consumer.received, consumer.woken, consumer.ignored) == (3, 1, 1)
    assert counted == ["woke", "ignored", "unmatched"]
    assert sqs.deleted == ["r0", "r1", "r2"]


async def test_wakers_wake_the_loops_of_a_service_from_another_thread():
    wakers, owner, other = Wakers(), object(), object()
    mine, theirs = asyncio.Event(), asyncio.Event()
    wakers.register(owner, ("eu-west-1", "prod", "web"), mine)
    wakers.register(other, ("eu-west-1", "prod", "api"), theirs)
    woke = []
    thread = threading.Thread(target=lambda: woke.append(wakers.wake(("eu-west-1", "prod", "web"))))
    thread.start()
    thread.join()
    await asyncio.wait_for(mine.wait(), 1.0)
    assert woke == [1] and not theirs.is_set()
    wakers.register(owner, ("eu-west-1", "prod", "api"), mine)  # the release's target changed
    assert wakers.wake(("eu-west-1", "prod", "web")) == 0
    wakers.unregister(owner)
    wakers.unregister(other)
    assert wakers.wake(("eu-west-1", "prod", "api")) == 0


def test_events_flow_while_the_queue_answers():
    now = [100.0]
    consumer = EventConsumer(Sqs([]), "q", lambda key: 0, wait_seconds=20)
    consumer._clock = lambda: now[0]
    assert not consumer.flowing()  # never read: idle releases keep the normal poll
    consumer.poll_once()
    assert consumer.flowing()
    now[0] += 2 * 20 + 5
    assert not consumer.flowing()  # the queue stopped answering: back to the normal idle poll
