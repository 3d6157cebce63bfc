"""Every example CR (examples/*.yaml) passes the CRD's openAPIV3Schema and its CEL rules.

kubernetes-validate has no schema for custom resources, so the CRD schema is turned into a JSON Schema the
way the API server applies it with strict field validation (`kubectl apply --validate=strict`): OpenAPI
`nullable` becomes a null type, and unknown fields are errors except under x-kubernetes-preserve-unknown-fields.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import pytest
import yaml

from tests.delivery.conftest import ROOT

CRD_PATH = ROOT / "crds" / "ecsbluegreenreleases.ecsbg.dev.yaml"
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if p.name != "wave.yaml")  # tests/waves: the wave


@functools.cache
def crd_schema() -> dict:
    crd = yaml.safe_load(CRD_PATH.read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["storage"]]
    return version["schema"]["openAPIV3Schema"]


def to_json_schema(node: dict, *, top: bool = True) -> dict:
    out = copy.deepcopy(node)
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    props = out.get("properties")
    if props is not None:
        out["properties"] = {k: to_json_schema(v, top=False) for k, v in props.items()}
        if top:  # metadata is ObjectMeta, validated by the API server itself
            out["properties"]["metadata"] = {"type": "object"}
        if "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(out["additionalProperties"], top=False)
    if isinstance(out.get("items"), dict):
        out["items"] = to_json_schema(out["items"], top=False)
    return out


def schema_errors(obj: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(to_json_schema(crd_schema()),
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(obj)]


def cel_errors(node: dict, value: Any, path: str = "") -> list[str]:
    """Evaluate x-kubernetes-validations where the value is present (transition rules need oldSelf: skipped)."""
    errors = []
    env = celpy.Environment()
    for rule in node.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue
        result = env.program(env.compile(rule["rule"])).evaluate({"self": celpy.json_to_cel(value)})
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            errors.append(f"{path or '<root>'}: {rule.get('message', rule['rule'])}")
    if isinstance(value, dict):
        for key, child in value.items():
            sub = node.get("properties", {}).get(key) or (node.get("additionalProperties") or None)
            if isinstance(sub, dict):
                errors += cel_errors(sub, child, f"{path}.{key}".lstrip("."))
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, child in enumerate(value):
            errors += cel_errors(node["items"], child, f"{path}[{index}]")
    return errors


def all_errors(obj: dict) -> list[str]:
    errors = schema_errors(obj)
    return errors or cel_errors(crd_schema(), obj)


def test_there_are_examples():
    assert CRD_PATH.is_file() and EXAMPLES, "crds/ and examples/ are written by the CRD work"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_valid_against_the_crd(path: Path):
    objects = [o for o in yaml.safe_load_all(path.read_text()) if o]
    assert objects
    for obj in objects:
        assert (obj["apiVersion"], obj["kind"]) == ("ecsbg.dev/v1alpha1", "EcsBlueGreenRelease")
        assert all_errors(obj) == [], path.name


@pytest.fixture
def example() -> dict:
    return yaml.safe_load(EXAMPLES[0].read_text())


def test_validation_refuses_unknown_field(example: dict):
    example["spec"]["target"]["clustr"] = "typo"
    assert any("clustr" in e for e in schema_errors(example))


def test_validation_refuses_missing_required_field(example: dict):
    del example["spec"]["target"]["region"]
    assert any("region" in e for e in schema_errors(example))


def test_cel_rules_are_evaluated(example: dict):
    example["spec"]["taskDefinition"] = {"arn": "arn:aws:ecs:us-east-1:111122223333:task-definition/web:1",
                                         "containers": [{"name": "app", "image": "nginx:1.27.5"}]}
    assert schema_errors(example) == []
    assert cel_errors(crd_schema(), example), "the exactly-one-of arn/containers rule did not fire"
