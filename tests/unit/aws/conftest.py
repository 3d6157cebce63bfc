"""Fixtures for the AWS-layer unit tests (botocore Stubber; no network)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class AwsCallLog:
    """A MetricsRecorder that keeps only aws_call records, the one metric the AWS layer reports."""

    calls: list[tuple[str, str, str | None]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def aws_call(self, *, service: str, operation: str, seconds: float, error_code: str | None) -> None:
        self.calls.append((service, operation, error_code))
        self.seconds.append(seconds)

    def operations(self, name: str) -> int:
        return sum(1 for _, op, _ in self.calls if op == name)


@pytest.fixture
def metrics() -> AwsCallLog:
    return AwsCallLog()
