"""The delivery seam: one HTTP POST of a JSON body. `AiohttpTransport` is the production one; tests use real
local receivers, and tests/fakes/notify.py for the sender's unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Response:
    status: int  # 0: no HTTP answer (connection refused, timeout)
    detail: str = ""  # the error, or the start of the answer's body
    retry_after: float | None = None  # seconds, from a 429/503 Retry-After header


class Transport(Protocol):
    async def post(self, url: str, body: Mapping[str, Any], *, headers: Mapping[str, str],
                   timeout: float) -> Response: ...


class AiohttpTransport:
    """One shared session per process (connection reuse); created in the event loop that first posts."""

    def __init__(self) -> None:
        self._session: Any = None

    async def post(self, url: str, body: Mapping[str, Any], *, headers: Mapping[str, str],
                   timeout: float) -> Response:
        import aiohttp

        if self._session is None or self._session.closed:
            # trust_env: HTTPS_PROXY/NO_PROXY apply, as for the rest of the pod; the CA bundle is the default context's
            self._session = aiohttp.ClientSession(headers={"User-Agent": "ecsbg-operator"}, trust_env=True)
        try:
            async with self._session.post(url, json=body, headers=dict(headers),
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as answer:
                text = (await answer.text())[:200]
                return Response(answer.status, text, _retry_after(answer.headers.get("Retry-After")))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            # the error may quote the URL (InvalidURL does): it is a credential, and this text reaches status and
            # an Event
            return Response(0, f"{type(exc).__name__}: {exc}".replace(url, "<the URL from the Secret>")[:200])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:  # an HTTP date: the sender's own backoff applies
        return None
