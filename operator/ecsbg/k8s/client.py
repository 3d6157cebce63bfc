"""The one Kubernetes client of the operator's seams (k8s.rest), and how its synchronous calls leave the loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
from collections.abc import Callable
from typing import Any

from ecsbg.k8s.rest import DEFAULT_TIMEOUT, RestClient, Timeout


def api_client(timeout: Timeout = DEFAULT_TIMEOUT) -> RestClient:
    """In-cluster credentials, else KUBECONFIG (k8s.credentials); no retries (the callers' loops retry with
    backoff and log once per error state); every request bounded by `timeout` unless it says otherwise."""
    return RestClient.from_environment(timeout)


WORKERS = 16  # Kubernetes calls in flight at once (the client's connection pool holds as many)

_executor: concurrent.futures.ThreadPoolExecutor | None = None


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` on a worker thread (the client is synchronous), with the caller's context (log fields).
    Its own threads, not the loop's default executor: that one has min(32, cores + 4) = 6 threads on a 2-core
    node, shared with kopf's sync handlers, and 1,000 releases starting at once queued their status writes there."""
    global _executor
    if _executor is None:
        _executor = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="ecsbg-k8s")
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        _executor, functools.partial(context.run, fn, *args, **kwargs))
