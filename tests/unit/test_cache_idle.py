"""ecsbg.wiring.cache_idle_seconds: immutable facts outlive two of the longest idle sleeps."""

from __future__ import annotations

from ecsbg.settings import Settings
from ecsbg.wiring import cache_idle_seconds


def test_polling_keeps_facts_for_two_idle_polls() -> None:
    settings = Settings.from_env({"ECSBG_POLL_IDLE_SECONDS": "300", "ECSBG_EVENTS_IDLE_SECONDS": "1800"})
    assert cache_idle_seconds(settings) == 600.0  # no queue: the events idle sleep never happens


def test_with_an_events_queue_facts_outlive_two_events_idle_sleeps() -> None:
    settings = Settings.from_env({"ECSBG_POLL_IDLE_SECONDS": "30", "ECSBG_EVENTS_IDLE_SECONDS": "180",
                                  "ECSBG_EVENTS_QUEUE_URL": "http://127.0.0.1:1/123456789012/ecs-events"})
    assert cache_idle_seconds(settings) == 360.0
