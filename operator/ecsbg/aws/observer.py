"""The batched, shared read path: `observe(spec, prior) -> Observation`.

Releases on the same (region, role, cluster) share reads: concurrent observations within the
coalescing window are served by one DescribeServices per 10 services, one DescribeServiceDeployments per 20
deployment ARNs and one DescribeServiceRevisions per 20 revision ARNs (limits: botocore 1.44.5 model docs),
so a thousand releases do not mean a thousand calls per poll. Revisions and task definitions are immutable and
cached: a task definition is described once per ARN (DescribeTaskDefinition has no batch form), and only when a
comparison needs its content (an attempt about to start, or two different task definitions to compare for drift),
so an idle poll of a release in step with ECS costs its share of one DescribeServices and nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

from ecsbg.aws import translate
from ecsbg.aws.batching import Batcher, BoundedCache, Runner, to_thread
from ecsbg.aws.calls import AwsCalls, AwsError
from ecsbg.aws.session import ClientKey
from ecsbg.aws.taskdefs import TaskDefinitionTags, not_found
from ecsbg.domain import drift
from ecsbg.domain.model import FINISHED_STATUSES, ReleaseSpec, ReleaseStatus, Target
from ecsbg.domain.observation import AwsProblem, Observation, ObservedDeployment, ObservedService
from ecsbg.domain.planning import awaiting_start

SERVICES_PER_CALL = 10  # DescribeServices: "You may specify up to 10 services"
DEPLOYMENTS_PER_CALL = 20  # DescribeServiceDeployments: "a maximum of 20 ARNs"
REVISIONS_PER_CALL = 20  # DescribeServiceRevisions: "a maximum of 20 ARNs"

ServicesKey = tuple[ClientKey, str]  # (client, cluster as written in the spec)


def client_key(target: Target) -> ClientKey:
    """spec.target.externalId is ignored: the ExternalId is the operator's (ClientSettings.external_id), never
    tenant input (deploy/iam/README.md)."""
    session = target.session  # the EcsReleasePolicy's session name, tags and ExternalId (ecsbg.gating)
    if session is None or not target.role_arn:
        return ClientKey(region=target.region, role_arn=target.role_arn)
    return ClientKey(region=target.region, role_arn=target.role_arn, external_id=session.external_id,
                     session_name=session.name, session_tags=session.tags)


class Observer:
    def __init__(
        self,
        clients: Callable[[ClientKey], AwsCalls],
        *,
        window: float = 0.05,
        run: Runner = to_thread,
        tags: TaskDefinitionTags | None = None,
        revision_cache_size: int = 8192,
        cache_idle_seconds: float | None = None,
    ) -> None:
        self._clients = clients
        self._tags = tags or TaskDefinitionTags()
        self._revision_cache: BoundedCache[str, Mapping[str, Any]] = BoundedCache(revision_cache_size,
                                                                                   max_idle=cache_idle_seconds)
        # deployments in a final status: an idle release's pass then reads only DescribeServices (batched)
        self._finished: BoundedCache[str, Mapping[str, Any]] = BoundedCache(revision_cache_size,
                                                                            max_idle=cache_idle_seconds)
        self._services: Batcher[ServicesKey] = Batcher(
            self._describe_services, chunk=SERVICES_PER_CALL, window=window, run=run, split=_maybe_one_item)
        self._deployments: Batcher[ClientKey] = Batcher(
            self._describe_deployments, chunk=DEPLOYMENTS_PER_CALL, window=window, run=run, split=_maybe_one_item)
        self._revisions: Batcher[ClientKey] = Batcher(
            self._describe_revisions, chunk=REVISIONS_PER_CALL, window=window, run=run, split=_maybe_one_item)
        self._taskdefs: Batcher[ClientKey] = Batcher(self._content_hash, chunk=1, window=window, run=run)
        self._bases: Batcher[ClientKey] = Batcher(self._content, chunk=1, window=window, run=run)

    async def observe(self, spec: ReleaseSpec, prior: ReleaseStatus | None,
                      reuse: Observation | None = None) -> Observation:
        """`reuse`: what the pass that recorded the attempt's intent read a moment ago; an attempt about to start
        then reads only what the start compares (task definitions), not the service and its deployments again."""
        key = client_key(spec.target)
        if reuse is not None and reuse.service is not None and reuse.problem is None and prior is not None \
                and awaiting_start(prior):
            return await self._for_start(key, spec, prior, reuse)
        try:
            described = await self._services.get((key, spec.target.cluster), spec.target.service)
        except AwsError as exc:
            return Observation(problem=exc.problem)
        if described is None:
            return Observation(problem=_missing(spec.target))
        service = translate.observed_service(described)
        prior = prior or ReleaseStatus()
        tracked_arn = prior.deployment.arn if prior.deployment is not None else None
        try:
            observation = await self._deployment_view(key, spec, service, tracked_arn, awaiting_start(prior))
            return await self._with_task_definitions(key, spec, prior, observation)
        except AwsError as exc:
            return Observation(service=service, problem=exc.problem)

    async def _for_start(self, key: ClientKey, spec: ReleaseSpec, prior: ReleaseStatus,
                         observation: Observation) -> Observation:
        try:
            taskdef_hash = await self._current_target_hash(key, spec, observation.current)
            observation = replace(observation, current_target_taskdef_hash=taskdef_hash)
            return await self._with_task_definitions(key, spec, prior, observation)
        except AwsError as exc:
            return Observation(service=observation.service, problem=exc.problem)

    async def service(self, target: Target) -> Mapping[str, Any] | None:
        """ECS's description of `target`'s service (with tags), read now in the cluster's batch (None: MISSING)."""
        return await self._services.get((client_key(target), target.cluster), target.service)

    async def _with_task_definitions(self, key: ClientKey, spec: ReleaseSpec, prior: ReleaseStatus,
                                     observation: Observation) -> Observation:
        """Content hashes of the task definitions the planner compares, and the base of a `containers` attempt
        about to start. Read only when needed: an attempt is about to start, or the ARNs differ (drift)."""
        service = observation.service
        assert service is not None
        starting = awaiting_start(prior)
        serving = drift.serving_revision(observation.current)
        arns = [a for a in dict.fromkeys((service.task_definition_arn,
                                          spec.task_definition.arn if starting else None,
                                          prior.target.task_definition_arn if prior.target else None,
                                          serving.task_definition_arn if serving else None)) if a]
        base = None
        if starting and spec.task_definition.derived:
            base_arn = prior.base_task_definition_arn or service.task_definition_arn
            base = await self._bases.get(key, base_arn)
        elif not starting and len({drift.short(a) for a in arns}) <= 1:
            return observation  # one task definition everywhere: nothing to compare by content
        try:
            hashes = await self._taskdef_hashes(key, arns, spec.task_definition.arn)
        except AwsError:
            if starting:
                raise
            # only for drift: a task definition ECS cannot describe any more (deleted) is compared by ARN alone,
            # rather than failing an idle release for a read it can do without
            return observation
        return replace(observation, taskdef_hashes=dict(zip(arns, hashes, strict=True)), base_task_definition=base)

    async def _deployment_view(
        self, key: ClientKey, spec: ReleaseSpec, service: ObservedService, tracked_arn: str | None, starting: bool
    ) -> Observation:
        arns = [a for a in dict.fromkeys((service.current_deployment_arn, tracked_arn)) if a]
        fetched = await _read_all(self._finished, self._deployments, key, arns,
                                  keep=lambda d: d.get("status") in FINISHED_STATUSES)
        deployments = dict(zip(arns, fetched, strict=True))
        revisions = await self._revisions_of(key, [d for d in deployments.values() if d])
        current_raw = deployments.get(service.current_deployment_arn or "")
        tracked_raw = deployments.get(tracked_arn or "")
        current = translate.observed_deployment(current_raw, revisions) if current_raw else None
        tracked = translate.observed_deployment(tracked_raw, revisions) if tracked_raw else None
        # to recognise (adopt) the deployment an attempt started: only the planner's `_start` compares it, so only an
        # attempt about to start reads it (else a restart described every release's task definition: 1,000 calls)
        taskdef_hash = await self._current_target_hash(key, spec, current) if starting else None
        return Observation(service=service, current=current, tracked=tracked,
                           current_target_taskdef_hash=taskdef_hash, problem=_inactive(service))

    async def _current_target_hash(self, key: ClientKey, spec: ReleaseSpec,
                                   current: ObservedDeployment | None) -> str | None:
        """The content hash of the task definition ECS's current deployment targets (the containers and template
        forms: what planning's `_start` compares with what it would register)."""
        target = current.target_revision if current else None
        if not spec.task_definition.registers or target is None or not target.task_definition_arn:
            return None
        return await self._taskdef_hash(key, target.task_definition_arn)

    async def _revisions_of(self, key: ClientKey, deployments: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        arns = list(dict.fromkeys(a for d in deployments for a in translate.revision_arns(d)))
        revisions = await _read_all(self._revision_cache, self._revisions, key, arns, keep=lambda r: True)
        return {arn: revision for arn, revision in zip(arns, revisions, strict=True) if revision is not None}

    async def _taskdef_hashes(self, key: ClientKey, arns: list[str], named: str | None) -> list[str]:
        """_taskdef_hash of each of `arns`, without a task per ARN when the cache has them: an in-flight pass
        compares two or three task definitions, known since the start, and a task each cost more than the pass's
        own comparison. `named`: spec.taskDefinition.arn."""
        cached = [self._tags.cached_content_hash(arn) for arn in arns]
        missing = [arn for arn, found in zip(arns, cached, strict=True) if found is None]
        if not missing:
            return cast(list[str], cached)
        read = await asyncio.gather(*(self._taskdef_hash(key, arn, named=arn == named) for arn in missing))
        fetched = dict(zip(missing, read, strict=True))
        return [found if found is not None else fetched[arn] for arn, found in zip(arns, cached, strict=True)]

    async def _taskdef_hash(self, key: ClientKey, arn: str, *, named: bool = False) -> str:
        """`named`: the ARN is spec.taskDefinition.arn, so ECS refusing to describe it means it does not exist."""
        cached = self._tags.cached_content_hash(arn)
        if cached is not None:
            return cached
        try:
            return await self._taskdefs.get(key, arn)
        except AwsError as exc:
            if not named:
                raise
            raise AwsError(not_found(arn, exc.problem)) from exc

    # ------------------------------------------------------------------ batch fetches (sync, in worker threads)

    def _describe_services(self, key: ServicesKey, names: Sequence[str]) -> dict[str, Any]:
        client, cluster = key
        response = self._clients(client).call("DescribeServices", cluster=cluster, services=list(names),
                                              include=["TAGS"])  # the ecsbg.dev/owner tag (domain.ownership)
        found: dict[str, Any] = {}
        for service in response.get("services", []):
            for name in names:  # the spec may name the service by name or ARN
                if name in (service.get("serviceName"), service.get("serviceArn")):
                    found[name] = service
        return found  # absent names are the `failures` (reason MISSING)

    def _describe_deployments(self, key: ClientKey, arns: Sequence[str]) -> dict[str, Any]:
        response = self._clients(key).call("DescribeServiceDeployments", serviceDeploymentArns=list(arns))
        return {d["serviceDeploymentArn"]: d for d in response.get("serviceDeployments", [])}

    def _describe_revisions(self, key: ClientKey, arns: Sequence[str]) -> dict[str, Any]:
        response = self._clients(key).call("DescribeServiceRevisions", serviceRevisionArns=list(arns))
        # keep only what translate reads: thousands of cached revisions stay small
        return {r["serviceRevisionArn"]: {"taskDefinition": r.get("taskDefinition")}
                for r in response.get("serviceRevisions", [])}

    def _content_hash(self, key: ClientKey, arns: Sequence[str]) -> dict[str, str]:
        return {arn: self._tags.content_hash(self._clients(key), arn) for arn in arns}

    def _content(self, key: ClientKey, arns: Sequence[str]) -> dict[str, dict[str, Any]]:
        # the cached description itself, not a copy (planning renders a copy of its registrable part; its ARN
        # keys planning's memo of the wanted content): copying it on each pass was 2 % of a mass start's CPU
        return {arn: self._tags.response(self._clients(key), arn)["taskDefinition"] for arn in arns}


# Errors a single malformed item can cause for a whole batch (a service ARN of another cluster, a bad deployment
# ARN): the chunk is retried item by item. AccessDenied, ClusterNotFound, throttling concern every item alike.
ITEM_ERRORS = frozenset({"InvalidParameterException", "ClientException"})


async def _read_all(cache: BoundedCache[str, Mapping[str, Any]], batcher: Batcher[ClientKey], key: ClientKey,
                    arns: list[str], keep: Callable[[Mapping[str, Any]], bool]) -> list[Mapping[str, Any] | None]:
    """_read_through for each of `arns`, concurrently (the batcher joins them into one call), and without a task
    per ARN when the cache has them all or one read is left: a pass reads one to three, mostly cached, and a task
    each was a fortieth of the operator's CPU with 1,000 releases starting at once."""
    found = [cache.lookup(arn) for arn in arns]
    missing = [arn for arn, (hit, _) in zip(arns, found, strict=True) if not hit]
    if not missing:
        return [value for _, value in found]
    if len(missing) == 1:
        read = [await _read_through(cache, batcher, key, missing[0], keep)]
    else:
        read = list(await asyncio.gather(*(_read_through(cache, batcher, key, arn, keep) for arn in missing)))
    fetched = dict(zip(missing, read, strict=True))
    return [value if hit else fetched[arn] for arn, (hit, value) in zip(arns, found, strict=True)]


async def _read_through(cache: BoundedCache[str, Mapping[str, Any]], batcher: Batcher[ClientKey], key: ClientKey,
                        arn: str, keep: Callable[[Mapping[str, Any]], bool]) -> Mapping[str, Any] | None:
    """The cached value of `arn`, else the batched read, kept when `keep` says it can no longer change. A MISSING
    item (None) is never kept: it may be a read-after-write lag."""
    found, value = cache.lookup(arn)
    if not found:
        value = await batcher.get(key, arn)
        if value is not None and keep(value):
            cache.put(arn, value)
    return value


def _maybe_one_item(exc: Exception) -> bool:
    return isinstance(exc, AwsError) and exc.problem.code in ITEM_ERRORS


def _missing(target: Target) -> AwsProblem:
    return AwsProblem(
        code="ServiceNotFoundException",
        message=f"service {target.service} not found in cluster {target.cluster} ({target.region}): "
        "DescribeServices reports it MISSING",
        terminal=True,
        operation="DescribeServices",
    )


def _inactive(service: ObservedService) -> AwsProblem | None:
    """ECS refuses UpdateService on a DRAINING/INACTIVE service (ServiceNotActiveException), so say it now."""
    if service.status in ("ACTIVE", ""):
        return None
    return AwsProblem(
        code="ServiceNotActiveException",
        message=f"service {service.arn} is {service.status}",
        terminal=True,
        operation="DescribeServices",
    )
