"""A real Prometheus scrapes a release as it happens; every shipped PromQL expression must parse and find data.

This is what catches a dashboard or an alert that names a metric or label value the operator never exports:
promql-parser checks the syntax, Prometheus checks that the selectors, label matchers and functions
together select at least one series.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.observability.prom_server import PrometheusServer
from tests.observability.promql import all_expressions, metric_names, rule_expressions


@pytest.fixture(scope="module")
def prometheus(metrics_source, tmp_path_factory) -> Iterator[PrometheusServer]:
    """Prometheus after it scraped every step of the release (started once: the run takes seconds)."""
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), metrics_source.target)
    try:
        server.wait_ready()
        metrics_source.run(server.wait_for_scrape)
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("expression", all_expressions(), ids=lambda e: e.where)
def test_expression_parses_and_returns_series(prometheus, expression):
    assert metric_names(expression.promql), "selects no metric"  # and parses: promql-parser raises otherwise
    result = prometheus.query(expression.promql)
    if expression.label is not None:  # a label_values() variable: the label must have values
        result = [r for r in result if r["metric"].get(expression.label)]
    assert result, f"no series for {expression.promql}"


def test_prometheus_loads_the_alert_rules(prometheus):
    rules = {rule["name"]: rule for rule in prometheus.rules()}
    assert set(rules) == {e.where.removeprefix("rule ") for e in rule_expressions()}
    assert all(rule["health"] == "ok" for rule in rules.values()), rules
