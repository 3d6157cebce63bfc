"""The cloudWatch provider through AwsCalls: the request it sends, its result, and errors classified once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from ecsbg.aws.calls import AwsCalls
from ecsbg.aws.cloudwatch import CloudWatchProvider
from ecsbg.domain.analysis.provider import MeasurementError
from tests.fakes.metrics import RecordingMetrics

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
QUERY = {"Id": "errors", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Errors"}, "Period": 60,
                                        "Stat": "Sum"}}


def _provider():
    client = boto3.client("cloudwatch", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    metrics = RecordingMetrics()
    calls = AwsCalls(client, metrics, service="cloudwatch")
    keys = []

    def clients(key):
        keys.append(key)
        return calls

    return CloudWatchProvider(clients, now=lambda: NOW), Stubber(client), metrics, keys


async def test_get_metric_data_result_maps_ids_to_values():
    provider, stub, metrics, keys = _provider()
    stub.add_response("get_metric_data", {"MetricDataResults": [{"Id": "errors", "Values": [2.0, 1.0]}]},
                      {"MetricDataQueries": [QUERY], "StartTime": NOW - timedelta(minutes=10), "EndTime": NOW,
                       "ScanBy": "TimestampDescending"})
    role = "arn:aws:iam::111122223333:role/metrics"
    with stub:
        result = await provider.measure({"region": "eu-west-1", "roleArn": role, "period": "10m",
                                         "metricDataQueries": [QUERY]}, namespace="ns")
    assert result == {"errors": [2.0, 1.0]}
    assert (keys[0].region, keys[0].role_arn) == ("eu-west-1", role)
    assert [c.kwargs["operation"] for c in metrics.calls if c.method == "aws_call"] == ["GetMetricData"]


async def test_a_permission_error_is_a_measurement_error_naming_the_code():
    provider, stub, metrics, _ = _provider()
    stub.add_client_error("get_metric_data", service_error_code="AccessDenied", service_message="not allowed",
                          http_status_code=403)
    with stub, pytest.raises(MeasurementError, match="GetMetricData in eu-west-1: AccessDenied"):
        await provider.measure({"region": "eu-west-1", "metricDataQueries": [QUERY]}, namespace="ns")
    assert [c.kwargs["error_code"] for c in metrics.calls if c.method == "aws_call"] == ["AccessDenied"]
