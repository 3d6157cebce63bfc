"""The chart itself: helm lint --strict, values.yaml against values.schema.json, bad values refused."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.delivery.conftest import CHART, CI_VALUES, helm

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
# Kubernetes objects the chart passes through unchanged; the API server validates them.
PASS_THROUGH = {"affinity.nodeAffinity", "affinity.podAffinity", "affinity.podAntiAffinity",
                "extraEnv[].valueFrom", "extraVolumes[]",  # a Kubernetes Volume: the API server validates it
                # EcsReleasePolicy specs: the CRD's schema validates them at the API server
                *(f"policy.policies.*.{k}" for k in ("namespaceSelector", "targets", "role", "images", "promoteFrom"))}


def test_ci_values_files_cover_the_options():
    names = {path.stem for path in CI_VALUES}
    assert {"default-values", "namespaced-values", "monitoring-values", "irsa-values"} <= names


def test_helm_lint_strict_passes(ci_values: Path):
    result = helm("lint", "--strict", str(CHART), "--values", str(ci_values), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_values_yaml_satisfies_schema():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator(SCHEMA).validate(VALUES)


def test_ci_values_satisfy_schema(ci_values: Path):
    jsonschema.Draft7Validator(SCHEMA).validate(yaml.safe_load(ci_values.read_text()) or {})


def _object_nodes(node: dict, path: str = ""):
    if node.get("type") == "object" or "properties" in node:
        yield path, node
    for key, child in node.get("properties", {}).items():
        yield from _object_nodes(child, f"{path}.{key}" if path else key)
    if isinstance(node.get("items"), dict):
        yield from _object_nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _object_nodes(node["additionalProperties"], f"{path}.*")


def test_schema_refuses_unknown_keys_at_every_level():
    nodes = dict(_object_nodes(SCHEMA))
    assert len(nodes) > 15
    for path, node in nodes.items():
        if path in PASS_THROUGH:
            assert node.get("additionalProperties") is True, path
        elif "properties" in node:
            assert node.get("additionalProperties") is False, f"{path or '<root>'} accepts unknown keys"
        else:  # a map such as annotations: the value type must be declared
            assert isinstance(node.get("additionalProperties"), dict), f"{path} is an untyped object"


BAD_VALUES = [
    ({"bogus": 1}, "bogus"),
    ({"operator": {"logFormat": "xml"}}, "logFormat"),
    ({"watchNamespaces": ["Not_A_Namespace"]}, "watchNamespaces"),
    ({"securityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem"),
    ({"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
    ({"image": {"digest": "latest"}}, "digest"),
    ({"serviceAccount": {"irsa": {"roleArn": "my-role"}}}, "roleArn"),
    ({"metrics": {"port": 70000}}, "port"),
    ({"metrics": {"serviceMonitor": {"interval": "often"}}}, "interval"),
]


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) \
            else value
    return merged


@pytest.mark.parametrize(("override", "key"), BAD_VALUES, ids=[key for _, key in BAD_VALUES])
def test_bad_values_are_refused_by_schema_and_helm(tmp_path: Path, override: dict, key: str):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(_merge(VALUES, override))
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(yaml.safe_dump(override))
    result = helm("template", "t", str(CHART), "--values", str(bad), check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert key in result.stderr


def test_every_value_is_commented_inline():
    """Each leaf key in values.yaml has a comment, its own or its parent's when the parent is one value
    (resources, securityContext): values.yaml is the chart's reference for users."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented, parents = [], []  # parents: (indent, documented) of the enclosing mappings
    for number, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):(.*)$", line)
        if not match:
            continue
        indent = len(match.group(1))
        while parents and parents[-1][0] >= indent:
            parents.pop()
        documented = (number > 0 and lines[number - 1].strip().startswith("#")) or any(d for _, d in parents)
        if match.group(3).strip():
            if not documented:
                undocumented.append(match.group(2))
        else:
            parents.append((indent, documented))
    assert not undocumented, f"values without a comment: {undocumented}"


def test_chart_metadata_follows_the_project_version():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = tomllib.loads((CHART.parents[1] / "pyproject.toml").read_text())["project"]["version"]
    assert chart["apiVersion"] == "v2" and chart["type"] == "application"
    assert chart["appVersion"] == version
    assert chart["kubeVersion"] == ">=1.29.0-0"  # CEL validation rules (x-kubernetes-validations) are GA in 1.29
    dockerfile = (CHART.parents[1] / "Dockerfile").read_text()
    assert f"ARG VERSION={version}" in dockerfile


def test_chart_packages(tmp_path: Path):
    result = helm("package", str(CHART), "--destination", str(tmp_path))
    [archive] = tmp_path.glob("ecs-bluegreen-operator-*.tgz")
    assert archive.name in result.stdout
