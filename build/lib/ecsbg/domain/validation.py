"""Typed reads of untrusted JSON with error collection, and the rules the CRD also enforces.

The API server normally validates the CR against the CRD schema and its CEL rules. parse_release repeats the
same rules so a CR that reached us without that validation (an older CRD, a dry run, a test) still gets one
clear message per offending field instead of a crash deep in the AWS layer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Patterns copied from crds/ecsbluegreenreleases.ecsbg.dev.yaml (a test checks they stay identical).
PATTERNS: dict[str, str] = {
    "region": r"^[a-z]{2}(-[a-z]+)+-[0-9]+$",
    "cluster": r"^([A-Za-z0-9_-]{1,255}|arn:aws[a-zA-Z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]{1,255})$",
    "service": r"^([A-Za-z0-9_-]{1,255}|arn:aws[a-zA-Z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service/([A-Za-z0-9_-]{1,255}/)?[A-Za-z0-9_-]{1,255})$",
    "role": r"^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$",
    "externalId": r"^[A-Za-z0-9+=,.@:/-]+$",
    "taskDefinition": r"^arn:aws[a-zA-Z-]*:ecs:[a-z0-9-]+:[0-9]{12}:task-definition/[A-Za-z0-9_-]{1,255}:[0-9]+$",
    "targetGroup": r"^arn:aws[a-zA-Z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/.+$",
    "listener": r"^arn:aws[a-zA-Z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:listener(-rule)?/.+$",
    "lambda": r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:.+$",
    "image": r"^.+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$",
}

# The botocore ECS model's DeploymentLifecycleHookStage enum (service-2.json).
HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
# The model's DeploymentLifecycleHook doc: "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or
# PRODUCTION_TRAFFIC_SHIFT stages. These stages are only valid for AWS_LAMBDA hooks."
PAUSE_FORBIDDEN_STAGES = frozenset({"TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"})

_MISSING = object()


class Reader:
    """Reads fields of a JSON object by path, recording one error per bad field instead of raising."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, why: str) -> None:
        self.errors.append(f"{path}: {why}")

    def obj(self, node: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> Mapping[str, Any] | None:
        value = self._get(node, key, path, required)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            return self._wrong(path, "an object", value)
        return value

    def array(self, node: Mapping[str, Any], key: str, path: str, *, required: bool = False,
              min_items: int = 0, max_items: int | None = None) -> list[Any] | None:
        value = self._get(node, key, path, required)
        if value is None:
            return None
        if not isinstance(value, list):
            return self._wrong(path, "a list", value)
        if len(value) < min_items:
            self.error(path, f"must have at least {min_items} item(s)")
        if max_items is not None and len(value) > max_items:
            self.error(path, f"must have at most {max_items} items")
        return value

    def string(self, node: Mapping[str, Any], key: str, path: str, *, required: bool = False,
               pattern: str | None = None, enum: tuple[str, ...] | None = None) -> str | None:
        value = self._get(node, key, path, required)
        if value is None:
            return None
        if not isinstance(value, str):
            return self._wrong(path, "a string", value)
        if enum is not None and value not in enum:
            self.error(path, f"must be one of {', '.join(enum)}, got {value!r}")
            return None
        if pattern is not None and not re.search(PATTERNS[pattern], value):
            self.error(path, f"{value!r} is not a valid {pattern} (must match {PATTERNS[pattern]})")
            return None
        if required and not value:
            self.error(path, "must not be empty")
            return None
        return value

    def integer(self, node: Mapping[str, Any], key: str, path: str, *, required: bool = False,
                minimum: int | None = None, maximum: int | None = None, default: int | None = None) -> int | None:
        value = self._get(node, key, path, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            return self._wrong(path, "an integer", value)
        return self._in_range(path, int(value), minimum, maximum)

    def number(self, node: Mapping[str, Any], key: str, path: str, *, minimum: float, maximum: float,
               default: float | None = None, tenths: bool = False) -> float | None:
        """`tenths`: the value must be a multiple of 0.1 (ECS's stepPercent and canaryPercent)."""
        value = self._get(node, key, path, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self._wrong(path, "a number", value)
        if tenths and not multiple_of_tenth(float(value)):
            self.error(path, f"must be a multiple of 0.1 (ECS refuses other values), got {value}")
            return None
        return self._in_range(path, float(value), minimum, maximum)

    def boolean(self, node: Mapping[str, Any], key: str, path: str, *, default: bool) -> bool:
        value = self._get(node, key, path, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._wrong(path, "true or false", value)
            return default
        return value

    def _get(self, node: Mapping[str, Any], key: str, path: str, required: bool) -> Any:
        value = node.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.error(path, "is required")
            return None
        return value

    def _wrong(self, path: str, expected: str, value: Any) -> None:
        self.error(path, f"must be {expected}, got {type(value).__name__} {value!r}")
        return None

    def _in_range(self, path: str, value: Any, minimum: Any, maximum: Any) -> Any:
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.error(path, f"must be between {minimum} and {maximum}, got {value}")
            return None
        return value


def multiple_of_tenth(value: float) -> bool:
    """Like the CRD's `multipleOf: 0.1` as kube-apiserver checks it (k8s.io/kube-openapi validate.MultipleOf: for a
    factor below 1 it tests that value * (1 / factor) is an integer, within a relative 1e-9), so 3.3 passes although
    3.3 % 0.1 != 0 in binary floating point, and 3.05 fails."""
    scaled = value * 10.0
    return abs(scaled - round(scaled)) <= 1e-9 * max(abs(scaled), 1.0)


def image_problem(image: str) -> str | None:
    """Why an image reference is not traceable, or None. Mirrors the CRD's CEL rules on containers[].image."""
    if image.endswith(":latest"):
        return f"image {image!r} must not use the latest tag; pin a version tag or digest"
    if not re.search(PATTERNS["image"], image):
        return f"image {image!r} has no tag; pin a version tag (name:1.2.3) or digest (name@sha256:...)"
    return None
