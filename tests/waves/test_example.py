"""examples/wave.yaml passes the EcsReleaseWave CRD's schema (strict, as tests/delivery/test_examples.py does for
releases) and the wave parser, and each target's rendered child passes the release CRD and parser."""

from __future__ import annotations

import jsonschema
import yaml

from ecsbg.domain.waves.children import child_spec, template_errors
from ecsbg.domain.waves.parsing import parse_wave
from tests.delivery import test_examples as release_examples
from tests.delivery.conftest import ROOT


def _wave_schema() -> dict:
    crd = yaml.safe_load((ROOT / "crds" / "ecsreleasewaves.ecsbg.dev.yaml").read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["storage"]]
    return release_examples.to_json_schema(version["schema"]["openAPIV3Schema"])


def test_the_wave_example_is_valid_and_renders_valid_releases() -> None:
    wave = yaml.safe_load((ROOT / "examples" / "wave.yaml").read_text())
    assert list(jsonschema.Draft7Validator(_wave_schema()).iter_errors(wave)) == []
    spec = parse_wave(wave)
    assert [s.targets for s in spec.steps] == [("canary-web",), ("use1-web", "use1-api"), ("euw1-web",)]
    assert template_errors(spec) == []
    for target in spec.targets.values():
        child = {"apiVersion": "ecsbg.dev/v1alpha1", "kind": "EcsBlueGreenRelease",
                 "metadata": {"name": target.name}, "spec": child_spec(spec.template, target)}
        assert release_examples.all_errors(child) == [], target.name


def test_the_schema_refuses_an_unknown_gate_field() -> None:
    wave = yaml.safe_load((ROOT / "examples" / "wave.yaml").read_text())
    wave["spec"]["waves"][0]["gate"]["bakee"] = "1m"
    assert any("bakee" in e.message for e in jsonschema.Draft7Validator(_wave_schema()).iter_errors(wave))
