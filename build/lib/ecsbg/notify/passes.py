"""What a reconcile pass does about notifications (called from ecsbg.reconciler, one small hook): record the
intents of this pass's transition in `status.notifications`, fold in what the sender delivered since, and after
the status is written hand the Pending deliveries to the sender."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecsbg.domain import notifications as domain
from ecsbg.domain.events import WARNING, EventRecord
from ecsbg.domain.model import ReleaseStatus
from ecsbg.notify.sender import Key, Notifier


@dataclass
class PassNotifications:
    entries: list[dict[str, Any]]  # the new status.notifications (empty: the field is removed)
    settled: list[Key] = field(default_factory=list)  # sender results this status now holds
    events: list[EventRecord] = field(default_factory=list)


def step(notifier: Notifier, body: Mapping[str, Any], prior_dict: Mapping[str, Any], prior: ReleaseStatus,
         new: ReleaseStatus, *, namespace: str, name: str, now: datetime) -> PassNotifications:
    subs, problems = domain.subscriptions(body)
    before = prior_dict.get("notifications")
    entries = domain.record(before if isinstance(before, list) else [],
                            domain.intents(prior, new, namespace=namespace, name=name) if subs else [],
                            subs, now, namespace=namespace, name=name)
    results = notifier.results(namespace, name)
    entries = domain.apply_results(entries, results) if results else entries
    events = []
    if notifier.problems_changed(namespace, name, problems) and problems:
        events.append(EventRecord(WARNING, "InvalidNotification", "; ".join(problems)))
    return PassNotifications(entries, list(results), events)


def written(notifier: Notifier, body: Mapping[str, Any], status: Mapping[str, Any], done: PassNotifications, *,
            namespace: str, name: str, wake: Any) -> None:
    """The status holding `done.entries` is persisted: forget settled results, send what is Pending."""
    notifier.settled(namespace, name, done.settled)
    entries = status.get("notifications")
    notifier.submit(body=body, namespace=namespace, name=name, wake=wake,
                    entries=entries if isinstance(entries, list) else [])

