"""Fakes of the notification seams (ecsbg.notify.transport.Transport, ecsbg.k8s.notifications.ProviderSource),
for the sender's unit tests; the end-to-end tests post to real local HTTP receivers instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecsbg.notify.transport import Response


class FakeTransport:
    """Answers each POST with the next status of `answers` (the last one repeats) and records it."""

    def __init__(self, *answers: int) -> None:
        self.answers = list(answers) or [200]
        self.posts: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    async def post(self, url: str, body: Mapping[str, Any], *, headers: Mapping[str, str],
                   timeout: float) -> Response:
        self.posts.append((url, dict(body), dict(headers)))
        status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return Response(status, "fake")


class FakeProviders:
    def __init__(self, providers: Mapping[tuple[str, str, str], Mapping[str, Any]] | None = None,
                 secrets: Mapping[tuple[str, str, str], str] | None = None) -> None:
        self.providers, self.secrets = dict(providers or {}), dict(secrets or {})

    async def provider(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.providers.get((kind, namespace if kind == "EcsNotificationProvider" else "", name))

    async def secret(self, namespace: str, name: str, key: str) -> str | None:
        return self.secrets.get((namespace, name, key))
