"""The seam the reconciler uses: EcsGateway (observe + apply), and the production implementation on boto3.

The reconciler holds one AwsEcsGateway for the operator's lifetime (clients, caches and batches are shared by
every release) and calls `close()` on shutdown. Tests use tests/fakes/ecs.py:FakeEcsGateway.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ecsbg.aws.apply import Applier
from ecsbg.aws.observer import Observer
from ecsbg.aws.session import ClientFactory, ClientSettings
from ecsbg.aws.taskdefs import TaskDefinitionTags
from ecsbg.domain.actions import Action, ApplyResult
from ecsbg.domain.model import Observation, ReleaseSpec, ReleaseStatus, Target
from ecsbg.metrics.recorder import MetricsRecorder

ENDPOINT_ENV = "ECSBG_AWS_ENDPOINT_URL"


class EcsGateway(Protocol):
    async def observe(self, spec: ReleaseSpec, prior: ReleaseStatus | None) -> Observation: ...

    async def apply(self, action: Action, observation: Observation, target: Target | None = None) -> ApplyResult:
        """`target` (the release's spec.target) picks region/role for actions that carry no spec."""
        ...


@dataclass(frozen=True)
class AwsSettings:
    clients: ClientSettings = field(default_factory=ClientSettings)
    coalesce_seconds: float = 0.05  # how long a read waits for other releases' reads to share a call
    workers: int = 16  # threads running boto3 calls (each call blocks one)
    family_scan_limit: int = 10  # newest revisions searched for a reusable taskdef-hash tag

    @classmethod
    def from_env(cls, environ: Callable[[str], str | None] = os.environ.get, **overrides: Any) -> AwsSettings:
        """ECSBG_AWS_ENDPOINT_URL points ECS at a local emulator (the demo, integration tests)."""
        return cls(clients=ClientSettings(endpoint_url=environ(ENDPOINT_ENV) or None), **overrides)


class AwsEcsGateway:
    def __init__(
        self,
        metrics: MetricsRecorder,
        settings: AwsSettings | None = None,
        factory: ClientFactory | None = None,
    ) -> None:
        self.settings = settings or AwsSettings()
        self.factory = factory or ClientFactory(metrics, self.settings.clients)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.settings.workers, thread_name_prefix="ecsbg-aws")
        tags = TaskDefinitionTags()
        self._observer = Observer(self.factory.ecs, window=self.settings.coalesce_seconds, run=self._run, tags=tags)
        self._applier = Applier(self.factory.ecs, run=self._run, tags=tags,
                                family_scan_limit=self.settings.family_scan_limit)

    async def _run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def observe(self, spec: ReleaseSpec, prior: ReleaseStatus | None) -> Observation:
        return await self._observer.observe(spec, prior)

    async def apply(self, action: Action, observation: Observation, target: Target | None = None) -> ApplyResult:
        return await self._applier.apply(action, observation, target)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
