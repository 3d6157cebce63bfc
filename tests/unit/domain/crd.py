"""The CRD's openAPIV3Schema as JSON Schema, plus its CEL rules evaluated with cel-python.

The structural schema is a JSON-schema subset; only `nullable` needs translating (to a type list) and the
x-kubernetes-* keywords are dropped (CEL rules are evaluated separately, like the API server does).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[3]
CRD_PATH = ROOT / "crds" / "ecsbluegreenreleases.ecsbg.dev.yaml"
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if p.name != "wave.yaml")  # tests/waves: the wave


@functools.cache
def crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_PATH.read_text())


def open_api_schema() -> dict[str, Any]:
    return crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if node.get("nullable") and "type" in node:
        out["type"] = [node["type"], "null"]
    if node.get("x-kubernetes-preserve-unknown-fields") is None and node.get("type") == "object" and "properties" in node:
        out["additionalProperties"] = False  # the API server prunes unknown fields; in tests we want to see them
    return out


def schema_errors(obj: dict[str, Any], schema: dict[str, Any] | None = None) -> list[str]:
    validator = jsonschema.Draft7Validator(to_json_schema(copy.deepcopy(schema or open_api_schema())),
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = [f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]
    return errors + cel_errors(obj, schema or open_api_schema())


def cel_errors(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Evaluate every x-kubernetes-validations rule on the nodes present, like the API server does."""
    errors = []
    for rule in schema.get("x-kubernetes-validations", ()):
        if not _evaluate(rule["rule"], value):
            errors.append(f"{path}: {rule['message']}")
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in value and value[key] is not None:
                errors += cel_errors(value[key], sub, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += cel_errors(item, schema["items"], f"{path}[{i}]")
    return errors


@functools.cache
def _program(rule: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def _evaluate(rule: str, value: Any) -> bool:
    return bool(_program(rule).evaluate({"self": celpy.json_to_cel(value)}))
