"""docs/install.md stays true: its commands are accepted by the chart, its snippets parse, its paths exist."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from tests.delivery import design
from tests.delivery.conftest import CHART, ROOT, helm

DOC = (ROOT / "docs" / "install.md").read_text()
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
PLACEHOLDERS = {"<account>": "111122223333", "<registry>": "registry.example.com", "<new>": "0.1.1",
                "<org>": "example", "<eks-cluster>": "eks"}


def concrete(text: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def test_helm_set_flags_are_accepted_by_the_chart():
    sets = [concrete(s) for block in blocks("bash") for s in re.findall(r"--set ([\w.\[\]]+=\S+)", block)]
    assert len(sets) >= 4
    args = ["template", "t", str(CHART)]
    for assignment in sets:
        args += ["--set", assignment]
    helm(*args)


def test_yaml_snippets_parse_and_their_values_match_the_schema():
    chart_values = []
    for block in blocks("yaml"):
        for doc in yaml.safe_load_all(concrete(block)):
            if doc.get("kind") == "Application":
                chart_values.append(doc["spec"]["source"]["helm"]["valuesObject"])
            elif doc.get("kind") == "HelmRelease":
                chart_values.append(doc["spec"]["values"])
                assert doc["spec"]["upgrade"]["crds"] == "CreateReplace"
    assert len(chart_values) == 2
    for values in chart_values:
        jsonschema.Draft7Validator(SCHEMA).validate(values)


def test_settings_table_lists_every_design_setting():
    documented = set(re.findall(r"`(ECSBG_\w+)`", DOC))
    assert set(design.settings_defaults()) - {"ECSBG_AWS_ENDPOINT_URL"} <= documented


@pytest.mark.parametrize("path", sorted(set(re.findall(
    r"`((?:deploy|charts|dashboards|examples|crds)/[\w./-]*)`", DOC))))
def test_referenced_paths_exist(path: str):
    assert (ROOT / path).exists(), path


def test_gitops_snippets_keep_the_service_account_name_of_the_iam_examples():
    """IRSA trust and Pod Identity name system:serviceaccount:ecsbg-system:ecs-bluegreen-operator."""
    for block in blocks("yaml"):
        for doc in yaml.safe_load_all(concrete(block)):
            if doc.get("kind") == "HelmRelease":
                assert (doc["spec"]["releaseName"], doc["spec"]["targetNamespace"]) == (
                    "ecs-bluegreen-operator", "ecsbg-system")
            elif doc.get("kind") == "Application":
                assert doc["metadata"]["name"] == "ecs-bluegreen-operator"  # Argo CD's default release name
                assert doc["spec"]["destination"]["namespace"] == "ecsbg-system"
