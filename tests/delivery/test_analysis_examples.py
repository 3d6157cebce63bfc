"""Every analysis template example (examples/analysis/*.yaml) passes its CRD's schema and CEL rules, and the
operator's parser (which compiles its CEL conditions)."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from ecsbg.domain.analysis.templates import parse_template
from tests.delivery.conftest import ROOT
from tests.delivery.test_examples import cel_errors, to_json_schema

EXAMPLES = sorted((ROOT / "examples" / "analysis").glob("*.yaml"))
CRDS = {"EcsAnalysisTemplate": "ecsanalysistemplates", "ClusterEcsAnalysisTemplate": "clusterecsanalysistemplates"}


def schema(kind: str) -> dict:
    crd = yaml.safe_load((ROOT / "crds" / f"{CRDS[kind]}.ecsbg.dev.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_one_example_per_provider():
    providers = {p for path in EXAMPLES for m in yaml.safe_load(path.read_text())["spec"]["metrics"]
                 for p in m["provider"]}
    assert providers == {"web", "prometheus", "cloudWatch"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_template_example_is_valid(path: Path):
    obj = yaml.safe_load(path.read_text())
    raw = schema(obj["kind"])
    validator = jsonschema.Draft7Validator(to_json_schema(raw))
    assert [e.message for e in validator.iter_errors(obj)] == []
    assert cel_errors(raw, obj) == []
    parse_template(obj)  # raises InvalidTemplate naming the field


def test_the_crd_refuses_two_providers_and_an_inline_token():
    obj = yaml.safe_load((ROOT / "examples" / "analysis" / "prometheus-error-rate.yaml").read_text())
    raw = schema("EcsAnalysisTemplate")
    obj["spec"]["metrics"][0]["provider"]["web"] = {"url": "http://x"}
    assert cel_errors(raw, obj) == ["spec.metrics[0].provider: set exactly one of web, prometheus, cloudWatch"]
    del obj["spec"]["metrics"][0]["provider"]["web"]
    obj["spec"]["metrics"][0]["provider"]["prometheus"]["bearerToken"] = "abc123"
    assert any("bearerToken" in ".".join(map(str, e.path))
               for e in jsonschema.Draft7Validator(to_json_schema(raw)).iter_errors(obj))
