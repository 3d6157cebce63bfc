"""Every PromQL expression the project ships (dashboard targets and variables, alert rules), ready to run.

Grafana variables are replaced the way Grafana would with "All" selected: `$namespace`-style variables become
`.*` (they are only used in `=~` matchers, with allValue `.*`), the interval macros become fixed durations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser
import yaml

from tests.observability.tools import REPO

DASHBOARD = REPO / "dashboards" / "ecsbg-releases.json"
RULES = REPO / "deploy" / "prometheus" / "ecsbg-rules.yaml"

_MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$", re.S)


@dataclass(frozen=True)
class Expression:
    where: str  # a human pointer: "dashboard panel 'Awaiting approval' A" or "rule EcsReleaseRolledBack"
    promql: str  # substituted, ready to parse and query
    label: str | None = None  # for label_values() variables: the label whose values the query lists


def substitute(expr: str) -> str:
    for macro, value in _MACROS.items():
        expr = expr.replace(macro, value)
    return re.sub(r"\$\{?(\w+)\}?", ".*", expr)


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


def dashboard_expressions() -> Iterator[Expression]:
    dashboard = load_dashboard()
    for panel in dashboard_panels(dashboard):
        for target in panel.get("targets", []):
            yield Expression(f"panel {panel['title']!r} {target['refId']}", substitute(target["expr"]))
    for annotation in dashboard["annotations"]["list"]:
        if annotation.get("expr"):  # Prometheus annotations (Grafana's built-in one has none)
            yield Expression(f"annotation {annotation['name']!r}", substitute(annotation["expr"]))
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            match = _LABEL_VALUES.match(var["query"]["query"])
            assert match, f"variable {var['name']}: only label_values(selector, label) queries are supported"
            yield Expression(f"variable {var['name']}", substitute(match["selector"]), match["label"])


# Rules whose firing condition no scripted or live scenario can reach while an operator is scraped: the query
# the "returns series" check runs instead still selects every metric and label of the rule (promtool's unit tests
# in deploy/prometheus/ecsbg-rules.test.yaml cover their thresholds and `for`).
_ABSENT = re.compile(r"^\s*absent\((?P<inner>.+)\)\s*$", re.S)
_THRESHOLD = re.compile(r"\s*>\s*0\s*$")
UNREACHABLE_CONDITIONS = {
    "EcsbgOperatorDown": lambda e: _ABSENT.match(e)["inner"],  # absent() is empty while the operator is up
    "EcsbgReconcileErrors": lambda e: _THRESHOLD.sub("", e),  # a healthy live run has no failing passes
}


def rule_expressions() -> Iterator[Expression]:
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            expr = UNREACHABLE_CONDITIONS.get(name, lambda e: e)(rule["expr"])
            yield Expression(f"rule {name}", expr)


def all_expressions() -> list[Expression]:
    return [*dashboard_expressions(), *rule_expressions()]


def metric_names(promql: str) -> set[str]:
    """The metric names an expression selects (parsing it, which raises ValueError on invalid PromQL)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(promql), visit)
    return names
