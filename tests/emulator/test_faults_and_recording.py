"""Fault injection, the request record (memory and --record file) and the HTTP control API."""

from __future__ import annotations

import json
import time
import urllib.request

import botocore.exceptions
import pytest

from ecsbg_emulators.ecs import EmulatorServer
from ecsbg_emulators.ecs.faults import parse
from tests.emulator.conftest import validating
from tests.emulator.helpers import deploy, wait_until
from tests.plugins.ecs import make_client, seed_service


@pytest.fixture
def once(ecs_emulator):
    """A client that does not retry, so every injected fault surfaces."""
    return validating(make_client(ecs_emulator.url, retries={"total_max_attempts": 1}))


@pytest.mark.parametrize(("spec", "code", "status"), [
    ("throttle@ListClusters", "ThrottlingException", 400),
    ("error@ListClusters", "ServerException", 500),
    ("unavailable@ListClusters", "ServiceUnavailableException", 503),
    ("deny@ListClusters", "AccessDeniedException", 400),
])
def test_error_faults(ecs_emulator, once, spec, code, status):
    ecs_emulator.control.set_faults(spec)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        once.list_clusters()
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    once.create_cluster(clusterName="other-operations-unaffected")
    assert ecs_emulator.requests[-2]["errorCode"] == code and ecs_emulator.requests[-2]["statusCode"] == status
    ecs_emulator.control.set_faults(None)
    assert once.list_clusters()["clusterArns"]


def test_count_limits_a_rule_and_boto3_retries_through_throttling(ecs_emulator, ecs_client):
    ecs_emulator.control.set_faults("throttle@CreateCluster#2")
    ecs_client.create_cluster(clusterName="a")  # default retry mode absorbs two throttles
    calls = [r for r in ecs_emulator.requests if r["operation"] == "CreateCluster"]
    assert [r["errorCode"] for r in calls] == ["ThrottlingException", "ThrottlingException", None]


def test_dropped_connection(ecs_emulator, once):
    ecs_emulator.control.set_faults("drop@ListClusters#1")
    with pytest.raises(botocore.exceptions.HTTPClientError):
        once.list_clusters()
    assert ecs_emulator.requests[-1]["errorCode"] == "DroppedConnection"
    assert once.list_clusters()["clusterArns"] == []


def test_lost_answer_after_the_request_was_handled(ecs_emulator, once):
    ecs_emulator.control.set_faults("lost@CreateCluster#1")
    with pytest.raises(botocore.exceptions.HTTPClientError):
        once.create_cluster(clusterName="applied-anyway")
    assert ecs_emulator.requests[-1]["errorCode"] == "LostResponse"
    assert ecs_emulator.requests[-1]["statusCode"] == 200
    assert [c["clusterName"] for c in once.describe_clusters(clusters=["applied-anyway"])["clusters"]] == [
        "applied-anyway"], "the write happened although its caller saw only a broken connection"


def test_latency(ecs_emulator, once):
    ecs_emulator.control.set_faults("latency:150ms@ListClusters")
    started = time.monotonic()
    once.list_clusters()
    assert time.monotonic() - started >= 0.15


def test_rate_is_applied_per_request(ecs_emulator, once):
    ecs_emulator.control.set_faults("throttle:0.3@ListClusters,seed:7")
    outcomes = []
    for _ in range(200):
        try:
            once.list_clusters()
            outcomes.append(False)
        except botocore.exceptions.ClientError:
            outcomes.append(True)
    assert 30 <= sum(outcomes) <= 90


def test_fault_spec_syntax():
    rules, seed = parse("throttle:0.2@DescribeServices|UpdateService,latency:50ms,drop:5%#3,seed:9")
    assert seed == 9
    assert (rules[0].kind, rules[0].rate, rules[0].operations) == (
        "throttle", 0.2, frozenset({"DescribeServices", "UpdateService"}))
    assert (rules[1].kind, rules[1].delay) == ("latency", 0.05)
    assert (rules[2].rate, rules[2].remaining) == (0.05, 3)
    for bad in ("explode", "throttle:2", "latency:fast"):
        with pytest.raises(ValueError):
            parse(bad)


