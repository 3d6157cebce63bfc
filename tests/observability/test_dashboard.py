"""Structure of dashboards/ecsbg-releases.json (no Grafana server can be had here: ecosystem.md Part 2)."""

from __future__ import annotations

import re

import pytest

from ecsbg.metrics import vocabulary as v
from ecsbg.metrics.prometheus import PrometheusRecorder
from tests.observability.promql import (
    dashboard_expressions,
    dashboard_panels,
    load_dashboard,
    metric_names,
    rule_expressions,
)
from tests.observability.release_script import drive
from tests.observability.tools import REPO

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@pytest.fixture(scope="module")
def dashboard():
    return load_dashboard()


def panels(dashboard, kind=None):
    return [p for p in dashboard_panels(dashboard) if p["type"] != "row" and kind in (None, p["type"])]


def test_top_level_is_provisionable_by_grafana_11(dashboard):
    assert dashboard["uid"] == "ecsbg-releases" and len(dashboard["uid"]) <= 40
    assert dashboard["id"] is None
    assert 39 <= dashboard["schemaVersion"] <= 41
    variables = {var["name"]: var for var in dashboard["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    # ${DS_...} inputs only resolve in the UI import wizard; ConfigMap provisioning would fail on them.
    assert "__inputs" not in dashboard
    assert "DS_" not in str(dashboard)


def test_every_panel_and_target_uses_the_datasource_variable(dashboard):
    for panel in panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, (panel["title"], target["refId"])
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            assert var["datasource"] == DATASOURCE, var["name"]


def test_panel_ids_are_unique_and_the_grid_has_no_overlap(dashboard):
    all_panels = list(dashboard_panels(dashboard))
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for p in all_panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = p["title"]


def test_the_panels_the_issue_asks_for_exist(dashboard):
    have = {(p["type"], p["title"]) for p in panels(dashboard)}
    assert {
        ("state-timeline", "Phase per release"),
        ("state-timeline", "ECS lifecycle stage per release"),
        ("table", "Current releases"),
        ("table", "Awaiting approval"),
        ("timeseries", "Finished releases by result"),
        ("table", "Stage duration percentiles"),
        ("timeseries", "AWS API error rate"),
    } <= have


@pytest.mark.parametrize(("title", "label", "values"), [
    ("Phase per release", "phase", v.PHASES),
    ("ECS lifecycle stage per release", "stage", v.ECS_STAGES),
])  # fmt: skip
def test_state_timelines_map_every_code_back_to_its_name(dashboard, title, label, values):
    """The timelines encode each state as a number in PromQL; the value mappings must decode the same way."""
    (panel,) = [p for p in panels(dashboard, "state-timeline") if p["title"] == title]
    codes = dict(re.findall(rf'{label}="(\w+)"\}} \* (\d+)', panel["targets"][0]["expr"]))
    assert set(codes) == set(values)
    mapping = panel["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {name: mapping[code]["text"] for name, code in codes.items()} == {name: name for name in codes}


def test_every_metric_used_is_exported_by_the_recorder():
    recorder = PrometheusRecorder()
    drive(recorder)
    exported = {s.name for family in recorder.registry.collect() for s in family.samples}
    for expression in [*dashboard_expressions(), *rule_expressions()]:
        assert metric_names(expression.promql) <= exported, expression.where


def test_docs_describe_every_panel(dashboard):
    docs = (REPO / "docs" / "observability.md").read_text()
    missing = [p["title"] for p in panels(dashboard) if f"**{p['title']}**" not in docs]
    assert not missing, f"panels not described in docs/observability.md: {missing}"


def test_annotations_mark_deployments_and_rollbacks_per_release(dashboard):
    """Deployments in flight and rolled-back/failed releases as regions on every time series, per release."""
    found = {a["name"]: a for a in dashboard["annotations"]["list"] if a.get("expr")}
    assert set(found) == {"Deployments in flight", "Rolled back or failed"}
    for annotation in found.values():
        assert annotation["datasource"] == DATASOURCE and annotation["enable"]
        assert annotation["titleFormat"] == "{{namespace}}/{{name}}" and annotation["textFormat"] == "{{phase}}"
        assert 'namespace=~"$namespace", name=~"$name"' in annotation["expr"]
    in_flight = re.search(r'phase=~"([^"]+)"', found["Deployments in flight"]["expr"])[1].split("|")
    assert set(in_flight) == {"Pending", "Deploying", "AwaitingApproval", "Baking", "RollingBack"}


@pytest.mark.parametrize("title", ["Current releases", "Awaiting approval"])
def test_a_release_row_links_to_the_dashboard_of_that_release(dashboard, title):
    panel = next(p for p in panels(dashboard, "table") if p["title"] == title)
    renamed = next(t for t in panel["transformations"] if t["id"] == "organize")["options"]["renameByName"]
    assert renamed["name"] == "Name" and renamed["namespace"] == "Namespace"
    override = next(o for o in panel["fieldConfig"]["overrides"] if o["matcher"] == {"id": "byName", "options": "Name"})
    (link,) = next(p["value"] for p in override["properties"] if p["id"] == "links")
    assert link["url"].startswith(f"/d/{dashboard['uid']}/")
    query = dict(part.split("=", 1) for part in link["url"].split("?", 1)[1].split("&") if "=" in part)
    assert query == {"var-namespace": "${__data.fields.Namespace}", "var-name": "${__value.raw}"}
    assert "${datasource:queryparam}" in link["url"] and "${__url_time_range}" in link["url"]
