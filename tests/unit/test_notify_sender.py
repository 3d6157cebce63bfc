"""ecsbg.notify.sender: background delivery with retries, the metric per try, a Warning Event per delivery given
up on, and results kept until the release loop has recorded them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from ecsbg.domain import notifications as n
from ecsbg.notify.formats import payload
from ecsbg.notify.sender import Notifier, SenderSettings
from tests.fakes.events import RecordingEvents
from tests.fakes.metrics import RecordingMetrics
from tests.fakes.notify import FakeProviders, FakeTransport

T0 = datetime(2026, 12, 3, tzinfo=UTC)
FAST = SenderSettings(tries=3, backoff_seconds=0.01, backoff_max_seconds=0.05, workers=2)
SLACK = {("EcsNotificationProvider", "team", "chat"): {"spec": {"type": "slack", "secretRef": {"name": "hook"}}}}
URL = {("team", "hook", "address"): "http://127.0.0.1:1/hook"}


def _entries(*providers: str) -> list[dict]:
    subs = [n.Subscription(*p.split("/"), frozenset(n.TRIGGERS)) for p in providers]  # type: ignore[call-arg]
    return n.record([], [n.Intent("1/Succeeded", "Succeeded", 1, "attempt 1 succeeded")], subs, T0,
                    namespace="team", name="web")


async def _deliver(notifier: Notifier, entries: list[dict]) -> dict:
    woke = asyncio.Event()
    notifier.submit(body={"metadata": {"namespace": "team", "name": "web"}}, namespace="team", name="web",
                    entries=entries, wake=woke.set)
    wanted = len(n.pending(entries))
    for _ in range(500):
        if len(notifier.results("team", "web")) == wanted:
            break
        await asyncio.sleep(0.01)
    assert woke.is_set()
    return notifier.results("team", "web")


def _notifier(transport, providers=None, settings=FAST):
    events, metrics = RecordingEvents(), RecordingMetrics()
    return Notifier(providers=providers or FakeProviders(SLACK, URL), transport=transport, events=events,
                    metrics=metrics, settings=settings), events, metrics


def _outcomes(metrics) -> list[str]:
    return [c["outcome"] for c in metrics.of("notification")]


async def test_delivered_once_and_not_again_when_submitted_again() -> None:
    transport = FakeTransport(200)
    notifier, events, metrics = _notifier(transport)
    entries = _entries("EcsNotificationProvider/chat")
    results = await _deliver(notifier, entries)
    assert results == {("1/Succeeded", "EcsNotificationProvider/chat"): n.Result("Delivered", 1)}
    notifier.submit(body={}, namespace="team", name="web", entries=entries, wake=lambda: None)  # not yet settled
    await asyncio.sleep(0.05)
    assert len(transport.posts) == 1 and transport.posts[0][1]["text"].startswith("team/web: attempt 1 succeeded")
    assert _outcomes(metrics) == ["delivered"] and events.records == []
    assert metrics.sample("ecsbg_notifications_total", provider="EcsNotificationProvider/team/chat", type="slack",
                          trigger="Succeeded", outcome="delivered") == 1
    notifier.settled("team", "web", list(results))
    assert notifier.results("team", "web") == {}
    await notifier.close()


async def test_server_errors_are_retried_with_each_try_counted() -> None:
    notifier, events, metrics = _notifier(FakeTransport(500, 503, 200))
    results = await _deliver(notifier, _entries("EcsNotificationProvider/chat"))
    assert list(results.values()) == [n.Result("Delivered", 3)]
    assert _outcomes(metrics) == ["retry", "retry", "delivered"] and events.records == []
    await notifier.close()


async def test_giving_up_is_a_failed_delivery_a_metric_and_a_warning_event() -> None:
    notifier, events, metrics = _notifier(FakeTransport(500))
    results = await _deliver(notifier, _entries("EcsNotificationProvider/chat"))
    (result,) = results.values()
    assert result.state == "Failed" and result.tries == 3 and "HTTP 500" in (result.error or "")
    assert _outcomes(metrics) == ["retry", "retry", "failed"]
    assert [(e.type, e.reason) for e in events.records] == [("Warning", "NotificationFailed")]
    assert "EcsNotificationProvider/chat failed: HTTP 500" in events.records[0].message
    await notifier.close()


async def test_a_client_error_is_not_retried() -> None:
    notifier, events, metrics = _notifier(FakeTransport(404))
    (result,) = (await _deliver(notifier, _entries("EcsNotificationProvider/chat"))).values()
    assert (result.state, result.tries) == ("Failed", 1) and _outcomes(metrics) == ["failed"]
    await notifier.close()


@pytest.mark.parametrize(("providers", "error"), [
    (FakeProviders({}, URL), "EcsNotificationProvider 'chat' not found in namespace team"),
    (FakeProviders(SLACK, {}), "Secret team/hook is missing or has no key 'address'"),
    (FakeProviders(SLACK, {("team", "hook", "address"): "hooks.slack.com/x"}), "has no http(s) URL"),
    (FakeProviders({k: {"spec": {"type": "pager", "secretRef": {"name": "hook"}}} for k in SLACK}, URL),
     "spec.type must be one of"),
])
async def test_misconfigured_providers_fail_at_once_with_a_specific_event(providers, error) -> None:
    transport = FakeTransport(200)
    notifier, events, metrics = _notifier(transport, providers)
    (result,) = (await _deliver(notifier, _entries("EcsNotificationProvider/chat"))).values()
    assert result.state == "Failed" and error in (result.error or "")
    assert transport.posts == [] and _outcomes(metrics) == ["misconfigured"]
    assert error in events.records[0].message
    await notifier.close()


async def test_cluster_provider_secret_namespace_and_webhook_token() -> None:
    providers = FakeProviders(
        {("ClusterEcsNotificationProvider", "", "platform"): {"spec": {"type": "webhook", "secretRef": {
            "name": "hook", "namespace": "ecsbg-system", "key": "url"}}}},
        {("ecsbg-system", "hook", "url"): "https://example.invalid/in", ("ecsbg-system", "hook", "token"): "s3cr3t"})
    transport = FakeTransport(204)
    notifier, _, metrics = _notifier(transport, providers)
    await _deliver(notifier, _entries("ClusterEcsNotificationProvider/platform"))
    url, body, headers = transport.posts[0]
    assert url == "https://example.invalid/in" and headers["Authorization"] == "Bearer s3cr3t"
    assert headers["X-Ecsbg-Notification-Id"] == "team/web/1/Succeeded" == body["id"]
    assert body["schema"] == "ecsbg.dev/notification/v1" and body["release"] == {"namespace": "team", "name": "web"}
    assert metrics.of("notification")[0]["provider"] == "ClusterEcsNotificationProvider/platform"
    await notifier.close()


def test_payloads_follow_each_services_format() -> None:
    entry = _entries("EcsNotificationProvider/chat")[0] | {"facts": [{"name": "reason", "value": "alarm"}],
                                                          "severity": "error"}
    slack = payload("slack", entry, "msg", namespace="a", name="b")
    assert slack["text"] == "msg" and slack["blocks"][1]["fields"][0]["text"] == "*reason*\nalarm"
    teams = payload("msteams", entry, "msg", namespace="a", name="b")
    card = teams["attachments"][0]
    assert teams["type"] == "message" and card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["body"][2] == {"type": "FactSet", "facts": [{"title": "reason", "value": "alarm"}]}
    discord = payload("discord", entry, "x" * 3000, namespace="a", name="b")
    assert len(discord["content"]) == 2000 and discord["embeds"][0]["fields"][0]["name"] == "reason"
    with pytest.raises(ValueError):
        payload("pager", entry, "msg", namespace="a", name="b")


async def test_transport_errors_never_quote_the_url() -> None:
    from ecsbg.notify.transport import AiohttpTransport

    transport = AiohttpTransport()
    secret_url = "http://[not-a-host/services/T0/B0/s3cr3t"
    answer = await transport.post(secret_url, {"text": "x"}, headers={}, timeout=1)
    await transport.close()
    assert answer.status == 0 and "s3cr3t" not in answer.detail and answer.detail


async def test_a_refused_connection_is_retried() -> None:
    from ecsbg.notify.transport import AiohttpTransport

    providers = FakeProviders(SLACK, {("team", "hook", "address"): "http://127.0.0.1:9/closed"})
    notifier, events, metrics = _notifier(AiohttpTransport(), providers)
    (result,) = (await _deliver(notifier, _entries("EcsNotificationProvider/chat"))).values()
    assert (result.state, result.tries) == ("Failed", 3) and "HTTP error" in (result.error or "")
    assert _outcomes(metrics) == ["retry", "retry", "failed"]
    await notifier.close()
