"""The production gateway (real boto3) against the local ECS emulator (tests/plugins/ecs.py fixtures)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from ecsbg.aws.gateway import AwsSettings, Boto3EcsGateway
from ecsbg.aws.session import ClientSettings
from ecsbg.domain.observation import Observation
from tests.fakes.metrics import RecordingMetrics


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Dummy credentials from the environment only (no profile, no instance metadata lookups)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws_metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
def make_gateway(ecs_emulator, aws_env, aws_metrics) -> Iterator[Callable[[], Boto3EcsGateway]]:
    """A new gateway per call (a fresh one is what a restarted operator has: empty caches)."""
    made: list[Boto3EcsGateway] = []

    def make() -> Boto3EcsGateway:
        clients = ClientSettings(endpoint_url=ecs_emulator.url, max_attempts=2, read_timeout=10)
        gateway = Boto3EcsGateway(metrics=aws_metrics, settings=AwsSettings(clients=clients, coalesce_seconds=0.02, workers=8))
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def count(srv, operation: str, since: int = 0) -> int:
    return sum(1 for r in srv.requests[since:] if r["operation"] == operation)


def requests_of(srv, operation: str) -> list[dict]:
    return [r["parameters"] for r in srv.requests if r["operation"] == operation]


async def observe_until(gateway, spec, prior, predicate: Callable[[Observation], bool], timeout: float = 15.0):
    """Poll like the reconciler does, until `predicate` holds (deadline, no fixed sleeps for correctness)."""
    deadline = time.monotonic() + timeout
    while True:
        observed = await gateway.observe(spec, prior)
        if predicate(observed):
            return observed
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s; last observation: {observed}")
        await asyncio.sleep(0.02)
