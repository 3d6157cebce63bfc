"""AwsCalls: the one place that calls AWS, one metric per call, one exception type."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.stub import Stubber

from ecsbg.aws.calls import BOTOCORE_NAMES, OPERATIONS, AwsCalls, AwsError, iam_actions
from tests.unit.aws.samples import CLUSTER_ARN, SERVICE, stubbable


@pytest.fixture
def ecs(metrics):
    client = stubbable()
    with Stubber(client) as stub:
        yield AwsCalls(client, metrics), stub
        stub.assert_no_pending_responses()


def test_success_records_one_metric_without_error(ecs, metrics):
    calls, stub = ecs
    stub.add_response("describe_services", {"services": [SERVICE], "failures": []},
                      {"cluster": CLUSTER_ARN, "services": ["web"]})
    response = calls.call("DescribeServices", cluster=CLUSTER_ARN, services=["web"])
    assert response["services"][0]["serviceName"] == "web"
    assert metrics.calls == [("ecs", "DescribeServices", None)]
    assert metrics.seconds[0] >= 0


def test_failure_raises_aws_error_and_records_the_code(ecs, metrics):
    calls, stub = ecs
    stub.add_client_error("update_service", "AccessDeniedException", "no ecs:UpdateService", 400)
    with pytest.raises(AwsError) as info:
        calls.call("UpdateService", cluster="prod", service="web", taskDefinition="web:2")
    assert info.value.problem.terminal and info.value.problem.code == "AccessDeniedException"
    assert info.value.problem.operation == "UpdateService"
    assert metrics.calls == [("ecs", "UpdateService", "AccessDeniedException")]


def test_throttling_is_retryable(ecs, metrics):
    calls, stub = ecs
    stub.add_client_error("describe_services", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(AwsError) as info:
        calls.call("DescribeServices", cluster="prod", services=["web"])
    assert not info.value.problem.terminal
    assert metrics.calls == [("ecs", "DescribeServices", "ThrottlingException")]


def test_invalid_params_fail_before_the_network_and_are_terminal(metrics):
    calls = AwsCalls(stubbable(), metrics)  # no Stubber: botocore validates before building the request
    with pytest.raises(AwsError) as info:
        calls.call("UpdateService", cluster="prod", service="web", desiredCapacity=3)
    assert info.value.problem.code == "ParamValidation" and info.value.problem.terminal
    assert metrics.calls == [("ecs", "UpdateService", "ParamValidation")]


def test_operations_outside_the_list_are_refused_without_a_call(ecs, metrics):
    calls, _ = ecs
    with pytest.raises(ValueError, match="DeleteService"):
        calls.call("DeleteService", cluster="prod", service="web")
    assert metrics.calls == []


def test_every_listed_operation_exists_in_the_botocore_model():
    session = botocore.session.get_session()
    for service, operation in OPERATIONS:
        model = session.get_service_model(BOTOCORE_NAMES.get(service, service))
        assert operation in model.operation_names, (service, operation)


def test_iam_actions_cover_operations_and_tag_on_create():
    actions = iam_actions()
    assert "ecs:UpdateService" in actions and "sts:AssumeRole" in actions
    assert "ecs:TagResource" in actions and "iam:PassRole" in actions
    assert "ecs:DeleteService" not in actions


def test_non_idempotent_writes_go_out_once_through_the_single_attempt_client(metrics):
    """UpdateService and RegisterTaskDefinition use the client without botocore retries; reads keep retrying."""
    from ecsbg.aws.calls import SINGLE_ATTEMPT
    from ecsbg.aws.session import ClientFactory, ClientKey, ClientSettings

    assert {"UpdateService", "RegisterTaskDefinition"} <= SINGLE_ATTEMPT
    assert not SINGLE_ATTEMPT & {"DescribeServices", "DescribeServiceDeployments", "ContinueServiceDeployment"}
    retrying, once = stubbable(), stubbable()
    calls = AwsCalls(retrying, metrics, single_attempt_client=once)
    with Stubber(retrying) as reads, Stubber(once) as writes:
        writes.add_response("update_service", {"service": SERVICE}, {"cluster": "prod", "service": "web"})
        reads.add_response("describe_services", {"services": [SERVICE], "failures": []},
                           {"cluster": "prod", "services": ["web"]})
        calls.call("UpdateService", cluster="prod", service="web")
        calls.call("DescribeServices", cluster="prod", services=["web"])
        reads.assert_no_pending_responses()
        writes.assert_no_pending_responses()

    factory = ClientFactory(metrics, ClientSettings(endpoint_url="http://127.0.0.1:9", max_attempts=5))
    built = factory.ecs(ClientKey(region="us-east-1"))
    assert built.client.meta.config.retries["total_max_attempts"] == 5
    assert built._once.meta.config.retries["total_max_attempts"] == 1
