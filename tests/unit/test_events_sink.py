"""The Kubernetes Events sink: what a posted Event says (who made it, the action, the object), and that posting
never fails or blocks a reconcile."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ecsbg.domain.events import EventRecord
from ecsbg.k8s.events import COMPONENT, KubeEventSink, event_body

RELEASE = {"apiVersion": "ecsbg.dev/v1alpha1", "kind": "EcsBlueGreenRelease",
           "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42"}}


def test_event_body_names_the_operator_the_action_and_the_release():
    record = EventRecord("Normal", "Approved", "ContinueServiceDeployment CONTINUE (requested by alice)")
    body = event_body(RELEASE, record, instance="ecsbg-7d9f", now=datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
    assert body["source"] == {"component": COMPONENT, "host": "ecsbg-7d9f"} and COMPONENT == "ecsbg-operator"
    assert (body["reportingComponent"], body["reportingInstance"]) == (COMPONENT, "ecsbg-7d9f")
    assert body["action"] == "ContinueServiceDeployment" and body["reason"] == "Approved"
    assert body["involvedObject"] == {"apiVersion": "ecsbg.dev/v1alpha1", "kind": "EcsBlueGreenRelease",
                                      "name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42"}
    assert body["metadata"] == {"generateName": "web.", "namespace": "shop"}
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2026-11-22T10:00:00Z" and body["count"] == 1


def test_every_reason_has_an_action_and_long_messages_are_cut():
    body = event_body(RELEASE, EventRecord("Warning", "SomethingNew", "x" * 5000), instance="i",
                      now=datetime.now(UTC))
    assert body["action"] == "Reconcile" and len(body["message"]) == 1024 and body["message"].endswith("...")


class Api:
    """k8s.rest.RestClient's `post`, recording (namespace, Event) from the core/v1 events path."""

    def __init__(self, fail: bool = False) -> None:
        self.posted: list[tuple[str, dict]] = []
        self.timeouts: list[float | None] = []
        self.fail = fail

    def post(self, path, body, *, query=None, timeout=None, decode=True):
        self.timeouts.append(timeout)
        if self.fail:
            raise RuntimeError("403 forbidden")
        prefix, namespace, resource = path.rsplit("/", 2)
        assert (prefix, resource) == ("/api/v1/namespaces", "events"), path
        self.posted.append((namespace, body))


def test_events_are_posted_in_order_and_a_refusal_is_only_logged(caplog):
    api = Api()
    sink = KubeEventSink(api=api, instance="i", timeout=7.0)
    sink.emit(RELEASE, [EventRecord("Normal", "AttemptStarted", "a"), EventRecord("Normal", "DeploymentStarted", "b")])
    sink.close()
    assert [(ns, b["reason"]) for ns, b in api.posted] == [("shop", "AttemptStarted"), ("shop", "DeploymentStarted")]
    assert api.timeouts == [7.0, 7.0], "a half-open connection must not hold the Events thread forever"
    failing = KubeEventSink(api=Api(fail=True), instance="i")
    failing.emit(RELEASE, [EventRecord("Warning", "Drifted", "taskDefinition differs")])
    failing.close()
    assert "could not post Event Drifted about shop/web: 403 forbidden" in caplog.text


class SlowApi(Api):
    """An API server that accepts Events only when the test lets it (a gate), like one that is slow or down."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.gate = threading.Event()

    def post(self, path, body, *, query=None, timeout=None, decode=True):
        self.gate.wait(10)
        super().post(path, body, timeout=timeout)


def _release(name: str) -> dict:
    return {**RELEASE, "metadata": {**RELEASE["metadata"], "name": name}}


def test_the_backlog_is_bounded_drops_the_oldest_and_counts_them(caplog):
    api, dropped = SlowApi(), []
    sink = KubeEventSink(api=api, instance="i", workers=1, backlog=5, on_drop=dropped.append)
    sink.emit(RELEASE, [EventRecord("Normal", "StageChanged", "m0")])
    deadline = time.monotonic() + 5
    while sink.waiting and time.monotonic() < deadline:  # the worker takes m0 and blocks at the gate
        time.sleep(0.01)
    for n in range(1, 20):  # the rest wait, 5 at most
        sink.emit(RELEASE, [EventRecord("Normal", "StageChanged", f"m{n}")])
    assert sink.waiting == 5
    api.gate.set()
    assert sink.flush()
    sink.close()
    messages = [b["message"] for _, b in api.posted]
    assert messages == ["m0", *(f"m{n}" for n in range(15, 20))], "the newest are kept"
    assert sum(dropped) == 14
    assert "dropped" in caplog.text and "status still records every transition" in caplog.text


def test_each_release_keeps_its_order_across_workers():
    api = Api()
    sink = KubeEventSink(api=api, instance="i", workers=4)
    for n in range(50):
        for name in ("a", "b", "c"):
            sink.emit(_release(name), [EventRecord("Normal", "StageChanged", f"{name}{n}")])
    sink.close()
    for name in ("a", "b", "c"):
        assert [b["message"] for _, b in api.posted if b["involvedObject"]["name"] == name] == \
            [f"{name}{n}" for n in range(50)]


def test_nothing_is_queued_after_close():
    api = Api()
    sink = KubeEventSink(api=api, instance="i")
    sink.close()
    sink.emit(RELEASE, [EventRecord("Normal", "StageChanged", "late")])
    assert sink.waiting == 0 and api.posted == []
