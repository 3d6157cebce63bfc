"""NOTES.txt renders for every ci/ values file and gives the credentials step that fits the values.

`helm template` never prints NOTES.txt and `helm install --dry-run` needs a cluster, so the notes are
rendered through `tpl` from a staged copy of the chart (same template engine, same named templates).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.delivery.conftest import CHART, NAMESPACE, helm

PROBE = 'notes: {{ tpl (.Files.Get "notes-under-test.txt") . | toJson }}\n'


@pytest.fixture(scope="module")
def staged_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    staged = tmp_path_factory.mktemp("notes") / CHART.name
    shutil.copytree(CHART, staged)
    shutil.copy(CHART / "templates" / "NOTES.txt", staged / "notes-under-test.txt")
    (staged / "templates" / "notes-probe.yaml").write_text(PROBE)
    return staged


def notes(chart: Path, values: Path | None = None) -> str:
    args = ["template", "ecsbg", str(chart), "--namespace", NAMESPACE, "--show-only", "templates/notes-probe.yaml"]
    if values:
        args += ["--values", str(values)]
    return yaml.safe_load(helm(*args).stdout)["notes"]


def test_notes_render_for_every_ci_values_file(staged_chart: Path, ci_values: Path):
    text = notes(staged_chart, staged_chart / "ci" / ci_values.name)
    assert "kubectl get ecsreleases -A" in text
    assert "helm show crds" in text  # the CRD upgrade step Helm does not do


def test_irsa_notes_name_the_role_and_the_subject(staged_chart: Path):
    text = notes(staged_chart, staged_chart / "ci" / "irsa-values.yaml")
    assert "assumes arn:aws:iam::111122223333:role/ecsbg-operator" in text
    assert f"system:serviceaccount:{NAMESPACE}:ecsbg-operator" in text
    assert "create-pod-identity-association" not in text


def test_default_notes_explain_pod_identity(staged_chart: Path):
    text = notes(staged_chart)
    assert f"--namespace {NAMESPACE} --service-account ecsbg-ecs-bluegreen-operator" in text
    assert "every namespace" in text


def test_namespaced_notes_list_the_namespaces(staged_chart: Path):
    text = notes(staged_chart, staged_chart / "ci" / "namespaced-values.yaml")
    assert "team-a, team-b" in text and "Metrics:" not in text
