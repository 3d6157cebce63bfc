"""The dev cluster against the real kube-apiserver: the same requests to both, the answers compared.

Each step sends one request (create, get, merge/JSON/strategic patches, the status subresource, invalid objects,
unknown fields, stale updates, lists, Table output, watches from a resourceVersion, delete) to both servers in a
namespace of the same name. Answers are normalised (uids, resourceVersions, timestamps, managedFields, the
namespace's and server's own fields) and must be equal, status code and body. A difference the dev cluster does
not reproduce on purpose is listed in KNOWN with its reason (and in docs/devcluster.md).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from tests.plugins.apiserver import PATCH_TYPES
from tests.plugins.controlplane import REPO_ROOT
from tests.plugins.k8s import run_kubectl

WIDGETS = REPO_ROOT / "tests" / "devcluster" / "widgets-crd.yaml"
GV = "test.ecsbg.dev/v1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
VOLATILE = {"uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp"}

# step -> why the dev cluster answers differently (docs/devcluster.md, "What it does not do")
KNOWN: dict[str, str] = {
}


class Server:
    def __init__(self, url: str, context: ssl.SSLContext | None) -> None:
        self.url, self.context = url, context

    def send(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
             accept: str = "application/json") -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": content_type, "Accept": accept})
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as answer:
                return answer.status, _decode(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())


def _decode(raw: bytes) -> Any:
    text = raw.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:  # a watch stream: one JSON event per line
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: normalise(v) for k, v in value.items() if k not in VOLATILE}
        if out.get("generateName") and str(out.get("name", "")).startswith(out["generateName"]):
            out["name"] = out["generateName"] + "*"  # the random suffix
        if "kind" in out and out.get("kind") == "Table":
            out.pop("metadata", None)
            for row in out.get("rows", []):
                row.pop("object", None)
                row["cells"] = row["cells"][:-1]  # Age: a duration since creation
        if out.get("kind", "").endswith("List"):
            out.pop("metadata", None)
        return out
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": GV, "kind": "Widget", "metadata": {"name": name, "labels": {"app": "diff"}},
            "spec": {"size": 3, **spec}}


def steps(ns: str) -> list[tuple[str, str, str, Any, dict[str, str]]]:
    """(name, method, path, body, headers) in order; each server gets them all."""
    base = f"/apis/{GV}/namespaces/{ns}/widgets"
    merge, jsonp, strategic = (PATCH_TYPES[k] for k in ("merge", "json", "strategic"))
    return [
        ("create", "POST", base, widget("a", tags=["x"]), {}),
        ("create-duplicate", "POST", base, widget("a"), {}),
        ("create-invalid-enum", "POST", base, widget("bad", mode="Turbo"), {}),
        ("create-invalid-cel", "POST", base, widget("bad", size=60, mode="Fast"), {}),
        ("create-invalid-maximum", "POST", base, widget("bad", size=1000), {}),
        ("create-unknown-field-strict", "POST", base + "?fieldValidation=Strict",
         {**widget("strict"), "spec": {"size": 2, "nope": 1}}, {}),
        ("create-unknown-field-ignore", "POST", base + "?fieldValidation=Ignore",
         {**widget("pruned"), "spec": {"size": 2, "nope": 1, "extra": {"kept": 1}}}, {}),
        ("get", "GET", f"{base}/a", None, {}),
        ("get-missing", "GET", f"{base}/missing", None, {}),
        ("merge-patch", "PATCH", f"{base}/a", {"spec": {"size": 4, "owner": "team-a"}}, {"Content-Type": merge}),
        ("json-patch", "PATCH", f"{base}/a", [{"op": "add", "path": "/spec/tags/-", "value": "y"}],
         {"Content-Type": jsonp}),
        ("json-patch-failed-test", "PATCH", f"{base}/a",
         [{"op": "test", "path": "/spec/size", "value": 99}], {"Content-Type": jsonp}),
        ("strategic-patch-on-cr", "PATCH", f"{base}/a", {"spec": {"size": 5}}, {"Content-Type": strategic}),
        ("status-patch", "PATCH", f"{base}/a/status", {"status": {"phase": "Ready"}, "spec": {"size": 9}},
         {"Content-Type": merge}),
        ("main-patch-ignores-status", "PATCH", f"{base}/a", {"status": {"phase": "Lost"}}, {"Content-Type": merge}),
        ("create-generate-name", "POST", base,
         {**widget(""), "metadata": {"generateName": "gen-", "labels": {"app": "other"}}}, {}),
        ("list", "GET", f"{base}?labelSelector=app%3Ddiff", None, {}),
        ("table", "GET", f"{base}?labelSelector=app%3Ddiff", None, {"Accept": TABLE}),
        ("table-wide", "GET", f"{base}/a?includeObject=None", None, {"Accept": TABLE}),
        ("delete", "DELETE", f"{base}/pruned", None, {}),
        ("delete-missing", "DELETE", f"{base}/pruned", None, {}),
    ]


@pytest.fixture
def servers(dev_cluster, real_cluster) -> tuple[Server, Server]:
    if dev_cluster is None:
        pytest.skip("K8S_E2E=1: no dev cluster to compare")
    run_kubectl("apply", "-f", str(WIDGETS))
    run_kubectl("wait", "--for=condition=Established", "crd/widgets.test.ecsbg.dev", "--timeout=30s")
    real_cluster.kubectl("apply", "-f", str(WIDGETS))
    real_cluster.kubectl("wait", "--for=condition=Established", "crd/widgets.test.ecsbg.dev", "--timeout=30s")
    return Server(dev_cluster.url, None), Server(real_cluster.plane.url, real_cluster.plane.ssl_context())


def test_the_dev_cluster_answers_like_kube_apiserver(servers) -> None:
    dev, real = servers
    ns = f"diff-{uuid.uuid4().hex[:8]}"
    for server in servers:
        assert server.send("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})[0] == 201
    differences = []
    watch_from: dict[int, str] = {}
    for name, method, path, body, headers in steps(ns):
        answers = []
        for server in (dev, real):
            code, answer = server.send(method, path, body, headers.get("Content-Type", "application/json"),
                                       headers.get("Accept", "application/json"))
            if name == "create":
                watch_from[id(server)] = answer["metadata"]["resourceVersion"]
            answers.append((code, normalise(answer)))
        if answers[0] != answers[1] and name not in KNOWN:
            differences.append((name, answers[0], answers[1]))
    for name, path in (("watch-from-rv", f"/apis/{GV}/namespaces/{ns}/widgets?watch=1&timeoutSeconds=1"),):
        answers = []
        for server in (dev, real):
            code, events = server.send("GET", f"{path}&resourceVersion={watch_from[id(server)]}")
            answers.append((code, [(e["type"], normalise(e["object"]).get("metadata", {}).get("name"))
                                   for e in events]))
        if answers[0] != answers[1] and name not in KNOWN:
            differences.append((name, answers[0], answers[1]))
    report = "\n\n".join(f"{n}:\n  dev cluster:    {json.dumps(d)}\n  kube-apiserver: {json.dumps(r)}"
                         for n, d, r in differences)
    assert not differences, report
