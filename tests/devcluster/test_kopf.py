"""The real kopf runtime against the devcluster over HTTP: handlers, timers, status patches, finalizers, events."""

from __future__ import annotations

import json

import kopf

from .conftest import wait_for, widget_yaml

GROUP, VERSION, PLURAL = "test.ecsbg.dev", "v1", "widgets"


def _get(kubectl, ns, name):
    result = kubectl("get", "widget", name, "-n", ns, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_create_update_timer_delete(widgets, run_kopf, kubectl, k8s_namespace):
    registry = kopf.OperatorRegistry()
    calls: dict[str, list] = {"create": [], "update": [], "delete": []}

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    def created(spec, patch, body, **_):
        calls["create"].append(spec["size"])
        kopf.info(body, reason="Created", message=f"size is {spec['size']}")
        patch.status["phase"] = "Ready"
        patch.status["conditions"] = [{"type": "Ready", "status": "True"}]
        patch.status["notInSchema"] = "dropped by pruning"
        return {"message": "handler results land in status.created, which the schema does not declare"}

    @kopf.on.update(GROUP, VERSION, PLURAL, field="spec.size", registry=registry)
    def resized(new, meta, patch, **_):
        calls["update"].append(new)
        patch.status["observedGeneration"] = meta["generation"]

    @kopf.timer(GROUP, VERSION, PLURAL, interval=0.2, registry=registry)
    def tick(status, patch, **_):
        patch.status["handlers"] = {"ticks": (status.get("handlers") or {}).get("ticks", 0) + 1}

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
    def deleted(name, **_):
        calls["delete"].append(name)

    run_kopf(registry, namespaces=[k8s_namespace])
    ns = k8s_namespace
    kubectl("apply", "-f", "-", input=widget_yaml("w1", ns, size=3))
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "widget/w1", "-n", ns, "--timeout=20s")

    obj = _get(kubectl, ns, "w1")
    assert calls["create"] == [3]
    assert "kopf.zalando.org/KopfFinalizerMarker" in obj["metadata"]["finalizers"]
    # structural pruning: undeclared status fields written by the operator are gone, declared ones kept
    assert "notInSchema" not in obj["status"] and "created" not in obj["status"]
    assert obj["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert obj["status"]["observedGeneration"] == -1  # schema default
    assert obj["metadata"]["generation"] == 1  # status and finalizer writes do not bump generation

    wait_for(lambda: (_get(kubectl, ns, "w1")["status"].get("handlers") or {}).get("ticks", 0) >= 3,
             message="three timer ticks")

    events = wait_for(lambda: [e for e in json.loads(kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
                               if e["reason"] == "Created"], message="the Created event")
    assert events[0]["involvedObject"]["name"] == "w1" and events[0]["message"] == "size is 3"

    kubectl("patch", "widget", "w1", "-n", ns, "--type=merge", "-p", '{"spec": {"size": 5}}')
    wait_for(lambda: _get(kubectl, ns, "w1")["status"]["observedGeneration"] == 2, message="observedGeneration 2")
    assert calls["update"] == [5]

    kubectl("delete", "widget", "w1", "-n", ns, "--timeout=20s")  # blocks until kopf removes its finalizer
    # at least once, not exactly once: on the real server the timer's last status patch can reach kopf's watch
    # after the handler ran and before its finalizer-removal patch lands; kopf then processes that stale body
    # (finalizer still on) and runs the handler again. Deletion handlers must be idempotent (ecsbg.deletion is).
    assert calls["delete"] and set(calls["delete"]) == {"w1"}
    assert _get(kubectl, ns, "w1") is None


def test_resume_after_restart(widgets, run_kopf, kubectl, k8s_namespace):
    ns = k8s_namespace
    first = kopf.OperatorRegistry()

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=first)
    def created(patch, **_):
        patch.status["phase"] = "Pending"

    operator = run_kopf(first, namespaces=[ns])
    kubectl("apply", "-f", "-", input=widget_yaml("w2", ns, size=2))
    kubectl("wait", "--for=jsonpath={.status.phase}=Pending", "widget/w2", "-n", ns, "--timeout=20s")
    operator.stop()

    second = kopf.OperatorRegistry()
    resumed = []

    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=second)
    def resume(name, patch, **_):
        resumed.append(name)
        patch.status["phase"] = "Ready"

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=second)
    def created_again(name, **_):
        raise AssertionError(f"{name} was already handled: only resume handlers may run")

    run_kopf(second, namespaces=[ns])
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "widget/w2", "-n", ns, "--timeout=20s")
    assert resumed == ["w2"]
