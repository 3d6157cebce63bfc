"""The seam the reconciler uses: EcsGateway (observe + apply), and the production implementation on boto3.

The operator holds one Boto3EcsGateway for its lifetime (clients, caches and batches are shared by every
release); `close()` stops its worker threads early (idle ones are otherwise joined at interpreter exit).
Reconciler tests use tests/fakes/ecs.py:FakeEcsGateway.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ecsbg.aws import scaling
from ecsbg.aws.apply import Applier
from ecsbg.aws.batching import BoundedCache
from ecsbg.aws.calls import AwsError
from ecsbg.aws.digests import AsyncDigests, DigestResolver, TagResolver
from ecsbg.aws.observer import Observer, client_key
from ecsbg.aws.session import ClientFactory, ClientSettings
from ecsbg.aws.taskdefs import TaskDefinitionTags
from ecsbg.clock import Clock
from ecsbg.domain.actions import Action, ApplyResult, ContinueHooks, StartDeployment, StopDeployment
from ecsbg.domain.model import ReleaseSpec, ReleaseStatus, Target
from ecsbg.domain.observation import Observation
from ecsbg.metrics.recorder import MetricsRecorder

ENDPOINT_ENV = "ECSBG_AWS_ENDPOINT_URL"


class EcsGateway(Protocol):
    async def observe(self, spec: ReleaseSpec, prior: ReleaseStatus | None,
                      reuse: Observation | None = None) -> Observation: ...

    async def apply(self, action: Action, observation: Observation, target: Target | None = None) -> ApplyResult:
        """`target` (the release's spec.target) picks region/role for actions that carry no spec."""
        ...


@dataclass(frozen=True)
class AwsSettings:
    clients: ClientSettings = field(default_factory=ClientSettings)
    coalesce_seconds: float = 0.05  # how long a read waits for other releases' reads to share a call
    workers: int = 16  # threads running boto3 calls (each call blocks one)
    family_scan_limit: int = 10  # newest revisions searched for a reusable taskdef-hash tag
    # cached immutable facts (revisions, taskdef hashes, deployment targets) unused this long are dropped: the
    # operator sets twice its idle poll interval, so every release touches what it still needs in between
    cache_idle_seconds: float | None = 600.0
    max_concurrent_starts: int | None = None  # starts in their checks at once, and as many in their writes

    @classmethod
    def from_env(cls, environ: Callable[[str], str | None] = os.environ.get, **overrides: Any) -> AwsSettings:
        """ECSBG_AWS_ENDPOINT_URL points ECS at a local emulator (the demo, integration tests)."""
        return cls(clients=ClientSettings(endpoint_url=environ(ENDPOINT_ENV) or None), **overrides)


class Boto3EcsGateway:
    """observe/apply on boto3. `endpoint_url` and `coalesce_seconds` are shortcuts for the same AwsSettings
    fields; `clock` is accepted for uniform wiring: the AWS layer takes every time from ECS's responses."""

    def __init__(
        self,
        *,
        metrics: MetricsRecorder,
        endpoint_url: str | None = None,
        coalesce_seconds: float | None = None,
        clock: Clock | None = None,
        settings: AwsSettings | None = None,
        factory: ClientFactory | None = None,
        registry: TagResolver | None = None,
    ) -> None:
        """`registry` resolves tags of images outside ECR (ecsbg.registry.oci.OciResolver, from ecsbg.wiring)."""
        settings = settings or AwsSettings()
        if endpoint_url is not None:
            settings = replace(settings, clients=replace(settings.clients, endpoint_url=endpoint_url))
        if coalesce_seconds is not None:
            settings = replace(settings, coalesce_seconds=coalesce_seconds)
        self.settings = settings
        self.factory = factory or ClientFactory(metrics, settings.clients)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=settings.workers, thread_name_prefix="ecsbg-aws")
        idle = settings.cache_idle_seconds
        tags = TaskDefinitionTags(max_idle=idle)
        self._observer = Observer(self.factory.ecs, window=settings.coalesce_seconds, run=self._run, tags=tags,
                                  cache_idle_seconds=idle)
        resolver = DigestResolver(lambda key: self.factory.ecr(key), registry)
        self.digests = AsyncDigests(resolver, self._run)  # release waves resolve their tags once (ecsbg.pinning)
        self._applier = Applier(self.factory.ecs, run=self._run, tags=tags,
                                family_scan_limit=settings.family_scan_limit,
                                digests=resolver,
                                elbv2=lambda key: self.factory.elbv2(key),
                                autoscaling=lambda key: self.factory.autoscaling(key),
                                describe=self._observer.service,
                                max_concurrent_starts=settings.max_concurrent_starts,
                                starts_waiting=lambda count: metrics.starts_waiting(count=count))
        # deployment ARN -> the release target it was observed for, so Continue/Stop use that release's
        # region and role even when the caller passes no target (the actions carry only the ARN)
        self._targets: BoundedCache[str, Target] = BoundedCache(8192, max_idle=idle)

    async def _run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def observe(self, spec: ReleaseSpec, prior: ReleaseStatus | None,
                      reuse: Observation | None = None) -> Observation:
        observation = await self._observer.observe(spec, prior, reuse)
        if spec.auto_scaling is not None and observation.problem is None and observation.scaling is None:
            observation = await self._with_scaling(spec, observation)
        arns = (observation.service.current_deployment_arn if observation.service else None,
                observation.current.arn if observation.current else None,
                observation.tracked.arn if observation.tracked else None)
        for arn in filter(None, arns):
            self._targets.put(arn, spec.target)
        return observation

    async def _with_scaling(self, spec: ReleaseSpec, observation: Observation) -> Observation:
        """spec.autoScaling: the scalable target, read each pass (not batched: Application Auto Scaling is per
        service, and only releases that ask pay for it). A failed read is the observation's problem: a release
        that asked to suspend scaling must not start without knowing what to restore."""
        calls = self.factory.autoscaling(client_key(spec.target))
        try:
            found = await self._run(functools.partial(scaling.read, calls, spec.target))
        except AwsError as exc:
            return replace(observation, problem=exc.problem)
        return replace(observation, scaling=found)

    async def apply(self, action: Action, observation: Observation, target: Target | None = None) -> ApplyResult:
        if target is None and isinstance(action, ContinueHooks | StopDeployment):
            target = self._targets.lookup(action.deployment_arn)[1]
        result = await self._applier.apply(action, observation, target)
        if isinstance(action, StartDeployment) and result.deployment_arn:
            self._targets.put(result.deployment_arn, action.spec.target)
        return result

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
