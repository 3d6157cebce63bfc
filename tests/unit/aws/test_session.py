"""ClientFactory: clients cached per (region, role, externalId), endpoint override, assumed role that refreshes.

A tiny local HTTP server stands in for ECS so the test sees which access key signed each request.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.stub import Stubber

from ecsbg.aws.calls import AwsError
from ecsbg.aws.session import ClientFactory, ClientKey, ClientSettings
from tests.unit.aws import samples

ROLE = "arn:aws:iam::444455556666:role/ecsbg-deployer"


@pytest.fixture
def fake_ecs_endpoint():
    """An ECS JSON endpoint on 127.0.0.1:<free port> that answers DescribeServices and records auth headers."""
    seen: list[str] = []
    server = answering({"services": [], "failures": []}, seen)
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def answering(body: dict, seen: list[str] | None = None, agents: list[str] | None = None) -> ThreadingHTTPServer:
    """An ECS JSON endpoint that answers every request with `body` (the real HTTP path: botocore parses in the
    endpoint, not the client), recording each request's Authorization header in `seen`, User-Agent in `agents`."""
    payload = json.dumps(body).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if seen is not None:
                seen.append(self.headers.get("Authorization", ""))
            if agents is not None:
                agents.append(self.headers.get("User-Agent", ""))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture
def static_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSOURCE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "source-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def credentials(key: str, expires_in: timedelta) -> dict:
    return {"Credentials": {"AccessKeyId": key, "SecretAccessKey": "s3cr3t", "SessionToken": "tok",
                            "Expiration": datetime.now(UTC) + expires_in}}


def test_clients_are_created_once_per_key_with_standard_retries(metrics, static_env):
    factory = ClientFactory(metrics, ClientSettings(endpoint_url="http://127.0.0.1:1", max_attempts=4,
                                                    connect_timeout=2, read_timeout=7))
    first = factory.ecs(ClientKey("eu-west-1"))
    assert factory.ecs(ClientKey("eu-west-1")) is first
    assert factory.ecs(ClientKey("us-east-1")) is not first
    assert factory.ecs(ClientKey("eu-west-1", ROLE)) is not first
    config = first.client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert (config.connect_timeout, config.read_timeout) == (2, 7)
    assert first.client.meta.endpoint_url == "http://127.0.0.1:1"
    assert first.region == "eu-west-1"


def test_without_a_role_the_default_credentials_sign(metrics, static_env, fake_ecs_endpoint):
    url, seen = fake_ecs_endpoint
    calls = ClientFactory(metrics, ClientSettings(endpoint_url=url)).ecs(ClientKey("eu-west-1"))
    calls.call("DescribeServices", cluster="prod", services=["web"])
    assert "Credential=AKIDSOURCE/" in seen[0]
    assert metrics.calls == [("ecs", "DescribeServices", None)]


def test_assumed_role_with_external_id_signs_and_refreshes(metrics, static_env, fake_ecs_endpoint):
    url, seen = fake_ecs_endpoint
    factory = ClientFactory(metrics, ClientSettings(endpoint_url=url))
    calls = factory.ecs(ClientKey("eu-west-1", ROLE, "ext-123"))
    assert metrics.calls == []  # no AssumeRole until the first ECS call
    expected = {"RoleArn": ROLE, "RoleSessionName": "ecsbg-operator", "DurationSeconds": 3600,
                "ExternalId": "ext-123"}
    sts = factory.sts("eu-west-1")
    with Stubber(sts.client) as stub:
        # expiring within botocore's mandatory refresh window (10 min): the next call must assume again
        stub.add_response("assume_role", credentials("ASIAFIRSTKEY00001", timedelta(minutes=5)), expected)
        stub.add_response("assume_role", credentials("ASIASECONDKEY0002", timedelta(hours=1)), expected)
        calls.call("DescribeServices", cluster="prod", services=["web"])
        calls.call("DescribeServices", cluster="prod", services=["web"])
        calls.call("DescribeServices", cluster="prod", services=["web"])
        stub.assert_no_pending_responses()
    assert ["ASIAFIRSTKEY00001" in seen[0], "ASIASECONDKEY0002" in seen[1], "ASIASECONDKEY0002" in seen[2]] == [True] * 3
    assert metrics.operations("AssumeRole") == 2 and metrics.operations("DescribeServices") == 3


