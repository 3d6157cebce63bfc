"""Error classification: terminal vs retryable, once, from botocore exceptions."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from ecsbg.aws.calls import OPERATIONS
from ecsbg.aws.errors import RETRYABLE_CODES, TERMINAL_CODES, classify


def client_error(code: str, message: str = "boom", status: int = 400, operation: str = "UpdateService"):
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


def ecs_error_codes(service: str = "ecs") -> set[str]:
    """The errors the model lists for the operations of `service` the operator calls."""
    model = botocore.session.get_session().get_service_model(service)
    ops = [op for name, op in OPERATIONS if name == service]
    return {e.name for op in ops for e in model.operation_model(op).error_shapes}


@pytest.mark.parametrize("code", sorted(TERMINAL_CODES))
def test_terminal_codes_are_terminal(code):
    problem = classify(client_error(code), "UpdateService")
    assert problem.terminal and problem.code == code and problem.operation == "UpdateService"


@pytest.mark.parametrize("code", sorted(RETRYABLE_CODES))
def test_retryable_codes_are_retryable(code):
    assert not classify(client_error(code, status=500 if code == "ServerException" else 400), "UpdateService").terminal


def test_ecs_exception_codes_named_here_exist_in_the_model():
    # a typo in the tables would silently make a terminal error retryable
    named = {c for c in (*TERMINAL_CODES, *RETRYABLE_CODES) if c.endswith("Exception")}
    non_ecs = {"TooManyRequestsException", "RequestTimeoutException", "ExpiredTokenException",
               "UnrecognizedClientException", "ThrottlingException", "RegionDisabledException",
               "ServiceUnavailableException"}
    assert named - non_ecs <= ecs_error_codes() | ecs_error_codes("application-autoscaling")


def test_every_ecs_model_error_is_classified_explicitly():
    assert ecs_error_codes() <= set(TERMINAL_CODES) | set(RETRYABLE_CODES)


def test_message_and_code_are_kept():
    problem = classify(client_error("AccessDeniedException", "not authorized to ecs:UpdateService"), "UpdateService")
    assert problem.message == "not authorized to ecs:UpdateService"


def test_unknown_code_is_retryable_whatever_the_status():
    assert not classify(client_error("SomethingNewException", status=400), "DescribeServices").terminal
    assert not classify(client_error("InternalError", status=503), "DescribeServices").terminal


def test_concurrent_registration_client_exception_is_retryable():
    msg = "Too many concurrent attempts to create a new revision of the specified family."
    assert not classify(client_error("ClientException", msg), "RegisterTaskDefinition").terminal
    assert classify(client_error("ClientException", "Unable to assume role"), "RegisterTaskDefinition").terminal


@pytest.mark.parametrize("operation", ["ContinueServiceDeployment", "StopServiceDeployment"])
def test_state_races_on_continue_and_stop_are_retryable(operation):
    # the hook timed out or the deployment left IN_PROGRESS before our call landed: the next poll re-plans
    assert not classify(client_error("InvalidParameterException"), operation).terminal
    assert not classify(client_error("ConflictException"), operation).terminal
    assert classify(client_error("AccessDeniedException"), operation).terminal
    assert classify(client_error("InvalidParameterException"), "UpdateService").terminal


@pytest.mark.parametrize(
    ("exc", "code", "terminal"),
    [
        (EndpointConnectionError(endpoint_url="https://ecs.eu-west-1.amazonaws.com"), "ConnectionError", False),
        (ConnectTimeoutError(endpoint_url="https://x"), "Timeout", False),
        (ReadTimeoutError(endpoint_url="https://x"), "Timeout", False),
        (NoCredentialsError(), "NoCredentials", True),
        (ParamValidationError(report="Unknown parameter in input: foo"), "ParamValidation", True),
    ],
)
def test_botocore_errors(exc, code, terminal):
    problem = classify(exc, "DescribeServices")
    assert (problem.code, problem.terminal) == (code, terminal)


def test_docs_table_lists_every_classified_code():
    table = (Path(__file__).parents[3] / "docs" / "aws.md").read_text()
    missing = [code for code in (*TERMINAL_CODES, *RETRYABLE_CODES) if f"`{code}`" not in table]
    assert missing == []
