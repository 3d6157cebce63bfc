"""The one Kubernetes client of the operator's seams (k8s.rest), and how its synchronous calls leave the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ecsbg.k8s.rest import DEFAULT_TIMEOUT, RestClient, Timeout


def api_client(timeout: Timeout = DEFAULT_TIMEOUT) -> RestClient:
    """In-cluster credentials, else KUBECONFIG (k8s.credentials); no retries (the callers' loops retry with
    backoff and log once per error state); every request bounded by `timeout` unless it says otherwise."""
    return RestClient.from_environment(timeout)


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` on a worker thread (the client is synchronous)."""
    return await asyncio.to_thread(fn, *args, **kwargs)
