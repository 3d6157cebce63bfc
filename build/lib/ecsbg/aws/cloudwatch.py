"""The `cloudWatch` analysis provider: GetMetricData (metric math allowed) through the AWS seam.

Same client factory as ECS (credentials, `roleArn` assumed with STS and the operator's ExternalId), every call
through AwsCalls (one metric per call, errors classified once by ecsbg.aws.errors). `result` maps each query
Id that returns data to its values, newest first (`result.errors[0] < 5`). An AWS error (AccessDenied, a bad
query, throttling after botocore's retries) is a MeasurementError naming the operation and the code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ecsbg.aws.calls import AwsCalls, AwsError
from ecsbg.aws.session import ClientKey
from ecsbg.domain.analysis.provider import MeasurementError
from ecsbg.domain.analysis.templates import parse_duration

DEFAULT_PERIOD_SECONDS = 300.0


class CloudWatchProvider:
    def __init__(self, clients: Callable[[ClientKey], AwsCalls], now: Callable[[], datetime] | None = None) -> None:
        self._clients = clients
        self._now = now or (lambda: datetime.now(UTC))

    async def measure(self, config: Mapping[str, Any], *, namespace: str) -> Any:
        return await asyncio.to_thread(self._measure, config)

    def _measure(self, config: Mapping[str, Any]) -> Any:
        region = str(config["region"])
        calls = self._clients(ClientKey(region=region, role_arn=config.get("roleArn") or None))
        end = self._now()
        try:
            period = parse_duration(config.get("period") or DEFAULT_PERIOD_SECONDS)
        except ValueError as exc:
            raise MeasurementError(f"cloudWatch period: {exc}") from exc
        queries = [dict(q) for q in config["metricDataQueries"]]
        try:
            response = calls.call("GetMetricData", MetricDataQueries=queries, StartTime=end - timedelta(seconds=period),
                                  EndTime=end, ScanBy="TimestampDescending")
        except AwsError as exc:
            problem = exc.problem
            raise MeasurementError(f"cloudWatch GetMetricData in {region}: {problem.code}: {problem.message}") from exc
        return {r["Id"]: [float(v) for v in r.get("Values") or []] for r in response.get("MetricDataResults") or []}
