"""The background sender: delivers the Pending entries of `status.notifications`, never inside a reconcile pass.

The release loop hands over what its status records as Pending once that status is written (`submit`); a few
worker tasks per process post them, retry with exponential backoff (a failed try goes back on the queue after its
delay, so a slow receiver never holds the others), and keep the outcome in memory until the release loop has
written it to status (`results`, then `settled`). Nothing is dropped silently: every try is counted in
`ecsbg_notifications_total{provider,type,trigger,outcome}`, and a delivery given up on is a Warning Event
`NotificationFailed` and a Failed delivery in status. A Pending delivery still in status after an operator
restart is submitted again by the new process: it is sent once, unless the operator died between the receiver's
answer and the next status write (then twice; the webhook body's `id` lets a receiver drop the copy).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ecsbg import logs
from ecsbg.domain import shape
from ecsbg.domain.events import WARNING, EventRecord
from ecsbg.domain.notifications import CLUSTER_PROVIDER_KIND, DELIVERED, FAILED_DELIVERY, Result, pending
from ecsbg.k8s.events import EventSink
from ecsbg.k8s.notifications import ProviderSource
from ecsbg.notify.formats import TYPES, payload
from ecsbg.notify.transport import Transport

logger = logging.getLogger(__name__)

OUTCOMES = ("delivered", "retry", "failed", "misconfigured")
Key = tuple[str, str]  # (entry id, provider)


class NotificationMetrics(Protocol):
    def notification(self, *, provider: str, type: str, trigger: str, outcome: str) -> None: ...


@dataclass(frozen=True)
class SenderSettings:
    tries: int = 5  # per delivery, the first included
    backoff_seconds: float = 2.0  # before the second try; doubles each time
    backoff_max_seconds: float = 60.0
    workers: int = 4
    timeout_seconds: float = 10.0  # one POST, unless the provider says otherwise (spec.timeoutSeconds)


class Misconfigured(Exception):
    """The provider or its Secret is missing or unusable: retrying cannot help until a person fixes it."""


@dataclass
class _Job:
    namespace: str
    name: str
    body: Mapping[str, Any]  # the release, for the Warning Event's involvedObject
    entry: Mapping[str, Any]
    delivery: Mapping[str, Any]
    wake: Callable[[], None]
    tries: int = 0
    provider_type: str = "unknown"

    @property
    def key(self) -> Key:
        return (str(self.entry.get("id")), str(self.delivery.get("provider")))


class Notifier:
    def __init__(self, *, providers: ProviderSource, transport: Transport, events: EventSink,
                 metrics: NotificationMetrics, settings: SenderSettings | None = None) -> None:
        self._providers, self._transport, self._events, self._metrics = providers, transport, events, metrics
        self.settings = settings or SenderSettings()
        self._queue: asyncio.Queue[_Job] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._known: dict[Key, set[Key]] = {}  # per release: submitted, not yet settled in status
        self._results: dict[Key, dict[Key, Result]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._problems: dict[Key, tuple[str, ...]] = {}

    # ------------------------------------------------------------------------------ the release loop's side

    def submit(self, *, body: Mapping[str, Any], namespace: str, name: str, entries: Sequence[Mapping[str, Any]],
               wake: Callable[[], None]) -> None:
        """Queue every Pending delivery of `entries` (status as written) not queued already. Never blocks."""
        known = self._known.setdefault((namespace, name), set())
        for entry, delivery in pending(entries):
            job = _Job(namespace, name, body, entry, delivery, wake)
            if job.key not in known:
                known.add(job.key)
                self._put(job)

    def results(self, namespace: str, name: str) -> dict[Key, Result]:
        return dict(self._results.get((namespace, name), {}))

    def settled(self, namespace: str, name: str, keys: Sequence[Key]) -> None:
        """These results are in the status the loop wrote: forget them."""
        results, known = self._results.get((namespace, name), {}), self._known.get((namespace, name), set())
        for key in keys:
            results.pop(key, None)
            known.discard(key)

    def problems_changed(self, namespace: str, name: str, problems: Sequence[str]) -> bool:
        """Subscription problems are announced when they change (once per process: they are in no status)."""
        key, now = (namespace, name), tuple(problems)
        changed = self._problems.get(key, ()) != now
        self._problems[key] = now
        return changed

    def forget(self, namespace: str, name: str) -> None:
        """The release is gone: drop what is kept about it (queued deliveries still run)."""
        for store in (self._known, self._results, self._problems):
            store.pop((namespace, name), None)

    async def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._queue, self._workers, self._timers = None, [], set()
        self._known.clear()  # what was queued and not sent stays Pending in status: the next process sends it
        close = getattr(self._transport, "close", None)
        if close is not None:
            await close()

    # ------------------------------------------------------------------------------------- the workers

    def _put(self, job: _Job) -> None:
        if self._queue is None:  # created in the loop that first submits (kopf's)
            self._queue = asyncio.Queue()
            self._workers = [asyncio.create_task(self._work(), name=f"ecsbg-notify-{n}")
                             for n in range(self.settings.workers)]
        self._queue.put_nowait(job)

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            try:
                await self._try(job)
            except Exception:  # a bug must not kill the worker: the delivery fails loudly instead
                logger.exception("notification %s to %s failed unexpectedly", *job.key)
                self._finish(job, FAILED_DELIVERY, "internal error (see the operator log)", "failed")

    async def _try(self, job: _Job) -> None:
        job.tries += 1
        try:
            url, headers, kind, timeout = await self._resolve(job)
        except Misconfigured as problem:
            self._finish(job, FAILED_DELIVERY, str(problem), "misconfigured")
            return
        except Exception as exc:  # the Kubernetes API failing: retried like a receiver failing
            self._again(job, f"reading the provider failed: {type(exc).__name__}: {exc}"[:300], None)
            return
        message = str(job.delivery.get("message") or job.entry.get("summary"))
        answer = await self._transport.post(url, payload(kind, job.entry, message, namespace=job.namespace,
                                                         name=job.name),
                                            headers=headers, timeout=timeout)
        if 200 <= answer.status < 300:
            self._finish(job, DELIVERED, None, "delivered")
        elif answer.status in (0, 408, 425, 429) or answer.status >= 500:
            self._again(job, f"HTTP {answer.status or 'error'}: {answer.detail}".strip(), answer.retry_after)
        else:  # 4xx: the URL or the body is refused; the same request will be refused again
            self._finish(job, FAILED_DELIVERY, f"HTTP {answer.status}: {answer.detail}".strip(), "failed")

    def _again(self, job: _Job, error: str, retry_after: float | None) -> None:
        if job.tries >= self.settings.tries:
            self._finish(job, FAILED_DELIVERY, f"{error} (after {job.tries} tries)", "failed")
            return
        self._count(job, "retry")
        delay = min(self.settings.backoff_seconds * 2 ** (job.tries - 1), self.settings.backoff_max_seconds)
        if retry_after is not None:
            delay = min(max(delay, retry_after), self.settings.backoff_max_seconds)
        logger.info("notification %s to %s: try %d failed (%s); again in %.1f s", *job.key, job.tries, error, delay)
        timer = asyncio.get_running_loop().call_later(delay, self._requeue, job)
        self._timers.add(timer)

    def _requeue(self, job: _Job) -> None:
        self._timers = {t for t in self._timers if not t.cancelled() and t.when() > asyncio.get_running_loop().time()}
        self._put(job)

    def _finish(self, job: _Job, state: str, error: str | None, outcome: str) -> None:
        self._count(job, outcome)
        self._results.setdefault((job.namespace, job.name), {})[job.key] = Result(state, job.tries, error)
        if state == FAILED_DELIVERY:
            logger.warning("notification %s to %s failed: %s", *job.key, error)
            self._events.emit(job.body, [EventRecord(WARNING, "NotificationFailed", f"{job.entry.get('trigger')} "
                                                     f"notification ({job.entry.get('id')}) to {job.key[1]} failed: "
                                                     f"{error}")])
        job.wake()  # the release loop records the outcome in status on its next pass

    def _count(self, job: _Job, outcome: str) -> None:
        kind, _, name = job.key[1].partition("/")
        label = f"{kind}/{name}" if kind == CLUSTER_PROVIDER_KIND else f"{kind}/{job.namespace}/{name}"
        self._metrics.notification(provider=label, type=job.provider_type,
                                   trigger=str(job.entry.get("trigger")), outcome=outcome)

    async def _resolve(self, job: _Job) -> tuple[str, dict[str, str], str, float]:
        """The provider's URL (from its Secret), headers, type and timeout."""
        kind, _, name = job.key[1].partition("/")
        provider = await self._providers.provider(kind, job.namespace, name)
        if provider is None:
            raise Misconfigured(f"{kind} {name!r} not found" + ("" if kind == CLUSTER_PROVIDER_KIND
                                                                else f" in namespace {job.namespace}"))
        spec = shape.child(provider, "spec")
        job.provider_type = shape.text(spec.get("type")) or "unknown"
        if job.provider_type not in TYPES:
            job.provider_type = "unknown"
            raise Misconfigured(f"{kind} {name}: spec.type must be one of {', '.join(TYPES)}")
        ref = shape.child(spec, "secretRef")
        secret_ns = shape.text(ref.get("namespace")) if kind == CLUSTER_PROVIDER_KIND else job.namespace
        secret, key = shape.text(ref.get("name")), shape.text(ref.get("key")) or "address"
        if not secret or not secret_ns:
            raise Misconfigured(f"{kind} {name}: spec.secretRef needs a name" +
                                (" and a namespace" if kind == CLUSTER_PROVIDER_KIND else ""))
        url = await self._providers.secret(secret_ns, secret, key)
        if not url or not url.strip().lower().startswith(("http://", "https://")):
            what = "is missing or has no key" if url is None else "has no http(s) URL under key"
            raise Misconfigured(f"{kind} {name}: Secret {secret_ns}/{secret} {what} {key!r}")
        logs.register_secret(url.strip())  # a webhook URL is a credential: never in a log line
        headers = {}
        if job.provider_type == "webhook":
            headers["X-Ecsbg-Notification-Id"] = f"{job.namespace}/{job.name}/{job.key[0]}"
            token = await self._providers.secret(secret_ns, secret, "token")
            if token:
                logs.register_secret(token.strip())
                headers["Authorization"] = f"Bearer {token.strip()}"
        timeout = spec.get("timeoutSeconds")
        seconds = float(timeout) if isinstance(timeout, int | float) and timeout > 0 else self.settings.timeout_seconds
        return url.strip(), headers, job.provider_type, seconds
