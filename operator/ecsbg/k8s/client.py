"""Calls through the official `kubernetes` client, with one of its failure modes told for what it is.

When urllib3 raises SSLError (a TLS connection reset or cut mid-handshake, as in an API server outage behind TLS),
kubernetes/client/rest.py raises `ApiException(status=0, reason=...)` without a body, and api_client.py then calls
`e.body.decode(...)` on that None: the caller sees `AttributeError: 'NoneType' object has no attribute 'decode'`
instead of a connection error. Left as is, the reconcile loop logs it as an unknown error with a traceback on the
real kube-apiserver (issue 10's outage test), where the dev cluster's plain HTTP never shows it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class TlsConnectionFailed(ConnectionError):
    """The TLS connection to the Kubernetes API failed (an OSError: the API is unreachable, not a bug)."""


def lost_ssl_error(exc: BaseException) -> bool:
    """The AttributeError api_client.py raises while re-raising rest.py's body-less ApiException for SSLError."""
    if not isinstance(exc, AttributeError) or "decode" not in str(exc):
        return False
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame is not None and frame.tb_frame.f_code.co_filename.replace("\\", "/").endswith(
        "kubernetes/client/api_client.py")


def api_client() -> Any:
    """The official client as every seam here uses it: in-cluster credentials, else KUBECONFIG; no urllib3 retries
    (the callers' loops retry with backoff and log once per error state, where urllib3 would resend each request,
    a timed-out GET three more times, with a warning per attempt)."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    configuration = client.Configuration.get_default_copy()
    configuration.retries = False
    return client.ApiClient(configuration)


def call_sync(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except AttributeError as exc:
        if lost_ssl_error(exc):
            raise TlsConnectionFailed("TLS connection to the Kubernetes API failed") from exc
        raise


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` on a worker thread (the client is synchronous)."""
    return await asyncio.to_thread(call_sync, fn, *args, **kwargs)
