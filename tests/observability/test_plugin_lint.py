"""`kubectl ecsrelease lint`: offline checks of release files against the CRD and the operator's parser."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import pytest
import yaml

from ecsbg.plugin import lint
from ecsbg.plugin.cli import main
from tests.observability.tools import REPO

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
EXAMPLE = yaml.safe_load((REPO / "examples" / "bluegreen-pause.yaml").read_text())


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out, err=io.StringIO())
    return code, out.getvalue()


def test_the_packaged_crd_is_the_repositorys():
    assert lint.CRD.read_bytes() == (REPO / "crds" / "ecsbluegreenreleases.ecsbg.dev.yaml").read_bytes()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_passes(path):
    code, out = run("lint", str(path))
    assert code == 0 and out.endswith(": ok\n"), out


def changed(edit) -> dict:
    obj = copy.deepcopy(EXAMPLE)
    edit(obj)
    return obj


CASES = [
    ("unknown field", lambda o: o["spec"]["target"].update(clustr="x"), "spec.target: Additional properties"),
    ("missing region", lambda o: o["spec"]["target"].pop("region"), "'region' is a required property"),
    ("CEL: arn and containers", lambda o: o["spec"]["taskDefinition"].update(
        arn=f"arn:aws:ecs:{o['spec']['target']['region']}:111122223333:task-definition/web:42"),
     "spec.taskDefinition: "),
    ("parser: region of an ARN", lambda o: o["spec"]["target"].update(
        cluster="arn:aws:ecs:ap-south-1:111122223333:cluster/demo"), "would mark the release Invalid"),
]


@pytest.mark.parametrize("what, edit, expected", CASES, ids=[c[0] for c in CASES])
def test_problems_are_reported_with_their_field(tmp_path, what, edit, expected):
    obj = changed(edit)
    path = tmp_path / "release.yaml"
    path.write_text(yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}, obj]))
    code, out = run("lint", str(path))
    assert code == 1
    assert out.startswith(f"{path}: {obj['metadata']['name']}: ") and expected in out, out


def test_a_file_without_a_release_fails(tmp_path: Path):
    path = tmp_path / "x.yaml"
    path.write_text("kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n")
    assert run("lint", str(path)) == (1, f"{path}: -: no EcsBlueGreenRelease document\n")
