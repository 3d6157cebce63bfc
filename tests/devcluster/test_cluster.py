"""DevCluster's in-process helpers and the `ecsbg dev-cluster` command."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import yaml

from ecsbg_emulators.devcluster import DevCluster
from ecsbg_emulators.devcluster.errors import ApiError

from .conftest import WIDGETS_CRD, WIDGETS_GV, wait_for


@pytest.fixture
def cluster():
    with DevCluster(host="127.0.0.1", port=0) as dev:
        dev.apply(WIDGETS_CRD)
        yield dev


def widget(name, **spec):
    return {"apiVersion": WIDGETS_GV, "kind": "Widget", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


def test_apply_is_a_three_way_merge_like_kubectl(cluster):
    cluster.apply(widget("a", size=2, owner="x", tags=["t"]))
    cluster.patch(WIDGETS_GV, "widgets", "default", "a", {"metadata": {"finalizers": ["op/f"]}})
    cluster.patch(WIDGETS_GV, "widgets", "default", "a", {"status": {"phase": "Ready"}}, subresource="status")
    cluster.apply(widget("a", size=3, tags=["t"]))  # owner dropped from the manifest
    obj = cluster.get(WIDGETS_GV, "widgets", "default", "a")
    assert obj["spec"]["size"] == 3 and "owner" not in obj["spec"]
    assert obj["metadata"]["finalizers"] == ["op/f"] and obj["status"]["phase"] == "Ready"  # not ours to drop
    assert obj["metadata"]["generation"] == 2


def test_get_list_and_errors(cluster):
    assert cluster.get(WIDGETS_GV, "widgets", "default", "missing") is None
    cluster.apply({**widget("l", size=1), "metadata": {"name": "l", "labels": {"app": "x"}}})
    cluster.apply(widget("m", size=1))
    assert [o["metadata"]["name"] for o in cluster.list(WIDGETS_GV, "widgets", "default", "app=x")] == ["l"]
    assert len(cluster.list(WIDGETS_GV, "widgets")) == 2
    with pytest.raises(ApiError) as caught:
        cluster.apply(widget("bad", size=0))
    assert caught.value.code == 422 and "spec.size" in caught.value.message


def test_in_process_writes_reach_http_watchers(cluster):
    rv = cluster.apply(widget("w", size=1))[0]["metadata"]["resourceVersion"]
    cluster.patch(WIDGETS_GV, "widgets", "default", "w", {"spec": {"size": 4}})
    conn = http.client.HTTPConnection(urlsplit(cluster.url).netloc, timeout=10)
    conn.request("GET", f"/apis/test.ecsbg.dev/v1/namespaces/default/widgets?watch=1&resourceVersion={rv}")
    event = json.loads(conn.getresponse().readline())
    conn.close()
    assert event["type"] == "MODIFIED" and event["object"]["spec"]["size"] == 4


def test_kubeconfig(cluster, tmp_path):
    path = cluster.write_kubeconfig(tmp_path / "sub" / "kubeconfig")
    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == "ecsbg-dev"
    context = config["contexts"][0]["context"]
    assert context["namespace"] == "default"
    assert config["clusters"][0]["cluster"]["server"] == cluster.url
    assert config["users"][0]["user"]["token"]


def test_stop_ends_open_watches(tmp_path):
    cluster = DevCluster().start()
    conn = http.client.HTTPConnection(urlsplit(cluster.url).netloc, timeout=10)
    conn.request("GET", "/api/v1/namespaces?watch=1")
    resp = conn.getresponse()
    assert json.loads(resp.readline())["type"] == "ADDED"
    cluster.stop()
    assert not cluster._thread.is_alive()
    conn.close()


def test_dev_cluster_command_serves_until_sigterm(tmp_path):
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not on PATH")
    (tmp_path / "crds").mkdir()
    shutil.copy(WIDGETS_CRD, tmp_path / "crds" / "widgets.yaml")
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen([sys.executable, "-m", "ecsbg", "dev-cluster", "--port", "0", "--kubeconfig",
                             str(kubeconfig)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert "applied crds/widgets.yaml" in proc.stdout.readline()
        assert proc.stdout.readline().startswith("Kubernetes API at http://127.0.0.1:")
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        item = json.dumps(widget("cli", size=2, mode="Fast"))
        subprocess.run(["kubectl", "apply", "-f", "-"], input=item, env=env, check=True, capture_output=True,
                       text=True, timeout=30)
        out = subprocess.run(["kubectl", "get", "widgets"], env=env, check=True, capture_output=True, text=True,
                             timeout=30).stdout.splitlines()
        assert out[0].split()[:3] == ["NAME", "MODE", "SIZE"] and out[1].split()[:3] == ["cli", "Fast", "2"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert wait_for(lambda: proc.poll() is not None, timeout=15, message="exit on SIGTERM")
    assert proc.returncode == 0
