"""The real kubectl against the devcluster: apply, get (server-side columns), get -w, patch, wait, delete."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading

from .conftest import widget_yaml


def _obj(kubectl, ns, name, kind="widget"):
    result = kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_apply_get_prints_crd_columns(widgets, kubectl, k8s_namespace):
    ns = k8s_namespace
    out = kubectl("apply", "-f", "-", input=widget_yaml("w1", ns, size=7, mode="Fast", owner="team-a")).stdout
    assert out.strip() == "widget.test.ecsbg.dev/w1 created"
    kubectl("patch", "widget", "w1", "-n", ns, "--subresource=status", "--type=merge",
            "-p", '{"status": {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}}')

    lines = kubectl("get", "widgets", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "MODE", "SIZE", "PHASE", "READY", "AGE"]  # Owner has priority 1
    assert lines[1].split()[:5] == ["w1", "Fast", "7", "Ready", "True"]
    wide = kubectl("get", "wd", "-n", ns, "-o", "wide").stdout.splitlines()  # shortName, priority-1 column
    assert wide[0].split() == ["NAME", "MODE", "SIZE", "PHASE", "READY", "OWNER", "AGE"]
    assert wide[1].split()[5] == "team-a"
    by_category = kubectl("get", "ecsbgtest", "-A").stdout.splitlines()  # a category, all namespaces
    assert by_category[0].split()[:2] == ["NAMESPACE", "NAME"]  # kubectl takes it from the row's metadata
    assert [ns, "w1"] in [line.split()[:2] for line in by_category[1:]]


def test_list_kind_uid_rv_generation(widgets, kubectl, k8s_namespace):
    ns = k8s_namespace
    kubectl("apply", "-f", "-", input=widget_yaml("a", ns, size=1))
    kubectl("apply", "-f", "-", input=widget_yaml("b", ns, size=2))
    listed = json.loads(kubectl("get", "widgets", "-n", ns, "-o", "json").stdout)
    assert listed["kind"] == "List"  # kubectl's own wrapper; the server's WidgetList is checked in test_http
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"]
    a, b = listed["items"]
    assert a["metadata"]["uid"] != b["metadata"]["uid"]
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    assert a["metadata"]["creationTimestamp"].endswith("Z")

    kubectl("label", "widget", "a", "-n", ns, "tier=gold")  # metadata only: generation stays
    kubectl("patch", "widget", "a", "-n", ns, "--type=merge", "-p", '{"status": {"phase": "Ready"}}')  # ignored
    again = _obj(kubectl, ns, "a")
    assert again["metadata"]["generation"] == 1 and "phase" not in again["status"]
    kubectl("patch", "widget", "a", "-n", ns, "--type=merge", "-p", '{"spec": {"size": 4}}')
    assert _obj(kubectl, ns, "a")["metadata"]["generation"] == 2
    names = kubectl("get", "widgets", "-n", ns, "-l", "tier=gold", "-o", "name").stdout.split()
    assert names == ["widget.test.ecsbg.dev/a"]


def test_status_subresource_split(widgets, kubectl, k8s_namespace):
    ns = k8s_namespace
    kubectl("apply", "-f", "-", input=widget_yaml("s", ns, size=2))
    kubectl("patch", "widget", "s", "-n", ns, "--subresource=status", "--type=merge",
            "-p", '{"spec": {"size": 99}, "metadata": {"labels": {"x": "y"}}, "status": {"phase": "Failed"}}')
    obj = _obj(kubectl, ns, "s")
    assert obj["status"]["phase"] == "Failed"
    assert obj["spec"]["size"] == 2 and "labels" not in obj["metadata"]  # /status writes only status
    assert obj["metadata"]["generation"] == 1


def test_json_patch_test_op_is_422(widgets, kubectl, k8s_namespace):
    ns = k8s_namespace
    kubectl("apply", "-f", "-", input=widget_yaml("j", ns, size=2))
    rv = _obj(kubectl, ns, "j")["metadata"]["resourceVersion"]
    stale = json.dumps([{"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
                        {"op": "add", "path": "/metadata/finalizers", "value": ["x.test/f"]}])
    failed = kubectl("patch", "widget", "j", "-n", ns, "--type=json", "-p", stale, check=False)
    # kube-apiserver's generic 422 for any failed JSON patch, as kubectl prints it
    assert failed.returncode != 0 and "the server rejected our request" in failed.stderr
    fresh = stale.replace('"value": "1"', f'"value": "{rv}"')
    kubectl("patch", "widget", "j", "-n", ns, "--type=json", "-p", fresh)
    assert _obj(kubectl, ns, "j")["metadata"]["finalizers"] == ["x.test/f"]


def test_invalid_spec_refused_with_kube_message(widgets, kubectl, k8s_namespace):
    ns = k8s_namespace
    bad = kubectl("apply", "-f", "-", input=widget_yaml("bad", ns, size=0, mode="Turbo"), check=False)
    assert bad.returncode != 0
    assert 'spec.mode: Unsupported value: "Turbo": supported values: "Fast", "Slow", "Balanced"' in bad.stderr
    assert "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1" in bad.stderr
    unknown = kubectl("apply", "-f", "-", input=widget_yaml("unk", ns, size=1, colour="red"), check=False)
    assert unknown.returncode != 0 and 'unknown field "spec.colour"' in unknown.stderr  # --validate=strict
    assert _obj(kubectl, ns, "bad") is None and _obj(kubectl, ns, "unk") is None
    kubectl("apply", "--validate=false", "-f", "-", input=widget_yaml("unk", ns, size=1, colour="red"))
    assert "colour" not in _obj(kubectl, ns, "unk")["spec"]  # pruned silently, as on a cluster


def test_generate_name_and_events(widgets, kubectl, k8s_namespace):
    ns = k8s_namespace
    body = json.dumps({"apiVersion": "test.ecsbg.dev/v1", "kind": "Widget",
                       "metadata": {"generateName": "gen-", "namespace": ns}, "spec": {"size": 1}})
    names = {kubectl("create", "-f", "-", "-o", "name", input=body).stdout.strip() for _ in range(3)}
    assert len(names) == 3 and all(n.startswith("widget.test.ecsbg.dev/gen-") for n in names)
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "w.", "namespace": ns},
             "involvedObject": {"kind": "Widget", "name": "gen", "namespace": ns}, "reason": "Tested",
             "message": "hello", "type": "Normal"}
    for _ in range(2):  # two generated names: no 409 (kmock 0.8 stored both under the name None)
        kubectl("create", "-f", "-", input=json.dumps(event))
    table = kubectl("get", "events", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert [line.split()[-4:] for line in table[1:]] == [["Normal", "Tested", "widget/gen", "hello"]] * 2


class _Lines:
    """Reads a process's stdout lines on a thread so the test can wait for one with a deadline."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.lines = proc, queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, needle: str, timeout: float = 15) -> str:
        seen = []
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line with {needle!r} within {timeout}s; saw {seen}") from None
            seen.append(line)
            if needle in line:
                return line