def test_refused_assume_role_fails_the_ecs_call_terminally(metrics, static_env, fake_ecs_endpoint):
    url, seen = fake_ecs_endpoint
    factory = ClientFactory(metrics, ClientSettings(endpoint_url=url))
    calls = factory.ecs(ClientKey("eu-west-1", ROLE, "wrong-external-id"))
    with Stubber(factory.sts("eu-west-1").client) as stub:
        stub.add_client_error("assume_role", "AccessDenied", "not authorized to perform: sts:AssumeRole", 403)
        with pytest.raises(AwsError) as info:
            calls.call("DescribeServices", cluster="prod", services=["web"])
    assert info.value.problem.code == "AccessDenied" and info.value.problem.terminal
    assert info.value.problem.operation == "AssumeRole"
    assert seen == []  # nothing was sent to ECS
    assert metrics.calls == [("sts", "AssumeRole", "AccessDenied"), ("ecs", "DescribeServices", "AccessDenied")]


def test_the_external_id_is_the_operators_not_the_releases(metrics, static_env, fake_ecs_endpoint):
    from ecsbg.aws.observer import client_key
    from ecsbg.domain.model import Target

    url, _ = fake_ecs_endpoint
    factory = ClientFactory(metrics, ClientSettings(endpoint_url=url, external_id="platform-secret-1"))
    key = client_key(Target(region="eu-west-1", cluster="prod", service="web", role_arn=ROLE,
                            external_id="tenant-chosen"))
    assert key.external_id is None, "spec.target.externalId is ignored"
    assert "platform-secret-1" not in repr(factory._settings), "never in a repr that may be logged"
    calls = factory.ecs(key)
    expected = {"RoleArn": ROLE, "RoleSessionName": "ecsbg-operator", "DurationSeconds": 3600,
                "ExternalId": "platform-secret-1"}
    with Stubber(factory.sts("eu-west-1").client) as stub:
        stub.add_response("assume_role", credentials("ASIAFIRSTKEY00001", timedelta(hours=1)), expected)
        calls.call("DescribeServices", cluster="prod", services=["web"])
        stub.assert_no_pending_responses()


def test_a_policy_role_session_names_the_release_tags_it_and_sends_the_policys_external_id(
        metrics, static_env, fake_ecs_endpoint):
    from ecsbg.aws.observer import client_key
    from ecsbg.domain.model import RoleSession, Target

    url, _ = fake_ecs_endpoint
    factory = ClientFactory(metrics, ClientSettings(endpoint_url=url, external_id="operator-wide"))
    session = RoleSession(name="ecsbg@team-a.web", tags=(("ecsbg.dev/namespace", "team-a"), ("ecsbg.dev/name", "web")),
                          external_id="from-the-policy-secret")
    key = client_key(Target(region="eu-west-1", cluster="prod", service="web", role_arn=ROLE, session=session))
    assert "from-the-policy-secret" not in repr(key) and "from-the-policy-secret" not in repr(session)
    expected = {"RoleArn": ROLE, "RoleSessionName": "ecsbg@team-a.web", "DurationSeconds": 3600,
                "ExternalId": "from-the-policy-secret",
                "Tags": [{"Key": "ecsbg.dev/namespace", "Value": "team-a"}, {"Key": "ecsbg.dev/name", "Value": "web"}]}
    with Stubber(factory.sts("eu-west-1").client) as stub:
        stub.add_response("assume_role", credentials("ASIAFIRSTKEY00001", timedelta(hours=1)), expected)
        factory.ecs(key).call("DescribeServices", cluster="prod", services=["web"])
        stub.assert_no_pending_responses()