def test_record_file_and_memory(tmp_path):
    record = tmp_path / "requests.jsonl"
    with EmulatorServer(speed=2000, record_path=str(record), faults="deny@StopServiceDeployment") as srv:
        client = make_client(srv.url)
        seed_service(client, bake_time_in_minutes=0)
        srv.control.set_alarm("x", "ALARM")  # control calls are not recorded
        urllib.request.urlopen(srv.url + "/_emulator/state", timeout=5).read()
        with pytest.raises(client.exceptions.AccessDeniedException):
            client.stop_service_deployment(serviceDeploymentArn="arn:aws:ecs:us-east-1:123456789012:"
                                           "service-deployment/demo/web/x", stopType="ROLLBACK")
        lines = [json.loads(line) for line in record.read_text().splitlines()]
        assert lines == srv.requests
    ops = [r["operation"] for r in lines]
    assert ops[:4] == ["CreateCluster", "RegisterTaskDefinition", "CreateService", "DescribeServices"]
    create = lines[2]
    assert set(create) == {"time", "operation", "account", "region", "parameters", "statusCode", "errorCode"}
    assert (create["account"], create["region"]) == ("123456789012", "us-east-1")
    assert create["parameters"]["serviceName"] == "web" and create["statusCode"] == 200
    assert create["errorCode"] is None and create["time"].endswith("+00:00")
    assert (lines[-1]["operation"], lines[-1]["errorCode"]) == ("StopServiceDeployment", "AccessDeniedException")


def control(srv, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(srv.url + "/_emulator/" + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_http_control_api(ecs_emulator, ecs_client):
    seed_service(ecs_client, bake_time_in_minutes=1440, alarms={"alarmNames": ["a"], "enable": True, "rollback": True})
    arn = deploy(ecs_client)
    wait_until(ecs_client, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    assert control(ecs_emulator, "alarms", {"alarmName": "a", "state": "ALARM"}) == {"ok": True}
    wait_until(ecs_client, arn, lambda d: d["status"] == "ROLLBACK_SUCCESSFUL")
    state = control(ecs_emulator, "state")
    assert state["alarms"] == [{"account": "*", "region": "*", "alarmName": "a", "state": "ALARM"}]
    (service,) = state["services"]
    assert service["deployments"][-1]["status"] == "ROLLBACK_SUCCESSFUL"
    assert control(ecs_emulator, "hooks", {"functionArn": "f", "behaviour": {"kind": "fail"}}) == {"ok": True}
    assert control(ecs_emulator, "faults", {"spec": "latency:1ms"}) == {"ok": True}
    assert control(ecs_emulator, "state")["faults"] == "latency:1ms"
    assert control(ecs_emulator, "fail-tasks", {"cluster": "demo", "service": "web", "count": 1}) == {"ok": True}
    assert control(ecs_emulator, "fail-next-rollback", {"cluster": "demo", "service": "web"}) == {"ok": True}
    assert len(control(ecs_emulator, "requests")["requests"]) == len(ecs_emulator.requests)
    with pytest.raises(urllib.error.HTTPError) as err:
        control(ecs_emulator, "faults", {"spec": "explode"})
    assert err.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as err:
        control(ecs_emulator, "fail-tasks", {"cluster": "demo", "service": "nope"})
    assert err.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as err:
        control(ecs_emulator, "answer-hook", {"hookId": "ecs-lambda-nope", "answer": {"hookStatus": "SUCCEEDED"}})
    assert err.value.code == 404
    assert control(ecs_emulator, "speed", {"speed": 500}) == {"ok": True}
    assert control(ecs_emulator, "state")["speed"] == 500
