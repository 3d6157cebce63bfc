"""Kubernetes `Status` errors and field errors, formatted the way kube-apiserver formats them.

Messages follow k8s.io/apimachinery/pkg/util/validation/field (Error.Error / ErrorBody) so that a client sees the
same text as on a real cluster, e.g. `spec.x: Unsupported value: "Foo": supported values: "A", "B"`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# field.ErrorType -> (cause reason, human text), as in apimachinery's field/errors.go.
ERROR_TYPES = {
    "required": ("FieldValueRequired", "Required value"),
    "invalid": ("FieldValueInvalid", "Invalid value"),
    "type": ("FieldValueTypeInvalid", "Invalid value"),
    "notsupported": ("FieldValueNotSupported", "Unsupported value"),
    "duplicate": ("FieldValueDuplicate", "Duplicate value"),
    "forbidden": ("FieldValueForbidden", "Forbidden"),
    "toolong": ("FieldValueTooLong", "Too long"),
    "toomany": ("FieldValueTooMany", "Too many"),
}
# Error types whose body does not repeat the value (field.Error.ErrorBody).
_NO_VALUE = {"required", "forbidden", "toolong"}


class Verbatim(str):
    """A value printed as is (e.g. the Go-syntax map of a duplicate listType=map key)."""


# field.Error's omitted value: the body is then `Invalid value: <detail>` (kube-apiserver 1.37 reports CEL rule
# failures this way, measured in tests/integration/test_differential.py)
OMIT_VALUE = Verbatim("<omitted>")


def format_value(value: Any) -> str:
    """Like Go's %v/%q choice in field.Error: strings quoted, objects and lists named, scalars plain."""
    if isinstance(value, Verbatim):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    if value is None:
        return "null"
    return str(value)


@dataclass
class FieldError:
    kind: str  # a key of ERROR_TYPES
    field: str
    value: Any = None
    detail: str = ""

    def body(self) -> str:
        text = ERROR_TYPES[self.kind][1]
        if self.kind not in _NO_VALUE and self.value is not OMIT_VALUE:
            text += ": " + format_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def cause(self) -> dict:
        return {"reason": ERROR_TYPES[self.kind][0], "message": self.body(), "field": self.field}


class ApiError(Exception):
    """An error answered as a `Status` object with the given HTTP code."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure" if code >= 300 else "Success",
            "message": message, "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return body


def _details(resource: str, name: str) -> dict:
    # apimachinery's NewNotFound/NewAlreadyExists: the group apart, `kind` is the plural ("widgets")
    plural, _, group = resource.partition(".")
    return {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural}


def not_found(resource: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource} "{name}" not found', _details(resource, name))


def already_exists(resource: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{resource} "{name}" already exists', _details(resource, name))


def conflict(resource: str, name: str) -> ApiError:
    # The exact text of registry/generic/registry/store.go's OptimisticLockErrorMsg.
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    {"name": name, "kind": resource})


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    """422 `Invalid`, formatted as errors.NewInvalid: one error inline, several in brackets."""
    qualified = f"{kind}.{group}" if group else kind
    listed = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    details = {"name": name, "group": group, "kind": kind, "causes": [e.cause() for e in errors]}
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {listed}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)