def test_epoch_timestamps_parse_as_the_same_instants_in_utc(metrics, static_env):
    """The factory's clients parse ECS's epoch timestamps without dateutil (ecsbg.aws.session.with_fast_timestamps):
    the same instant as botocore's default, aware, in UTC; ISO 8601 strings still parse."""
    import botocore.session
    import botocore.utils

    from ecsbg.aws.session import _timestamp

    server = answering({"services": [{"serviceName": "web", "createdAt": 1764835200.25,
                                      "deployments": [{"id": "ecs-svc/1", "createdAt": 1764835201}],
                                      "events": [{"id": "e1", "createdAt": 1764835201, "message": "m"}]}],
                        "failures": []})
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        calls = ClientFactory(metrics, ClientSettings(endpoint_url=url)).ecs(ClientKey("eu-west-1"))
        service = calls.call("DescribeServices", cluster="prod", services=["web"])["services"][0]
        reference = botocore.session.get_session().create_client(
            "ecs", region_name="eu-west-1", endpoint_url=url, aws_access_key_id="a", aws_secret_access_key="b",
        ).describe_services(cluster="prod", services=["web"])["services"][0]
    finally:
        server.shutdown()
    assert service["createdAt"] == reference["createdAt"] == datetime(2025, 12, 4, 8, 0, 0, 250000, tzinfo=UTC)
    assert service["createdAt"].tzinfo is UTC and service["deployments"][0]["createdAt"].tzinfo is UTC
    assert reference["createdAt"].tzinfo is not UTC  # botocore's own: dateutil's tzlocal()
    assert service["deployments"][0]["createdAt"] == reference["deployments"][0]["createdAt"]
    # the service's event messages are dropped before parsing (nothing reads them); the rest is as botocore's
    assert "events" not in service and reference["events"][0]["id"] == "e1"
    assert {k: v for k, v in reference.items() if k != "events"} == service
    assert _timestamp("2026-12-04T07:00:00Z") == botocore.utils.parse_timestamp("2026-12-04T07:00:00Z")


def test_the_cached_user_agent_is_the_one_botocore_builds(metrics, static_env, monkeypatch):
    """ecsbg.aws.session.with_cached_user_agent: the header each request carries is byte for byte the one the same
    factory's client builds on every request without the cache (features included)."""
    from ecsbg.aws import session

    def three_calls() -> list[str]:
        agents: list[str] = []
        server = answering({"services": [], "failures": []}, agents=agents)
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}"
            calls = ClientFactory(metrics, ClientSettings(endpoint_url=url)).ecs(ClientKey("eu-west-1"))
            for _ in range(2):
                calls.call("DescribeServices", cluster="prod", services=["web"])
            calls.call("UpdateService", cluster="prod", service="web", taskDefinition="web:2")  # its other client
        finally:
            server.shutdown()
        return agents

    cached = three_calls()
    monkeypatch.setattr(session, "with_cached_user_agent", lambda client: client)
    built = three_calls()
    assert cached[0].startswith("Boto3/") and " m/" in cached[0]  # the features component is there
    assert [sorted(a.split()) for a in cached] == [sorted(a.split()) for a in built]


def test_update_service_answers_are_parsed_without_the_service_events(metrics, static_env):
    """UpdateService answers with the whole service, its last 100 event messages included: dropped before
    parsing as for DescribeServices; the deployments the start reads are parsed."""
    server = answering({"service": {"serviceName": "web", "deployments": [{"id": "ecs-svc/2", "status": "PRIMARY"}],
                                    "events": [{"id": "e1", "createdAt": 1764835201, "message": "m"}]}})
    try:
        calls = ClientFactory(metrics, ClientSettings(endpoint_url=f"http://127.0.0.1:{server.server_address[1]}")
                              ).ecs(ClientKey("eu-west-1"))
        service = calls.call("UpdateService", cluster="prod", service="web", taskDefinition="web:2")["service"]
    finally:
        server.shutdown()
    assert service == {"serviceName": "web", "deployments": [{"id": "ecs-svc/2", "status": "PRIMARY"}]}


