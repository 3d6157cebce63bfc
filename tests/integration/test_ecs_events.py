"""Event-driven updates (ECSBG_EVENTS_QUEUE_URL; real kopf, real boto3, the ECS emulator, moto's SQS): with a
10-second poll, a release whose pause was approved in ECS directly (nothing changed in Kubernetes to wake it) is
Succeeded within seconds: the emulator sends the "ECS Deployment State Change" event ECS documents to the queue, as
an EventBridge rule with an SQS target would. Consumed messages are deleted; with the queue deleted, polling still
carries the next attempt to its end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import boto3
import kopf
import pytest

from ecsbg.domain.ecsevents import event
from ecsbg.handlers import build_registry
from ecsbg_emulators.ecs.events import SqsSink
from tests.integration.conftest import ReleaseEnv, make_deps, release_manifest
from tests.plugins.moto import moto_server

POLL = 10.0
PAUSE = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 1440, "action": "Rollback"}}]


def _wait_ecs(env: ReleaseEnv, arn: str, predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        deployment = env.client.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        found = predicate(deployment)
        if found:
            return found
        assert time.monotonic() < deadline, f"ECS deployment {arn}: {deployment.get('status')}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def sqs_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_an_ecs_event_wakes_its_release_long_before_the_next_poll(release_env: ReleaseEnv, run_kopf, sqs_url,
                                                                   monkeypatch) -> None:
    env = release_env
    sqs = boto3.client("sqs", endpoint_url=sqs_url, region_name="us-east-1", aws_access_key_id="moto",
                       aws_secret_access_key="moto")
    queue = sqs.create_queue(QueueName=f"ecs-events-{env.namespace}")["QueueUrl"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_url)
    # the emulator sends the "ECS Deployment State Change" events ECS documents, as EventBridge -> SQS would
    monkeypatch.setattr(env.ecs.backend.world, "events", SqsSink(queue))
    deps = make_deps(env.ecs.url, poll=POLL)
    deps.settings = replace(deps.settings, events_queue_url=queue, poll_idle_seconds=60.0)
    run_kopf(build_registry(deps.settings), namespaces=(env.namespace,), memo=kopf.Memo(deps=deps))

    env.apply(release_manifest("web", env.namespace, hooks=PAUSE))
    service_arn = env.client.describe_services(cluster="demo", services=["web"])["services"][0]["serviceArn"]
    status = env.wait_status("web", lambda s: s.get("deployment", {}).get("arn"), what="the deployment started")
    arn = status["deployment"]["arn"]
    hook = _wait_ecs(env, arn, lambda d: [h["hookId"] for h in d.get("lifecycleHookDetails", [])
                                          if h.get("status") == "AWAITING_ACTION"])[0]
    sqs.send_message(QueueUrl=queue, MessageBody=event(service_arn, "SERVICE_DEPLOYMENT_IN_PROGRESS"))
    env.wait_phase("web", "AwaitingApproval", timeout=POLL / 2)  # an event (ours: ECS emits none for a pause)

    # approved in ECS directly (the console, the CLI): nothing changes in Kubernetes, so nothing wakes the loop
    sqs.send_message(QueueUrl=queue, MessageBody="not an event")  # ignored and deleted, nothing breaks
    sent = time.monotonic()
    env.client.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook, action="CONTINUE")
    _wait_ecs(env, arn, lambda d: d["status"] == "SUCCESSFUL")
    env.wait_status("web", lambda s: s.get("phase") == "Succeeded", timeout=POLL / 2,
                    what="Succeeded after the emulator's SERVICE_DEPLOYMENT_COMPLETED event")
    latency = time.monotonic() - sent
    print(f"approved in ECS -> Succeeded in {latency:.2f} s (poll {POLL:.0f} s)")
    assert latency < 5.0
    deadline = time.monotonic() + 10
    while int(sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"]):
        assert time.monotonic() < deadline, "the consumed messages are deleted"
        time.sleep(0.1)

    # the queue is gone: the consumer only logs, and polling carries the next attempt to its end
    sqs.delete_queue(QueueUrl=queue)
    monkeypatch.setattr(env.ecs.backend.world, "events", None)
    env.apply(release_manifest("web", env.namespace, image="public.ecr.aws/nginx/nginx:1.30"))
    status = env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "Succeeded",
                             timeout=2 * POLL + 10, what="attempt 2 Succeeded by polling")
    assert status["revision"]
