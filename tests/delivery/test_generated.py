"""Generated copies are byte-identical to what scripts/generate.py would write from their sources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.delivery.conftest import CHART, ROOT, generate_module, helm_binary, missing_chart_files


@pytest.fixture(scope="module")
def plan():
    helm_binary()  # a clear failure when helm is missing
    return generate_module().plan(ROOT)


def test_generated_files_do_not_drift(plan):
    problems = generate_module().drift(ROOT, plan)
    assert not problems, "run `make generate`:\n" + "\n".join(problems)


def test_every_source_exists():
    assert sorted((ROOT / "crds").glob("*.yaml")), "crds/ holds no CRD"
    assert not missing_chart_files(), f"sources of chart copies are missing: {missing_chart_files()}"


def test_chart_crds_are_the_root_crds_byte_for_byte():
    root = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    chart = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert chart == root


def test_plan_covers_manifests_and_all_copies(plan):
    paths = {str(p) for p in plan.files}
    assert {"deploy/manifests/crds.yaml", "deploy/manifests/operator.yaml"} <= paths
    assert "charts/ecs-bluegreen-operator/files/ecsbg-rules.yaml" in paths
    assert "charts/ecs-bluegreen-operator/files/ecsbg-releases.json" in paths


def test_drift_is_detected(tmp_path, plan):
    """The drift check itself can fail: a changed copy and a stale copy are both reported."""
    gen = generate_module()
    gen.write(tmp_path, plan)
    assert gen.drift(tmp_path, plan) == []
    copy = tmp_path / "charts/ecs-bluegreen-operator/files/ecsbg-rules.yaml"
    copy.write_text(copy.read_text() + "# edited by hand\n")
    stale = tmp_path / "charts/ecs-bluegreen-operator/crds/old.yaml"
    stale.write_text("kind: Old\n")
    stale_plan = gen.Plan(files=plan.files, stale=frozenset({stale.relative_to(tmp_path)}))
    problems = gen.drift(tmp_path, stale_plan)
    assert any("ecsbg-rules.yaml: differs" in p for p in problems)
    assert any("old.yaml: stale" in p for p in problems)


@pytest.mark.parametrize("name", ["crds.yaml", "operator.yaml"])
def test_plain_manifests_are_valid_kubernetes(name: str):
    objects = [o for o in yaml.safe_load_all((ROOT / "deploy/manifests" / name).read_text()) if o]
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, "1.32.0", strict=True)
    if name == "operator.yaml":
        assert objects[0]["kind"] == "Namespace"
        assert {o["kind"] for o in objects} >= {"Deployment", "ServiceAccount", "ClusterRole", "Service"}


def test_generate_check_cli_reports_in_sync():
    """The command `make generate` wraps, in its read-only mode, from the repository root."""
    env = {**os.environ, "PATH": f"{Path(helm_binary()).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([sys.executable, "scripts/generate.py", "--check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