@pytest.mark.parametrize("operation, answer", [
    ("DescribeServices", lambda: {"services": [{**samples.service(), "unmodelled": {"x": 1}, "desiredCount": None,
                                                "events": [{"id": "e", "createdAt": 1764835201.5, "message": "m"}]}],
                                  "failures": [{"arn": "a", "reason": "MISSING"}, None]}),
    ("DescribeServiceDeployments", lambda: {"serviceDeployments": [samples.deployment()]}),
    ("DescribeServiceRevisions", lambda: {"serviceRevisions": [samples.revision(samples.REV_GREEN, "web:42")]}),
    ("DescribeTaskDefinition", lambda: {"taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:42", "family": "web",
        "registeredAt": 1764835200, "containerDefinitions": [
            {"name": "app", "image": "repo/web:1", "essential": True, "cpu": 0, "environment": [],
             "dockerLabels": {"a": "b", "c": None}, "healthCheck": {"command": ["CMD", None], "interval": 30}}]},
        "tags": [{"key": "ecsbg.dev/taskdef-hash", "value": "abc"}]}),
], ids=["services", "deployments", "revisions", "task-definition"])
def test_answers_parse_as_botocores_own_parser_parses_them(operation, answer):
    """ecsbg.aws.session's JSON parser visits the members an answer has, not every member of the model: the
    result equals botocore's own parser's for rich answers (nulls, members the model lacks, timestamps, maps)."""
    import botocore.parsers
    import botocore.session

    from ecsbg.aws.session import _timestamp, _WireOrderJSONParser

    output = botocore.session.get_session().get_service_model("ecs").operation_model(operation).output_shape
    body = json.dumps(answer(), default=str).encode()
    response = {"body": body, "headers": {}, "status_code": 200}
    ours = _WireOrderJSONParser(timestamp_parser=_timestamp).parse(dict(response), output)
    theirs = botocore.parsers.JSONParser(timestamp_parser=_timestamp).parse(dict(response), output)
    assert ours == theirs and ours != {"ResponseMetadata": {}}


def test_a_recursive_shape_parses_as_botocores_own_parser_parses_it():
    """botocore resolves each level of a recursive shape (DynamoDB's AttributeValue holds maps and lists of
    itself) as a new object: the parse functions are built once per shape name on the way down, not forever."""
    import botocore.parsers
    import botocore.session

    from ecsbg.aws.session import _timestamp, _WireOrderJSONParser

    output = botocore.session.get_session().get_service_model("dynamodb").operation_model("GetItem").output_shape
    item = {"a": {"M": {"b": {"L": [{"S": "x"}, None, {"M": {"c": {"N": "1", "unmodelled": 2}}}]}}}, "z": {"S": "q"}}
    response = {"body": json.dumps({"Item": item}).encode(), "headers": {}, "status_code": 200}
    ours = _WireOrderJSONParser(timestamp_parser=_timestamp).parse(dict(response), output)
    theirs = botocore.parsers.JSONParser(timestamp_parser=_timestamp).parse(dict(response), output)
    assert ours == theirs
    assert ours["Item"]["a"]["M"]["b"]["L"][2] == {"M": {"c": {"N": "1"}}}


def test_a_parser_per_answer_builds_nothing_again(monkeypatch):
    """botocore makes a parser per response (endpoint.py): the parse functions one built are every later one's."""
    import botocore.session

    from ecsbg.aws.session import _timestamp, _WireOrderJSONParser

    output = botocore.session.get_session().get_service_model("ecs").operation_model(
        "DescribeServiceDeployments").output_shape
    response = {"body": json.dumps({"serviceDeployments": [samples.deployment()]}, default=str).encode(),
                "headers": {}, "status_code": 200}
    first = _WireOrderJSONParser(timestamp_parser=_timestamp).parse(dict(response), output)

    def no_build(*args, **kwargs):
        raise AssertionError("built again")

    monkeypatch.setattr(_WireOrderJSONParser, "_structure", no_build)
    assert _WireOrderJSONParser(timestamp_parser=_timestamp).parse(dict(response), output) == first


def test_a_function_another_thread_published_meanwhile_is_used(monkeypatch):
    """Two threads may meet an unbuilt shape at once: the one that finds the other's function already published
    when it starts building uses that one (its own build then holds nothing for the shape)."""
    import botocore.session

    from ecsbg.aws import session

    output = botocore.session.get_session().get_service_model("ecs").operation_model(
        "DescribeServiceRevisions").output_shape
    response = {"body": json.dumps({"serviceRevisions": [samples.revision(samples.REV_GREEN, "web:42")]},
                                   default=str).encode(), "headers": {}, "status_code": 200}
    expected = session._WireOrderJSONParser(timestamp_parser=session._timestamp).parse(dict(response), output)
    monkeypatch.setattr(session, "_BUILT", {})  # nothing built yet
    built_elsewhere = session._WireOrderJSONParser(timestamp_parser=session._timestamp)
    real = session._WireOrderJSONParser._structure

    def published_meanwhile(self, shape, build):
        return real(built_elsewhere, shape, session._Build())  # the other thread's build, not this one's

    monkeypatch.setattr(session._WireOrderJSONParser, "_structure", published_meanwhile)
    assert session._WireOrderJSONParser(timestamp_parser=session._timestamp).parse(dict(response), output) == expected
