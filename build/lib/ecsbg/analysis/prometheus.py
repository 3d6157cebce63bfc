"""The `prometheus` provider: an instant query (`GET <address>/api/v1/query`).

`result` is a number for a scalar answer and a list of numbers for a vector (one per series, in the order
Prometheus returns them; empty when no series matched), as Argo Rollouts' prometheus provider does. An
unreachable server, an HTTP error, a query error or a matrix/string answer is a MeasurementError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from ecsbg.domain.analysis.provider import MeasurementError

DEFAULT_TIMEOUT_SECONDS = 10.0


class PrometheusProvider:
    async def measure(self, config: Mapping[str, Any], *, namespace: str) -> Any:
        address = str(config["address"]).rstrip("/")
        query = str(config["query"])
        headers = {"Accept": "application/json"}
        if config.get("bearerToken"):
            headers["Authorization"] = f"Bearer {config['bearerToken']}"
        timeout = aiohttp.ClientTimeout(total=float(config.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS))
        where = f"prometheus {address}"
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(f"{address}/api/v1/query", params={"query": query}, headers=headers) as resp:
                    status = resp.status
                    try:
                        body = await resp.json(content_type=None)
                    except ValueError:
                        body = None
        except TimeoutError as exc:
            raise MeasurementError(f"{where}: no answer within {timeout.total:g} s") from exc
        except aiohttp.ClientError as exc:
            raise MeasurementError(f"{where} unreachable: {type(exc).__name__}: {exc}") from exc
        if not isinstance(body, Mapping):
            raise MeasurementError(f"{where}: HTTP {status}, not a Prometheus API answer")
        if body.get("status") != "success":
            raise MeasurementError(f"{where}: query {query!r} failed (HTTP {status}): "
                                   f"{body.get('errorType', 'error')}: {body.get('error', '')}")
        return _result(body.get("data") or {}, where)


def _result(data: Mapping[str, Any], where: str) -> Any:
    kind = data.get("resultType")
    if kind == "scalar":
        return float(data["result"][1])
    if kind == "vector":
        return [float(sample["value"][1]) for sample in data.get("result") or []]
    raise MeasurementError(f"{where}: the query answered a {kind}; use an instant vector or scalar query")