def test_get_watch_streams_changes(widgets, kubectl, k8s_namespace):
    ns = k8s_namespace
    kubectl("apply", "-f", "-", input=widget_yaml("watched", ns, size=1))
    proc = subprocess.Popen(["kubectl", "get", "widgets", "-n", ns, "-w", "--output-watch-events"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        lines = _Lines(proc)
        assert lines.expect("NAME").split()[:3] == ["EVENT", "NAME", "MODE"]
        assert lines.expect("watched").split()[:2] == ["ADDED", "watched"]
        kubectl("patch", "widget", "watched", "-n", ns, "--type=merge", "-p", '{"spec": {"mode": "Slow"}}')
        assert lines.expect("MODIFIED").split()[:3] == ["MODIFIED", "watched", "Slow"]
        kubectl("delete", "widget", "watched", "-n", ns)
        assert lines.expect("DELETED").split()[:2] == ["DELETED", "watched"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_finalizer_blocks_delete_until_removed(widgets, kubectl, k8s_namespace):
    ns = k8s_namespace
    kubectl("apply", "-f", "-", input=widget_yaml("f", ns, size=1))
    kubectl("patch", "widget", "f", "-n", ns, "--type=merge", "-p", '{"metadata": {"finalizers": ["x.test/f"]}}')
    kubectl("delete", "widget", "f", "-n", ns, "--wait=false")
    obj = _obj(kubectl, ns, "f")
    assert obj["metadata"]["deletionTimestamp"] and obj["metadata"]["generation"] == 2
    added = kubectl("patch", "widget", "f", "-n", ns, "--type=merge", "-p",
                    '{"metadata": {"finalizers": ["x.test/f", "x.test/g"]}}', check=False)
    assert added.returncode != 0 and "no new finalizers can be added" in added.stderr
    waiter = subprocess.Popen(["kubectl", "wait", "--for=delete", "widget/f", "-n", ns, "--timeout=20s"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    kubectl("patch", "widget", "f", "-n", ns, "--type=json", "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert _obj(kubectl, ns, "f") is None


def test_namespaces_and_builtin_kinds(dev_cluster, kubectl, k8s_namespace):
    assert k8s_namespace in kubectl("get", "ns").stdout
    kubectl("create", "configmap", "cm1", "-n", k8s_namespace, "--from-literal=k=v")  # protobuf body
    assert json.loads(kubectl("get", "cm", "cm1", "-n", k8s_namespace, "-o", "json").stdout)["data"] == {"k": "v"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": k8s_namespace},
                  "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {
                      "metadata": {"labels": {"app": "d"}},
                      "spec": {"containers": [{"name": "a", "image": "example.invalid/a:1"},
                                                    {"name": "b", "image": "example.invalid/b:1"}]}}}}
    kubectl("apply", "-f", "-", input=json.dumps(deployment))
    deployment["spec"]["template"]["spec"]["containers"][1]["image"] = "example.invalid/b:2"
    kubectl("apply", "-f", "-", input=json.dumps(deployment))  # a strategic merge patch keyed by name
    containers = json.loads(kubectl("get", "deploy", "d", "-n", k8s_namespace, "-o", "json").stdout)["spec"][
        "template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("a", "example.invalid/a:1"), ("b", "example.invalid/b:2")]
    # on a real cluster the namespace controller first deletes the (never started) pods
    kubectl("delete", "ns", k8s_namespace, "--timeout=90s", timeout=120)  # waits: contents go first, then the namespace
    assert kubectl("get", "ns", k8s_namespace, check=False).returncode != 0


def test_wait_for_jsonpath_set_later(widgets, kubectl, k8s_namespace):
    ns = k8s_namespace
    kubectl("apply", "-f", "-", input=widget_yaml("wt", ns, size=1))
    waiter = subprocess.Popen(["kubectl", "wait", "--for=jsonpath={.status.phase}=Ready", "widget/wt", "-n", ns,
                               "--timeout=20s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=os.environ.copy())
    kubectl("patch", "widget", "wt", "-n", ns, "--subresource=status", "--type=merge",
            "-p", '{"status": {"phase": "Ready"}}')
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0 and "condition met" in out, err
