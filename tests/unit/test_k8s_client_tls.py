"""A TLS failure is a connection error, not a bug (k8s.rest over TLS).

The official client lost urllib3's SSLError (a body-less ApiException whose re-raise failed with AttributeError),
so the reconcile loop logged an API outage behind TLS as an unknown error with a traceback (issue 10). Our client
must raise a ConnectionError for a handshake cut short, cleanly or by a reset, and still speak TLS properly: the
server verified against the kubeconfig's CA, and our client certificate (inline data) presented to it.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import tempfile
from pathlib import Path

import pytest

from ecsbg.k8s.client import call
from ecsbg.k8s.credentials import Credentials, from_kubeconfig
from ecsbg.k8s.rest import ApiUnreachable, RestClient, TlsConnectionFailed
from ecsbg.loop import _unreachable
from tests.fakes.apiserver import HandshakeCutter, StubApi
from tests.plugins.controlplane import Pki


def test_a_handshake_cut_by_the_server_is_a_tls_connection_failure():
    cutter = HandshakeCutter(reset=False)
    try:
        api = RestClient(Credentials(server=cutter.url), timeout=5)
        with pytest.raises(TlsConnectionFailed) as caught:
            api.get("/version")
        with pytest.raises(TlsConnectionFailed):
            asyncio.run(call(api.get, "/version"))
    finally:
        cutter.close()
    assert isinstance(caught.value, ConnectionError)
    assert _unreachable(caught.value), "the reconcile loop logs it as 'the Kubernetes API is unreachable'"


def test_a_handshake_reset_is_a_connection_error():
    cutter = HandshakeCutter(reset=True)
    try:
        with pytest.raises(ApiUnreachable) as caught:
            RestClient(Credentials(server=cutter.url), timeout=5).get("/version")
    finally:
        cutter.close()
    assert _unreachable(caught.value)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki")).create()


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_a_kubeconfig_with_inline_ca_and_client_certificate_data_speaks_tls(pki: Pki, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the inline key is written while loaded
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca_crt))
    serving.load_cert_chain(str(pki.root / "serving.crt"), str(pki.root / "serving.key"))
    serving.verify_mode = ssl.CERT_REQUIRED  # as kube-apiserver with --client-ca-file
    server = StubApi(context=serving)
    try:
        crt, key = pki.client("alice", "team")
        path = server.kubeconfig(tmp_path / "kubeconfig", {"client-certificate-data": _b64(crt),
                                                           "client-key-data": _b64(key)},
                                 **{"certificate-authority-data": _b64(pki.ca_crt)})
        assert RestClient(from_kubeconfig(str(path))).get("/version") == {}
        assert server.seen[-1].peer == "alice" and "Authorization" not in server.seen[-1].headers
        no_ca = from_kubeconfig(str(server.kubeconfig(tmp_path / "other", {"client-certificate-data": _b64(crt),
                                                                            "client-key-data": _b64(key)})))
        with pytest.raises(TlsConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):  # not our CA: refused
            RestClient(no_ca, timeout=5).get("/version")
    finally:
        server.close()
    assert not list(scratch.iterdir()), "inline keys are not left on disk"
