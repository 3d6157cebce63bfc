"""ecsbg.k8s.rest, the operator's Kubernetes client, and the seams over it, against a scripted HTTP server: what
each seam sends, how an error answer reads (404/409/422 as the seams handle them), and that a missing answer is a
connection error (refused, timed out) and never a hang."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from ecsbg.k8s.credentials import Credentials, StaticToken
from ecsbg.k8s.rest import ApiError, ApiTimeout, ApiUnreachable, RestClient
from ecsbg.k8s.status import KubeStatusWriter, ReleaseGone, StatusRefused
from ecsbg.k8s.templates import KubeTemplateSource
from ecsbg.k8s.waves import AlreadyExists, KubeWaveApi
from ecsbg.loop import _unreachable
from tests.fakes.apiserver import Silent, StubApi


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A stub API server, and KUBECONFIG naming it (the seams load their credentials from the environment)."""
    server = StubApi()
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig(tmp_path / "kubeconfig")))
    yield server
    server.close()


def status_body(code: int, reason: str, message: str, causes: list[dict] | None = None) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason,
            "code": code, "details": {"causes": causes or []}}


async def test_a_status_write_is_a_merge_patch_on_the_status_subresource_with_the_token(stub: StubApi):
    await KubeStatusWriter().patch_status(namespace="shop", name="web", status={"phase": "Baking"})
    await KubeStatusWriter().ping()
    patch, ping = stub.seen
    assert (patch.method, patch.path) == ("PATCH", "/apis/ecsbg.dev/v1alpha1/namespaces/shop/ecsbluegreenreleases/web/status")
    assert patch.headers["Content-Type"] == "application/merge-patch+json"
    assert patch.body == {"status": {"phase": "Baking"}}
    assert patch.headers["Authorization"] == "Bearer stub-token"
    assert (ping.method, ping.path) == ("GET", "/version")


async def test_404_ends_the_release_and_a_422_for_the_object_itself_is_told_apart(stub: StubApi):
    writer = KubeStatusWriter()
    stub.answers.append((404, status_body(404, "NotFound", 'ecsbluegreenreleases "web" not found')))
    with pytest.raises(ReleaseGone):
        await writer.patch_status(namespace="shop", name="web", status={})
    stub.answers.append((422, status_body(422, "Invalid", "spec: Required value", [{"field": "spec"}])))
    with pytest.raises(StatusRefused, match="spec: Required value"):
        await writer.patch_status(namespace="shop", name="web", status={})
    stub.answers.append((422, status_body(422, "Invalid", "bad phase", [{"field": "status.phase"}])))
    with pytest.raises(ApiError) as ours:  # our own patch is wrong: not the object's fault
        await writer.patch_status(namespace="shop", name="web", status={})
    assert ours.value.status == 422 and '"status.phase"' in ours.value.body and "bad phase" in str(ours.value)


async def test_the_waves_seam_reads_409_as_already_exists_and_sends_json_patches(stub: StubApi):
    api = KubeWaveApi()
    stub.answers.append((409, status_body(409, "AlreadyExists", "already exists")))
    with pytest.raises(AlreadyExists):
        await api.create_release("shop", {"metadata": {"name": "web-eu"}})
    await api.patch_release("shop", "web-eu", [{"op": "replace", "path": "/spec/paused", "value": False}])
    stub.answers.append((200, {"items": [{"metadata": {"name": "web-eu"}}]}))
    assert await api.list_releases("shop") == [{"metadata": {"name": "web-eu"}}]
    create, patch, listing = stub.seen
    assert (create.method, create.path) == ("POST", "/apis/ecsbg.dev/v1alpha1/namespaces/shop/ecsbluegreenreleases")
    assert patch.headers["Content-Type"] == "application/json-patch+json"
    assert listing.path == "/apis/ecsbg.dev/v1alpha1/namespaces/shop/ecsbluegreenreleases"


async def test_a_missing_template_is_none_and_a_secret_is_decoded(stub: StubApi):
    source = KubeTemplateSource(cache_seconds=0)
    stub.answers.append((404, status_body(404, "NotFound", "not found")))
    assert await source.template("ClusterEcsAnalysisTemplate", "shop", "smoke") is None
    stub.answers.append((200, {"data": {"url": "aHR0cDovL3g="}}))
    assert await source.secret("shop", "creds", "url") == "http://x"
    assert [s.path for s in stub.seen] == ["/apis/ecsbg.dev/v1alpha1/clusterecsanalysistemplates/smoke",
                                           "/api/v1/namespaces/shop/secrets/creds"]
    stub.answers.append((403, status_body(403, "Forbidden", "secrets is forbidden")))
    with pytest.raises(ApiError) as refused:
        await source.secret("shop", "other", "url")
    assert refused.value.status == 403 and refused.value.reason == "Forbidden"


def test_an_answer_nobody_reads_is_not_decoded_and_an_error_still_raises(stub: StubApi):
    """decode=False (status writes and Events, whose answer is the whole object): None, on the same connection
    as the next request; an error answer still raises with its body."""
    api = RestClient(Credentials(server=stub.url, token=StaticToken("t")))
    stub.answers += [(200, {"kind": "EcsBlueGreenRelease", "status": {"history": ["x"] * 100}}),
                     (200, {"kind": "EcsBlueGreenRelease"}),
                     (409, status_body(409, "Conflict", "the object has been modified"))]
    assert api.patch("/apis/x/status", {"status": {}}, decode=False) is None
    assert api.patch("/apis/x/status", {"status": {}}) == {"kind": "EcsBlueGreenRelease"}
    with pytest.raises(ApiError, match="the object has been modified"):
        api.post("/api/v1/namespaces/n/events", {}, decode=False)


def test_a_401_makes_the_token_source_fetch_anew(stub: StubApi):
    class Counting(StaticToken):
        invalidated = 0

        def invalidate(self) -> None:
            self.invalidated += 1

    token = Counting("old")
    api = RestClient(Credentials(server=stub.url, token=token))
    stub.answers.append((401, status_body(401, "Unauthorized", "Unauthorized")))
    with pytest.raises(ApiError):
        api.get("/version")
    assert token.invalidated == 1


def test_a_refused_connection_is_a_connection_error():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = RestClient(Credentials(server=f"http://127.0.0.1:{port}"), timeout=2)
    with pytest.raises(ApiUnreachable) as caught:
        api.get("/version")
    assert isinstance(caught.value, ConnectionError) and _unreachable(caught.value)


def test_a_server_that_never_answers_fails_after_the_read_timeout():
    silent = Silent()
    try:
        api = RestClient(Credentials(server=silent.url), timeout=(2, 0.5))
        started = time.monotonic()
        with pytest.raises(ApiTimeout) as caught:
            api.get("/version")
        took = time.monotonic() - started
    finally:
        silent.close()
    assert 0.4 < took < 5, took
    assert isinstance(caught.value, ConnectionError) and isinstance(caught.value, TimeoutError)
    assert _unreachable(caught.value)
