"""The web and prometheus providers against real servers: a local HTTP endpoint, Debian's Prometheus scraping a
small app. What each answers as `result`, and the MeasurementError (message naming the system) for each failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ecsbg.analysis.prometheus import PrometheusProvider
from ecsbg.analysis.web import WebProvider, select
from ecsbg.domain.analysis.provider import MeasurementError
from tests.analysis.apps import Probe, ScrapedApp
from tests.observability.prom_server import PrometheusServer


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[PrometheusServer]:
    app = ScrapedApp()
    app.set(error_ratio=0.25)
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), app.target)
    try:
        server.wait_ready()
        server.wait_for_scrape()
        yield server
    finally:
        server.stop()
        app.stop()


@pytest.fixture
def probe() -> Iterator[Probe]:
    served = Probe()
    yield served
    served.stop()


async def test_prometheus_vector_and_scalar(prometheus):
    provider = PrometheusProvider()
    assert await provider.measure({"address": prometheus.url, "query": 'app_error_ratio{service="web"}'},
                                  namespace="n") == [0.25]
    assert await provider.measure({"address": prometheus.url, "query": "scalar(max(app_error_ratio))"},
                                  namespace="n") == 0.25
    assert await provider.measure({"address": prometheus.url, "query": 'app_error_ratio{service="none"}'},
                                  namespace="n") == []


@pytest.mark.parametrize(("query", "message"), [
    ("rate(app_error_ratio[", "query 'rate(app_error_ratio[' failed (HTTP 400): bad_data"),
    ("app_error_ratio[1m]", "answered a matrix"),
])
async def test_prometheus_errors_name_the_cause(prometheus, query, message):
    with pytest.raises(MeasurementError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        await PrometheusProvider().measure({"address": prometheus.url, "query": query}, namespace="n")


async def test_an_unreachable_prometheus_is_a_measurement_error():
    with pytest.raises(MeasurementError, match=r"prometheus http://127.0.0.1:9 unreachable"):
        await PrometheusProvider().measure({"address": "http://127.0.0.1:9", "query": "up"}, namespace="n")


async def test_web_result_has_status_latency_body_and_the_json_path_value(probe):
    probe.answer(503, {"checks": [{"ok": False}]})
    result = await WebProvider().measure({"url": f"{probe.url}/h", "jsonPath": "$.checks[0].ok",
                                          "headers": [{"key": "X-Token", "value": "t"}]}, namespace="n")
    assert (result["status"], result["value"], result["body"]) == (503, False, {"checks": [{"ok": False}]})
    assert result["latency"] >= 0 and probe.requests[0]["headers"]["X-Token"] == "t"


async def test_web_errors(probe):
    with pytest.raises(MeasurementError, match="selects nothing"):
        await WebProvider().measure({"url": probe.url, "jsonPath": "$.missing"}, namespace="n")
    with pytest.raises(MeasurementError, match=r"web GET http://127.0.0.1:9: ClientConnectorError"):
        await WebProvider().measure({"url": "http://127.0.0.1:9"}, namespace="n")


@pytest.mark.parametrize(("path", "value"), [("$", {"a": [1, {"b": 2}]}), ("$.a[1].b", 2), ("{$.a[0]}", 1),
                                             ("$['a'][0]", 1)])
def test_json_path(path, value):
    assert select({"a": [1, {"b": 2}]}, path, "w") == value
