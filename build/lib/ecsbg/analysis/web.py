"""The `web` provider: one HTTP(S) request (aiohttp, already a runtime dependency through kopf).

`result` is `{status, latency, body, value}`: the status code, the seconds until the whole body arrived, the
body (parsed when it is JSON, else text) and `value`, the part of the body `jsonPath` selects (the body without
one). A connection error, a timeout or a `jsonPath` that selects nothing is a MeasurementError; an HTTP error
status is not: the conditions decide (`result.status < 500`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from ecsbg.domain.analysis.provider import MeasurementError

DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_BODY_BYTES = 1 << 20
_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\['([^']+)'\]")


class WebProvider:
    async def measure(self, config: Mapping[str, Any], *, namespace: str) -> Any:
        url = str(config["url"])
        method = str(config.get("method") or "GET").upper()
        headers = {str(h["key"]): str(h["value"]) for h in config.get("headers") or [] if isinstance(h, Mapping)}
        body = config.get("jsonBody")
        data = json.dumps(body) if body is not None else config.get("body")
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        timeout = aiohttp.ClientTimeout(total=float(config.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS))
        started = time.monotonic()
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.request(method, url, headers=headers, data=data,
                                           ssl=not config.get("insecure", False)) as response:
                    raw = await response.content.read(MAX_BODY_BYTES)
                    status = response.status
        except TimeoutError as exc:
            raise MeasurementError(f"web {method} {url}: no answer within {timeout.total:g} s") from exc
        except aiohttp.ClientError as exc:
            raise MeasurementError(f"web {method} {url}: {type(exc).__name__}: {exc}") from exc
        latency = time.monotonic() - started
        parsed = _parse(raw)
        path = config.get("jsonPath")
        value = parsed if not path else select(parsed, str(path), f"web {method} {url}")
        return {"status": status, "latency": round(latency, 6), "body": parsed, "value": value}


def _parse(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def select(document: Any, path: str, where: str) -> Any:
    """A JSONPath of the simple form Argo's web provider examples use: `$.data.ok`, `{$.items[0].value}`."""
    expr = path.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1].strip()
    if not expr.startswith("$"):
        raise MeasurementError(f"{where}: jsonPath {path!r} must start with $")
    rest, node, pos = expr[1:], document, 0
    while pos < len(rest):
        match = _STEP.match(rest, pos)
        if match is None:
            raise MeasurementError(f"{where}: jsonPath {path!r} is not of the form $.a.b[0]")
        key, index, quoted = match.groups()
        try:
            node = node[int(index)] if index is not None else node[key if key is not None else quoted]
        except (KeyError, IndexError, TypeError) as exc:
            raise MeasurementError(f"{where}: jsonPath {path!r} selects nothing in the response") from exc
        pos = match.end()
    return node
