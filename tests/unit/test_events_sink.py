"""The Kubernetes Events sink: what a posted Event says (who made it, the action, the object), and that posting
never fails or blocks a reconcile."""

from __future__ import annotations

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
    def __init__(self, fail: bool = False) -> None:
        self.posted: list[tuple[str, dict]] = []
        self.timeouts: list[float | None] = []
        self.fail = fail

    def create_namespaced_event(self, namespace, body, _request_timeout=None):
        self.timeouts.append(_request_timeout)
        if self.fail:
            raise RuntimeError("403 forbidden")
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
