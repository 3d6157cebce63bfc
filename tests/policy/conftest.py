"""Fixtures of the EcsReleasePolicy end-to-end tests: moto's server (STS and ECR) and the PolicyWorld (world.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugins.moto import moto_server
from tests.policy.world import PolicyWorld


@pytest.fixture(scope="module")
def moto_sts() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def world(dev_cluster, kubectl, run_kopf, ecs_emulator, moto_sts, monkeypatch) -> Iterator[PolicyWorld]:
    if dev_cluster is None:
        pytest.skip("needs the dev cluster (moto and the emulator run in this process)")
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    w = PolicyWorld(dev_cluster, kubectl, run_kopf, ecs_emulator, moto_sts)
    yield w
    w.close()
