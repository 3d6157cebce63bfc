"""Real local HTTP receivers for notification tests: aiohttp servers in the test process, on their own event loop
thread, shaped like the services' incoming webhooks. Each checks the body the way the service would refuse it
(Slack's `invalid_payload`, a Teams workflow's missing Adaptive Card) and records what it accepted.

- slack: POST JSON with a string `text` -> 200 "ok" (https://api.slack.com/messaging/webhooks)
- msteams: a `message` with one `application/vnd.microsoft.card.adaptive` attachment -> 202 (Teams Workflows)
- discord: `content` or `embeds` -> 204 (execute webhook without ?wait)
- webhook: schema `ecsbg.dev/notification/v1` -> 200
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web


def _accepts(shape: str, body: Any) -> tuple[int, str] | None:
    """(status, text) of a successful answer, or None when the service would refuse `body`."""
    if not isinstance(body, dict):
        return None
    if shape == "slack":
        return (200, "ok") if isinstance(body.get("text"), str) and body["text"] else None
    if shape == "msteams":
        attachments = body.get("attachments") or [{}]
        card = attachments[0].get("content") or {}
        ok = (body.get("type") == "message" and attachments[0].get("contentType") ==
              "application/vnd.microsoft.card.adaptive" and card.get("type") == "AdaptiveCard")
        return (202, "") if ok else None
    if shape == "discord":
        return (204, "") if body.get("content") or body.get("embeds") else None
    if shape == "webhook":
        return (200, "{}") if body.get("schema") == "ecsbg.dev/notification/v1" and body.get("id") else None
    raise ValueError(shape)


class Receiver:
    def __init__(self, shape: str, url: str) -> None:
        self.shape, self.url = shape, url
        self.accepted: list[dict[str, Any]] = []  # bodies answered with success
        self.requests: list[dict[str, Any]] = []  # every request: {"body", "headers", "status"}
        self._failures: list[int] = []  # statuses to answer before accepting again
        self._always: int | None = None

    def fail(self, *statuses: int, always: int | None = None) -> None:
        """Answer the next requests with `statuses` (then accept again), or every request with `always`."""
        self._failures, self._always = list(statuses), always

    def answer(self, body: Any, headers: dict[str, str]) -> tuple[int, str]:
        if self._always is not None or self._failures:
            status = self._always if self._always is not None else self._failures.pop(0)
            self.requests.append({"body": body, "headers": headers, "status": status})
            return status, "receiver failing on purpose"
        ok = _accepts(self.shape, body)
        status, text = ok or (400, "invalid_payload")
        self.requests.append({"body": body, "headers": headers, "status": status})
        if ok:
            self.accepted.append(body)
        return status, text


class Receivers:
    """One aiohttp server (its own loop, in a thread); `add(shape)` gives a receiver at its own path."""

    def __init__(self) -> None:
        self._receivers: dict[str, Receiver] = {}
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="receivers")
        self._thread.start()
        self._started.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/{key}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        self._started.set()
        self._loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        receiver = self._receivers.get(request.match_info["key"])
        if receiver is None:
            return web.Response(status=404, text="no_service")
        try:
            body = await request.json()
        except ValueError:
            body = None
        status, text = receiver.answer(body, dict(request.headers))
        return web.Response(status=status, text=text)

    def add(self, shape: str) -> Receiver:
        key = f"{shape}-{len(self._receivers)}"
        receiver = Receiver(shape, f"{self.base}/{key}")
        self._receivers[key] = receiver
        return receiver

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    served = Receivers()
    yield served
    served.stop()
