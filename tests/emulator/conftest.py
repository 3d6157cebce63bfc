"""Every ECS answer in these tests is checked against the botocore model's output shape (as botocore's Stubber
checks canned responses): unknown members, wrong types and missing required members fail the test."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.validate import ParamValidator

from tests.plugins.ecs import make_client


def _validate_response(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
    if http_response.status_code != 200 or model.output_shape is None:
        return
    body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(body, model.output_shape)
    if report.has_errors():
        raise AssertionError(f"{model.name} response does not match the model:\n{report.generate_report()}")


def validating(client: Any) -> Any:
    client.meta.events.register("after-call.ecs.*", _validate_response)
    return client


@pytest.fixture
def ecs(ecs_emulator: Any) -> Any:
    """boto3 ECS client on the emulator, with model validation of every response."""
    return validating(make_client(ecs_emulator.url))


@pytest.fixture
def raw_ecs(ecs_emulator: Any) -> Any:
    """Client without botocore's client-side parameter checks, to reach the server's own validation."""
    return validating(make_client(ecs_emulator.url, parameter_validation=False, retries={"total_max_attempts": 1}))
