"""Structural-schema pruning, defaulting and validation of custom resources, as kube-apiserver does them.

Sources of the semantics: "Extend the Kubernetes API with CustomResourceDefinitions" (kubernetes.io tasks page),
sections "Field pruning", "Defaulting" and "Validation", and apiextensions-apiserver's pruning/defaulting packages.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from .errors import OMIT_VALUE, FieldError, Verbatim
from .patching import clone

# ObjectMeta fields kept on pruning; anything else under metadata is dropped (as the apiserver's codec does).
OBJECT_META = {
    "name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields", "selfLink",
}
_ROOT_KEEP = {"apiVersion", "kind", "metadata"}


def _root(schema: dict) -> dict:
    """The root schema without `metadata`: ObjectMeta is the apiserver's, never pruned, defaulted or validated
    by the CRD schema (which may only say `type: object` there)."""
    props = schema.get("properties")
    if not props or "metadata" not in props:
        return schema
    return {**schema, "properties": {k: v for k, v in props.items() if k != "metadata"}}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def prune(obj: dict, schema: dict | None) -> list[str]:
    """Drop, in place, every field the schema does not declare; return the dropped paths (for warnings)."""
    dropped: list[str] = []
    if schema is None:
        return dropped
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in [k for k in meta if k not in OBJECT_META]:
            del meta[key]
            dropped.append(f"metadata.{key}")
    _prune(obj, _root(schema), "", dropped, root=True)
    return dropped


def _prune(value: Any, schema: dict, path: str, dropped: list[str], root: bool = False) -> None:
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        keep = _ROOT_KEEP if root or schema.get("x-kubernetes-embedded-resource") else set()
        for key in list(value):
            if root and key == "metadata":
                continue
            sub = props.get(key) if props else None
            if sub is None and isinstance(extra, dict):
                sub = extra
            if sub is not None:
                _prune(value[key], sub, _join(path, key), dropped)
            elif key not in keep and not preserve and extra is not True:
                del value[key]
                dropped.append(_join(path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _prune(item, schema["items"], f"{path}[{index}]", dropped)


def apply_defaults(value: Any, schema: dict | None) -> Any:
    """Fill `default`s of absent properties, recursing into nested objects (incl. objects just defaulted).

    A null for a non-nullable field is dropped first so that its default applies (CRD docs, "Defaulting and
    Nullable")."""
    if schema is None:
        return value
    if isinstance(value, dict) and "metadata" in value and "apiVersion" in value:
        schema = _root(schema)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if key in value and value[key] is None and not sub.get("nullable"):
                del value[key]
            if key not in value and "default" in sub:
                value[key] = clone(sub["default"])
            if key in value:
                value[key] = apply_defaults(value[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                if key not in props:
                    value[key] = apply_defaults(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


_TYPE_NAMES = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object", list: "array"}


def _type_name(value: Any) -> str:
    return "null" if value is None else _TYPE_NAMES.get(type(value), "unknown")


def _type_ok(value: Any, schema: dict) -> bool:
    expected = schema.get("type")
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    if value is None:
        return bool(schema.get("nullable")) or not expected
    if not expected:
        return True
    actual = _type_name(value)
    return actual == expected or (expected == "number" and actual == "integer")


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _ip(kind: int, value: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(value).version == kind
    except ValueError:
        return False


def _cidr(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _base64(value: str) -> bool:
    import base64
    import binascii

    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# kube-openapi's strfmt checks for the formats operators use; unknown formats are ignored, as there.
# date-time accepts strfmt's layouts: RFC 3339 with optional fraction and zone, or a space instead of the T.
_FORMATS = {
    "date-time": lambda v: bool(re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", v)),
    "date": lambda v: bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)),
    "uuid": lambda v: bool(re.fullmatch(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}", v)),
    "byte": _base64,
    "ipv4": lambda v: _ip(4, v),
    "ipv6": lambda v: _ip(6, v),
    "cidr": _cidr,
    "uri": lambda v: bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*:|/", v)),
}


def _body(path: str, detail: str) -> str:
    # kube-openapi's messages name the field "in body", e.g. "spec.x in body should be greater than or equal to 1"
    return f"{path} in body {detail}"


def _check_scalar(value: Any, schema: dict, path: str, errors: list[FieldError]) -> None:
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in schema["enum"])
        errors.append(FieldError("notsupported", path, value, f"supported values: {supported}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_number(value, schema, path, errors)
        if schema.get("format") == "int32" and not -(2**31) <= value < 2**31:
            errors.append(FieldError("type", path, value, _body(path, f'must be of type int32: "{value}"')))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(FieldError("invalid", path, value, _body(path, f"should be at least {schema['minLength']} chars long")))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(FieldError("toolong", path, value, f"may not be more than {schema['maxLength']} bytes"))
        check = _FORMATS.get(schema.get("format", ""))
        if check is not None and not check(value):
            errors.append(FieldError("type", path, value, _body(path, f'must be of type {schema["format"]}: "{value}"')))
        if "pattern" in schema and not _regex(schema["pattern"]).search(value):
            errors.append(FieldError("invalid", path, value, _body(path, f"should match '{schema['pattern']}'")))


def _check_number(value: float, schema: dict, path: str, errors: list[FieldError]) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None:
        if schema.get("exclusiveMinimum") and value <= low:
            errors.append(FieldError("invalid", path, value, _body(path, f"should be greater than {low}")))
        elif value < low:
            errors.append(FieldError("invalid", path, value, _body(path, f"should be greater than or equal to {low}")))
    if high is not None:
        if schema.get("exclusiveMaximum") and value >= high:
            errors.append(FieldError("invalid", path, value, _body(path, f"should be less than {high}")))
        elif value > high:
            errors.append(FieldError("invalid", path, value, _body(path, f"should be less than or equal to {high}")))
    if schema.get("multipleOf") and not _multiple_of(value, schema["multipleOf"]):
        errors.append(FieldError("invalid", path, value, _body(path, f"should be a multiple of {schema['multipleOf']}")))


def _multiple_of(value: float, factor: float) -> bool:
    """kube-openapi's validate.MultipleOf: for a factor below 1 it scales by 1/factor (so 3.3 is a multiple of 0.1
    although 3.3 % 0.1 != 0 in binary floating point), then swag.IsFloat64AJSONInteger (relative error 1e-9)."""
    scaled = (1 / factor) * value if factor < 1 else value / factor
    nearest = float(round(scaled))
    return scaled == nearest or abs(scaled - nearest) < 1e-9 * (abs(scaled) + abs(nearest))


def _check_collection(value: Any, schema: dict, path: str, errors: list[FieldError]) -> None:
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(FieldError("invalid", path, len(value), _body(path, f"should have at least {schema['minItems']} items")))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(FieldError("toomany", path, len(value), f"must have at most {schema['maxItems']} items"))
        if schema.get("x-kubernetes-list-type") == "map":
            _check_map_keys(value, schema.get("x-kubernetes-list-map-keys") or [], path, errors)
        if schema.get("uniqueItems") or schema.get("x-kubernetes-list-type") == "set":
            seen: list = []
            for index, item in enumerate(value):
                if item in seen:
                    errors.append(FieldError("duplicate", f"{path}[{index}]", item))
                seen.append(item)
    if isinstance(value, dict):
        if "required" in schema:
            for key in schema["required"]:
                if key not in value:
                    errors.append(FieldError("required", _join(path, key)))
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            errors.append(FieldError("invalid", path, len(value), _body(path, f"should have at least {schema['minProperties']} properties")))
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            errors.append(FieldError("toomany", path, len(value), f"must have at most {schema['maxProperties']} items"))


def _check_map_keys(items: list, keys: list[str], path: str, errors: list[FieldError]) -> None:
    """listType=map: the map keys identify an item, so two items with the same keys are a Duplicate value."""
    seen = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            identity = {key: item.get(key) for key in keys}
            if identity in seen:
                shown = ", ".join(f'"{k}":{json.dumps(v)}' for k, v in identity.items())
                errors.append(FieldError("duplicate", f"{path}[{index}]", Verbatim(f"map[string]interface {{}}{{{shown}}}")))
            seen.append(identity)


# Errors after which CEL rules are not run: their cost estimates rely on these bounds (apiextensions-apiserver
# customresource validator, hasBlockingErr).
_BLOCKING = {"type", "required", "notsupported", "toolong", "toomany"}


def validate(value: Any, schema: dict | None, path: str = "", old: Any = None, has_old: bool = False,
             cel=None) -> list[FieldError]:
    """Errors of value against schema, then its CEL rules.

    A subtree equal to its old value is not re-checked: kube-apiserver's validation ratcheting (GA in 1.33)
    accepts unchanged fields, and it keeps status writes cheap. As in apiextensions' validator, CEL rules only
    run when no type error blocks them (hasBlockingErr)."""
    errors: list[FieldError] = []
    if schema is None:
        return errors
    rules: list[tuple] = []
    _validate(value, _root(schema) if not path else schema, path, old, has_old, rules, errors)
    if rules and cel is not None:
        if any(e.kind in _BLOCKING for e in errors):
            errors.append(FieldError("invalid", "<nil>", None, "some validation rules were not checked because "
                                     "the object was invalid; correct the existing errors to complete validation"))
        else:
            for args in rules:
                errors.extend(cel(*args))
    return errors


def _validate(value, schema, path, old, has_old, rules, errors) -> None:
    if has_old and value == old:
        return
    if not _type_ok(value, schema):
        expected = "integer or string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
        actual = _type_name(value)
        errors.append(FieldError("type", path, actual, _body(path, f'must be of type {expected}: "{actual}"')))
        return
    if value is None:
        return
    _check_scalar(value, schema, path, errors)
    _check_collection(value, schema, path, errors)
    _check_combinators(value, schema, path, errors)
    _validate_children(value, schema, path, old, has_old, rules, errors)
    if schema.get("x-kubernetes-validations"):
        # kube-apiserver 1.37 omits the value of a CEL rule failure: `spec.x: Invalid value: <message>`
        rules.append((value, schema["x-kubernetes-validations"], path, old, has_old, OMIT_VALUE))


def _check_combinators(value, schema, path, errors) -> None:
    for sub in schema.get("allOf") or []:
        _validate(value, sub, path, None, False, [], errors)
    if schema.get("anyOf") and all(validate(value, sub, path) for sub in schema["anyOf"]):
        errors.append(FieldError("invalid", path, value, _body(path, "must validate at least one schema (anyOf)")))
    if schema.get("oneOf") and sum(not validate(value, sub, path) for sub in schema["oneOf"]) != 1:
        errors.append(FieldError("invalid", path, value, _body(path, "must validate one and only one schema (oneOf)")))
    if isinstance(schema.get("not"), dict) and not validate(value, schema["not"], path):
        errors.append(FieldError("invalid", path, value, _body(path, "must not validate the schema (not)")))


def _validate_children(value, schema, path, old, has_old, rules, errors) -> None:
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        old_map = old if has_old and isinstance(old, dict) else {}
        for key, item in value.items():
            sub = props.get(key)
            if sub is None and isinstance(extra, dict):
                sub = extra
            if sub is not None:
                _validate(item, sub, _join(path, key), old_map.get(key), key in old_map, rules, errors)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        # oldSelf correlation for list items needs listType=map keys; like the apiserver for atomic lists, none
        for index, item in enumerate(value):
            _validate(item, schema["items"], f"{path}[{index}]", None, False, rules, errors)
