"""`kubectl ecsrelease lint FILE...`: check release files offline, as the API server and the operator would.

Two passes per EcsBlueGreenRelease document, no cluster needed:
  1. the CRD (the copy the plugin was built with, crd.yaml, or --crd): the structural schema with strict field
     validation (`kubectl apply --validate=strict`: unknown fields are errors) and its CEL rules (cel-python);
  2. the operator's own parser (ecsbg.domain.parsing.parse_release): everything that makes a release Invalid,
     such as ARNs of another region or account.
Other documents of a file are skipped (a release file often carries a Namespace or a ConfigMap).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ecsbg.domain.parsing import InvalidSpec, parse_release

CRD = Path(__file__).with_name("crd.yaml")
API_VERSION, KIND = "ecsbg.dev/v1alpha1", "EcsBlueGreenRelease"


@functools.cache
def crd_schema(path: Path = CRD) -> dict[str, Any]:
    crd = yaml.safe_load(path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    return version["schema"]["openAPIV3Schema"]


def _json_schema(node: dict[str, Any], *, top: bool = True) -> dict[str, Any]:
    """OpenAPI -> JSON Schema as the API server applies it: nullable is a null type; unknown fields are errors
    except under x-kubernetes-preserve-unknown-fields; metadata is ObjectMeta (the API server's own check)."""
    out = copy.deepcopy(node)
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in out:
        out["properties"] = {k: _json_schema(v, top=False) for k, v in out["properties"].items()}
        if top:
            out["properties"]["metadata"] = {"type": "object"}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    for key in ("additionalProperties", "items"):
        if isinstance(out.get(key), dict):
            out[key] = _json_schema(out[key], top=False)
    return out


def schema_errors(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft7Validator(_json_schema(schema), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in validator.iter_errors(obj)]


def cel_errors(node: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """x-kubernetes-validations where the value is present; transition rules (oldSelf) need a live object."""
    import celpy

    errors, env = [], celpy.Environment()
    for rule in node.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue
        result = env.program(env.compile(rule["rule"])).evaluate({"self": celpy.json_to_cel(value)})
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            errors.append(f"{path or '<root>'}: {rule.get('message', rule['rule'])}")
    if isinstance(value, dict):
        for key, child in value.items():
            sub = (node.get("properties") or {}).get(key) or node.get("additionalProperties")
            if isinstance(sub, dict):
                errors += cel_errors(sub, child, f"{path}.{key}".lstrip("."))
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, child in enumerate(value):
            errors += cel_errors(node["items"], child, f"{path}[{index}]")
    return errors


def lint_object(obj: dict[str, Any], crd: Path = CRD) -> list[str]:
    schema = crd_schema(crd)
    errors = schema_errors(obj, schema)
    if errors:  # CEL and the parser assume the structure the schema guarantees
        return errors
    errors = cel_errors(schema, obj)
    try:
        spec = parse_release(obj)
    except InvalidSpec as invalid:
        return errors + [f"{e} (the operator would mark the release Invalid)" for e in invalid.errors]
    if spec.task_definition.template is not None:  # botocore's model: what the start would refuse
        from ecsbg.aws.shapes import register_task_definition_errors

        errors += [f"{e} (the attempt would fail before registering)" for e in
                   register_task_definition_errors(spec.task_definition.template, "spec.taskDefinition.template")]
    return errors


def lint_wave(obj: dict[str, Any], crd: Path = CRD) -> list[str]:
    from ecsbg.domain.waves.children import child_spec
    from ecsbg.domain.waves.parsing import InvalidWave, parse_wave

    try:
        spec = parse_wave(obj)
    except InvalidWave as error:
        return [f"{reason}: {message}" for reason, message in error.problems]
    problems = []
    for name, target in spec.targets.items():
        child = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name},
                 "spec": child_spec(spec.template, target)}
        problems += [f"target {name}: {problem}" for problem in lint_object(child, crd)]
    return problems


def lint_file(path: Path, crd: Path = CRD) -> Iterator[tuple[str, list[str]]]:
    """(release name, problems) per EcsBlueGreenRelease document of the file."""
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except (OSError, yaml.YAMLError) as error:
        yield "-", [f"cannot read: {error}"]
        return
    releases = [d for d in docs if isinstance(d, dict) and d.get("kind") == KIND]
    wave_docs = [d for d in docs if isinstance(d, dict) and d.get("kind") == "EcsReleaseWave"]
    if not releases and not wave_docs:
        yield "-", [f"no {KIND} document"]
    for obj in wave_docs:  # the wave parser, and the release lint of each target's rendered child
        yield (obj.get("metadata") or {}).get("name") or "<no name>", lint_wave(obj, crd)
    for obj in releases:
        name = (obj.get("metadata") or {}).get("name") or "<no name>"
        problems = [] if obj.get("apiVersion") == API_VERSION else [
            f"apiVersion: {obj.get('apiVersion')!r} is not {API_VERSION}"]
        if not (obj.get("metadata") or {}).get("name"):
            problems.append("metadata.name: required")
        yield name, problems + lint_object(obj, crd)
