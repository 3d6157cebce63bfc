"""The emulator's ECS events (`--events-queue`): one "ECS Deployment State Change" per documented status change,
shaped as the AWS docs show it ([doc: Amazon ECS service deployment state change events])."""

from __future__ import annotations

import json

from tests.emulator.helpers import deploy, wait_finished, wait_until
from tests.plugins.ecs import seed_service


class Sink:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send(self, message: str) -> None:
        self.sent.append(json.loads(message))


def test_a_deployment_and_a_rollback_send_the_documented_events(ecs, ecs_emulator, monkeypatch):
    sink = Sink()
    monkeypatch.setattr(ecs_emulator.backend.world, "events", sink)
    service = seed_service(ecs, bake_time_in_minutes=1440)
    sink.sent.clear()  # the seeding deployment's own events
    arn = deploy(ecs)
    wait_until(ecs, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert wait_finished(ecs, arn)["status"] == "ROLLBACK_SUCCESSFUL"
    names = [(e["detail"]["eventName"], e["detail"]["eventType"]) for e in sink.sent]
    assert names == [("SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO"), ("SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO"),
                     ("SERVICE_DEPLOYMENT_FAILED", "ERROR")]
    first = sink.sent[0]
    assert (first["source"], first["detail-type"], first["resources"]) == (
        "aws.ecs", "ECS Deployment State Change", [service["serviceArn"]])
    assert first["detail"]["deploymentId"].startswith("ecs-svc/") and first["detail"]["clusterArn"].endswith(
        ":cluster/demo")

    sink.sent.clear()
    done = wait_finished(ecs, deploy(ecs, deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0}))
    assert done["status"] == "SUCCESSFUL"
    assert [e["detail"]["eventName"] for e in sink.sent] == ["SERVICE_DEPLOYMENT_IN_PROGRESS",
                                                             "SERVICE_DEPLOYMENT_COMPLETED"]
