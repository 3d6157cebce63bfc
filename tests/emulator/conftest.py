"""Every ECS answer in these tests is checked against the botocore model's output shape (as botocore's Stubber
checks canned responses): unknown members, wrong types and missing required members fail the test."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.validate import ParamValidator

from tests.plugins.ecs import make_client

# The one documented value outside its enum: ServiceDeployment.lifecycleStage's doc string lists
# PRE_PRODUCTION_TRAFFIC_SHIFT, ServiceDeploymentLifecycleStage does not (botocore 1.44.5).
ENUM_EXTRAS = {"ServiceDeploymentLifecycleStage": {"PRE_PRODUCTION_TRAFFIC_SHIFT"}}


def enum_errors(value: Any, shape: Any, path: str) -> list[str]:
    """ParamValidator does not check enum values; walk the shape and check them here."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return [e for k, v in value.items() if k in shape.members
                for e in enum_errors(v, shape.members[k], f"{path}.{k}")]
    if shape.type_name == "list" and isinstance(value, list):
        return [e for i, v in enumerate(value) for e in enum_errors(v, shape.member, f"{path}[{i}]")]
    if shape.type_name == "map" and isinstance(value, dict):
        return [e for k, v in value.items() for e in enum_errors(v, shape.value, f"{path}.{k}")]
    allowed = set(getattr(shape, "enum", []) or []) | ENUM_EXTRAS.get(shape.name, set())
    if allowed and value not in allowed:
        return [f"{path}: {value!r} is not in {shape.name}"]
    return []


def _validate_response(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
    if http_response.status_code != 200 or model.output_shape is None:
        return
    body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(body, model.output_shape)
    if report.has_errors():
        raise AssertionError(f"{model.name} response does not match the model:\n{report.generate_report()}")
    outside = enum_errors(body, model.output_shape, model.name)
    if outside:
        raise AssertionError(f"{model.name} response has values outside the model's enums: {outside}")


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
