"""The API over plain HTTP, as kopf's client sees it: metadata stamping, lists, watch replay, conflicts, 410."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from ecsbg_emulators.devcluster import DevCluster

from .conftest import WIDGETS_CRD

BASE = "/apis/test.ecsbg.dev/v1/namespaces/default/widgets"


@pytest.fixture
def cluster():
    """A private server: these tests look at global resourceVersions and event logs."""
    with DevCluster(host="127.0.0.1", port=0) as dev:
        dev.apply(WIDGETS_CRD)
        yield dev


class Client:
    def __init__(self, url: str) -> None:
        self.netloc = urlsplit(url).netloc

    def request(self, method, path, body=None, content_type="application/json", accept="application/json"):
        conn = http.client.HTTPConnection(self.netloc, timeout=10)
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": content_type, "Accept": accept})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, json.loads(data) if data else None, resp.headers

    def watch(self, path: str, count: int, accept="application/json") -> tuple[list[dict], str]:
        """Read `count` events (or until the server ends the stream)."""
        conn = http.client.HTTPConnection(self.netloc, timeout=10)
        conn.request("GET", path, headers={"Accept": accept})
        resp = conn.getresponse()
        events = []
        while len(events) < count:
            line = resp.readline()
            if not line:
                break
            events.append(json.loads(line))
        conn.close()
        return events, resp.headers.get("Content-Type")


@pytest.fixture
def client(cluster):
    return Client(cluster.url)


def widget(name, **spec):
    return {"apiVersion": "test.ecsbg.dev/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": {"size": 1, **spec}}


def test_create_stamps_metadata_and_list_has_kind(client):
    status, obj, _ = client.request("POST", BASE, widget("a"))
    assert status == 201
    meta = obj["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 0 and meta["namespace"] == "default"
    status, listed, _ = client.request("GET", BASE)
    assert (listed["kind"], listed["apiVersion"]) == ("WidgetList", "test.ecsbg.dev/v1")
    assert listed["metadata"]["resourceVersion"].isdigit()
    assert int(listed["metadata"]["resourceVersion"]) >= int(meta["resourceVersion"])
    status, again, _ = client.request("POST", BASE, widget("a"))
    assert status == 409 and again["reason"] == "AlreadyExists"


def test_lists_are_sorted_by_name_like_etcd_keys(client):
    for name in ("b", "c", "a"):
        client.request("POST", BASE, widget(name))
    client.request("PATCH", f"{BASE}/b", {"spec": {"size": 2}}, "application/merge-patch+json")
    _, listed, _ = client.request("GET", BASE)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b", "c"]


def test_core_namespaces_path(client):
    status, listed, _ = client.request("GET", "/api/v1/namespaces")
    assert status == 200 and "default" in [n["metadata"]["name"] for n in listed["items"]]
    status, ns, _ = client.request("GET", "/api/v1/namespaces/default")
    assert status == 200 and ns["status"]["phase"] == "Active"
    status, err, _ = client.request("POST", "/apis/test.ecsbg.dev/v1/namespaces/nope/widgets", widget("x"))
    assert status == 404 and err["message"] == 'namespaces "nope" not found'


def test_discovery_lists_crd_with_status_subresource(client):
    _, resources, _ = client.request("GET", "/apis/test.ecsbg.dev/v1")
    names = {r["name"]: r for r in resources["resources"]}
    assert names["widgets"]["shortNames"] == ["wd"] and names["widgets"]["namespaced"] is True
    assert "widgets/status" in names and "shortNames" not in names["widgets/status"]
    _, core, _ = client.request("GET", "/api/v1")
    assert core["groupVersion"] == "v1"
    _, groups, _ = client.request("GET", "/apis")
    assert "test.ecsbg.dev" in [g["name"] for g in groups["groups"]]


def test_watch_replays_from_resource_version(client):
    _, first, _ = client.request("POST", BASE, widget("a"))
    rv = first["metadata"]["resourceVersion"]
    client.request("POST", BASE, widget("b"))
    client.request("PATCH", f"{BASE}/a", {"spec": {"size": 2}}, "application/merge-patch+json")
    client.request("DELETE", f"{BASE}/b")
    events, content_type = client.watch(f"{BASE}?watch=true&resourceVersion={rv}&timeoutSeconds=5", 3)
    assert content_type.startswith("application/json")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == \
        [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_watch_without_rv_sends_current_state_and_honours_selectors(client):
    client.request("POST", BASE, {**widget("a"), "metadata": {"name": "a", "labels": {"tier": "gold"}}})
    client.request("POST", BASE, widget("b"))
    events, _ = client.watch(f"{BASE}?watch=1&labelSelector=tier%3Dgold&timeoutSeconds=1", 5)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a")]
    events, _ = client.watch(f"{BASE}?watch=1&fieldSelector=metadata.name%3Db&timeoutSeconds=1", 5)
    assert [e["object"]["metadata"]["name"] for e in events] == ["b"]


def test_watch_too_old_rv_is_410_gone(cluster, client):
    cluster.store.log_size = 4  # compact quickly, like etcd would
    for index in range(10):
        client.request("POST", BASE, widget(f"w{index}"))
    events, _ = client.watch(f"{BASE}?watch=1&resourceVersion=1&timeoutSeconds=5", 1)
    assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
    assert events[0]["object"]["reason"] == "Expired"


def test_generation_and_no_op_writes(client):
    _, obj, _ = client.request("POST", BASE, widget("g"))
    rv = obj["metadata"]["resourceVersion"]
    _, same, _ = client.request("PATCH", f"{BASE}/g", {"spec": {"size": 1}}, "application/merge-patch+json")
    assert same["metadata"]["resourceVersion"] == rv  # nothing changed: nothing written
    _, meta_only, _ = client.request("PATCH", f"{BASE}/g", {"metadata": {"annotations": {"a": "b"}}},
                                     "application/merge-patch+json")
    assert meta_only["metadata"]["generation"] == 1 and meta_only["metadata"]["resourceVersion"] != rv
    _, status_only, _ = client.request("PATCH", f"{BASE}/g/status", {"status": {"phase": "Ready"}},
                                       "application/merge-patch+json")
    assert status_only["metadata"]["generation"] == 1 and status_only["status"]["phase"] == "Ready"
    _, spec, _ = client.request("PATCH", f"{BASE}/g", {"spec": {"size": 3}}, "application/merge-patch+json")
    assert spec["metadata"]["generation"] == 2 and spec["status"]["phase"] == "Ready"


def test_update_conflicts_and_rv_required(client):
    _, obj, _ = client.request("POST", BASE, widget("c"))
    stale = json.loads(json.dumps(obj))
    obj["spec"]["size"] = 2
    status, _, _ = client.request("PUT", f"{BASE}/c", obj)
    assert status == 200
    stale["spec"]["size"] = 3
    status, err, _ = client.request("PUT", f"{BASE}/c", stale)
    assert status == 409 and err["reason"] == "Conflict" and "the object has been modified" in err["message"]
    del stale["metadata"]["resourceVersion"]
    status, err, _ = client.request("PUT", f"{BASE}/c", stale)
    assert status == 422 and "metadata.resourceVersion" in err["message"]


def test_put_status_keeps_spec(client):
    _, obj, _ = client.request("POST", BASE, widget("p"))
    obj["spec"]["size"] = 50
    obj["status"] = {"phase": "Ready", "junk": 1}
    status, updated, _ = client.request("PUT", f"{BASE}/p/status", obj)
    assert status == 200 and updated["spec"]["size"] == 1
    assert updated["status"] == {"phase": "Ready", "observedGeneration": -1}  # junk pruned, default applied


def test_unknown_field_warning_header_and_strict(client):
    body = widget("u")
    body["spec"]["colour"] = "red"
    status, obj, headers = client.request("POST", BASE, body)
    assert status == 201 and "colour" not in obj["spec"]
    assert 'unknown field \\"spec.colour\\"' in headers.get("Warning")
    body["metadata"]["name"] = "u2"
    status, err, _ = client.request("POST", BASE + "?fieldValidation=Strict", body)
    assert status == 400 and 'strict decoding error: unknown field "spec.colour"' in err["message"]


def test_server_side_apply_is_refused(client):
    client.request("POST", BASE, widget("s"))
    status, err, _ = client.request("PATCH", f"{BASE}/s", widget("s"), "application/apply-patch+yaml")
    assert status == 415 and "server-side apply" in err["message"]


def test_table_response(client):
    client.request("POST", BASE, widget("t", mode="Slow"))
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    _, table, _ = client.request("GET", BASE, accept=accept)
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Mode", "Size", "Phase", "Ready", "Owner", "Age"]
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["t", "Slow", 1, None] and cells[6].endswith("s")
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_crd_delete_removes_kind_and_objects(cluster, client):
    client.request("POST", BASE, widget("d"))
    cluster.delete("apiextensions.k8s.io/v1", "customresourcedefinitions", None, "widgets.test.ecsbg.dev")
    status, _, _ = client.request("GET", BASE)
    assert status == 404
    cluster.apply(WIDGETS_CRD)
    _, listed, _ = client.request("GET", BASE)
    assert listed["items"] == []


def test_a_client_gone_mid_body_stores_nothing_and_logs_no_traceback(cluster, client, caplog):
    """A connection cut while the body is sent (the soak's resets) is dropped like kube-apiserver drops it."""
    import socket
    import time

    host, port = urlsplit(cluster.url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(f"POST {BASE} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    "Content-Length: 1000\r\n\r\n{\"apiVersion\": ".encode())
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
    time.sleep(0.3)
    status, listed, _ = client.request("GET", BASE)
    assert status == 200 and listed["items"] == []
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
