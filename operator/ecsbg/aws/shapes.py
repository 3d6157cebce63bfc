"""spec.taskDefinition.template checked against botocore's model of RegisterTaskDefinition, before anything is
sent: the types and member names (botocore's own ParamValidator, what boto3 would refuse at send time) and the
enums (which botocore leaves to ECS, whose answer names no field). Each problem is one `<field path>: <why>`
line, like the parser's."""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.validate import ParamValidator

from ecsbg.domain.taskdefs import registrable

_loading = threading.Lock()


@functools.cache
def _input_shape() -> Shape:
    # under a lock: functools.cache does not stop threads that miss at once from each loading the ECS model
    # (1,000 starts at once: every AWS worker thread parsed the model's JSON file, 3.6 % of the operator's CPU)
    with _loading:
        return _load_input_shape()


@functools.cache
def _load_input_shape() -> Shape:
    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def register_task_definition_errors(template: Mapping[str, Any], path: str) -> list[str]:
    params = registrable(template)
    if "tags" in template:
        params["tags"] = template["tags"]
    report = ParamValidator().validate(params, _input_shape())
    errors = [_line(path, kind, where, details) for kind, where, details in report._errors]  # noqa: SLF001
    _enums(params, _input_shape(), path, errors)
    return errors


def _line(path: str, kind: str, where: str, details: Mapping[str, Any]) -> str:
    field = f"{path}{where}"
    if kind == "unknown field":
        return f"{field}.{details['unknown_param']}: unknown member (members: {', '.join(details['valid_names'])})"
    if kind == "missing required field":
        return f"{field}.{details['required_name']}: required"
    if kind == "invalid type":
        wanted = " or ".join(t.removeprefix("<class '").removesuffix("'>") for t in details["valid_types"])
        return f"{field}: {details['param']!r} is not of type {wanted}"
    return f"{field}: {kind} {dict(details)}"


def _enums(value: Any, shape: Shape, where: str, errors: list[str]) -> None:
    if shape.type_name == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                _enums(value[name], member, f"{where}.{name}", errors)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            _enums(item, shape.member, f"{where}[{i}]", errors)
    elif shape.type_name == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            _enums(item, shape.value, f"{where}.{key}", errors)
    elif isinstance(value, str) and getattr(shape, "enum", None) and value not in shape.enum:  # StringShape only
        errors.append(f"{where}: {value!r} is not one of {', '.join(shape.enum)}")
