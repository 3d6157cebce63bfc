"""The kubernetes client's lost SSLError (ecsbg.k8s.client): a TLS failure is a connection error, not a bug.

Reproduced through the real client: rest.py turns urllib3's SSLError into a body-less ApiException(status=0),
which api_client.py re-raises by calling `.decode` on its None body.
"""

from __future__ import annotations

import asyncio

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ecsbg.k8s.client import TlsConnectionFailed, call, call_sync, lost_ssl_error
from ecsbg.reconciler import _unreachable


def _api_failing_with(exc: Exception) -> client.CoreV1Api:
    api_client = client.ApiClient(client.Configuration())

    def request(*_: object, **__: object) -> None:
        raise exc

    api_client.request = request  # what rest.py raises for an SSLError, one layer down
    return client.CoreV1Api(api_client)


def test_the_client_loses_the_ssl_error_and_we_call_it_a_connection_failure() -> None:
    api = _api_failing_with(ApiException(status=0, reason="SSLError\nEOF occurred in violation of protocol"))
    with pytest.raises(AttributeError) as raw:  # the client's own behaviour (if it is fixed, this test says so)
        api.read_namespaced_secret("s", "ns")
    assert lost_ssl_error(raw.value)
    with pytest.raises(TlsConnectionFailed) as caught:
        call_sync(api.read_namespaced_secret, "s", "ns")
    assert _unreachable(caught.value), "the reconcile loop logs it as 'the Kubernetes API is unreachable'"
    with pytest.raises(TlsConnectionFailed):
        asyncio.run(call(api.read_namespaced_secret, "s", "ns"))


def test_an_attribute_error_of_our_own_passes_through_unchanged() -> None:
    def bug() -> None:
        raise AttributeError("'NoneType' object has no attribute 'decode'")  # ours, not the client's

    with pytest.raises(AttributeError):
        call_sync(bug)

