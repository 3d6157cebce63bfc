"""Apply the planner's one Action to ECS. Never raises for AWS failures: they come back as ApplyResult.problem.

Idempotency is the planner's (docs/design.md "Attempts, hashes and idempotency": adopt instead of a second
UpdateService); here StartDeployment reuses a tagged task definition revision instead of registering a
duplicate, and reads the service fresh right before UpdateService so the request carries the service's
current load balancers and deploymentConfiguration.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ecsbg.aws import scaling, translate
from ecsbg.aws.batching import Runner, Slots, to_thread
from ecsbg.aws.calls import AwsCalls, AwsError
from ecsbg.aws.digests import DigestResolver
from ecsbg.aws.observer import client_key
from ecsbg.aws.preflight import PreflightRefused, load_balancers_of
from ecsbg.aws.preflight import findings as preflight_findings
from ecsbg.aws.session import ClientKey
from ecsbg.aws.taskdefs import TaskDefinitionTags, resolve_task_definition
from ecsbg.aws.translate import RequestBuildError
from ecsbg.domain.actions import (
    Action,
    AdoptDeployment,
    ApplyResult,
    ContinueHooks,
    HoldAttempt,
    RecordIntent,
    RestoreScaling,
    ReuseRunning,
    StartDeployment,
    StopDeployment,
    Wait,
)
from ecsbg.domain.autoscaling import ALL_SUSPENDED
from ecsbg.domain.model import FINISHED_STATUSES, ReleaseSpec, Target
from ecsbg.domain.observation import AwsProblem, Observation
from ecsbg.domain.ownership import AWS_OWNER_TAG
from ecsbg.domain.preflight import Finding, PreflightMode

MAX_STATUS_DIFF_LINES = 200  # status.plan stays small; `kubectl ecsrelease plan` prints the whole difference


class Applier:
    def __init__(
        self,
        clients: Callable[[ClientKey], AwsCalls],
        *,
        run: Runner = to_thread,
        tags: TaskDefinitionTags | None = None,
        family_scan_limit: int = 10,
        digests: DigestResolver | None = None,
        elbv2: Callable[[ClientKey], AwsCalls] | None = None,
        autoscaling: Callable[[ClientKey], AwsCalls] | None = None,
        describe: Callable[[Target], Awaitable[Mapping[str, Any] | None]] | None = None,
        max_concurrent_starts: int | None = None,
        starts_waiting: Callable[[int], None] = lambda count: None,
    ) -> None:
        """`elbv2`: ELBv2 clients (same role as ECS) for spec.preflight; None refuses Warn/Enforce releases.
        `describe`: a fresh DescribeServices of one target, batched with other callers' (aws.observer); without
        it, a call of its own. `max_concurrent_starts`: starts in their checks at once, and as many in their
        writes (None: no limit); `starts_waiting(n)` is told how many wait for a slot whenever that changes."""
        self._clients = clients
        self._elbv2 = elbv2
        self._autoscaling = autoscaling
        self._digests = digests
        self._run = run
        self._tags = tags or TaskDefinitionTags()
        self._scan_limit = family_scan_limit
        self._describe = describe
        # two stages with a limit each, so a start past its claim does not queue behind every later start's checks
        self._checks = Slots(max_concurrent_starts, self._waiting)
        self._writes = Slots(max_concurrent_starts, self._waiting)
        self._waiting_now, self._report_waiting = 0, starts_waiting

    async def apply(self, action: Action, observation: Observation, target: Target | None = None) -> ApplyResult:
        """`target` selects region and role for ContinueHooks/StopDeployment (StartDeployment carries its spec);
        without it the region comes from the deployment ARN and the operator's own credentials are used."""
        if isinstance(action, Wait | RecordIntent) or (isinstance(action, HoldAttempt) and not action.refresh):
            return ApplyResult()
        if isinstance(action, HoldAttempt):  # reads only: what starting the held attempt would send
            return await self._run(functools.partial(self._plan, action))
        if isinstance(action, ReuseRunning):  # ECS already runs the spec: nothing to write
            return ApplyResult(task_definition_arn=action.task_definition_arn)
        if isinstance(action, AdoptDeployment):
            return ApplyResult(deployment_arn=action.deployment_arn)
        try:
            if isinstance(action, StartDeployment):
                return await self._start(action, observation)
            return await self._run(functools.partial(self._dispatch, action, observation, target))
        except AwsError as exc:
            return ApplyResult(problem=exc.problem)
        except RequestBuildError as exc:
            return ApplyResult(problem=AwsProblem(code=exc.code, message=str(exc), terminal=True,
                                                  operation=type(action).__name__),
                               preflight=exc.findings if isinstance(exc, PreflightRefused) else ())

    def _dispatch(self, action: Action, observation: Observation, target: Target | None) -> ApplyResult:
        """Synchronous, in a worker thread (creating a client loads the botocore model: not on the loop)."""
        if isinstance(action, ContinueHooks):
            return _continue_hooks(self._calls_for(action.deployment_arn, target), action)
        if isinstance(action, StopDeployment):
            return _stop(self._calls_for(action.deployment_arn, target), action)
        if isinstance(action, RestoreScaling):
            scaling.set_suspended(self._scaling_calls(action.target), action.target, action.suspended)
            return ApplyResult(scaling_restored=True)
        raise TypeError(f"unknown action {action!r}")

    def _plan(self, action: HoldAttempt) -> ApplyResult:
        from ecsbg.aws.plan import plan_start  # ecsbg.aws.plan builds on this module's readers

        try:
            key = client_key(action.spec.target)
            found = plan_start(self._clients(key), self._tags, action.spec, base=action.base_task_definition_arn,
                               scan_limit=self._scan_limit, elbv2=self._elbv2(key) if self._elbv2 else None)
        except AwsError as exc:
            return ApplyResult(plan_error=f"{exc.problem.operation or 'AWS call'} failed with {exc.problem.code}: "
                               f"{exc.problem.message}")
        except RequestBuildError as exc:
            return ApplyResult(plan_error=f"{exc.code}: {exc}")
        return ApplyResult(plan=found.to_dict(max_diff_lines=MAX_STATUS_DIFF_LINES))

    def _calls_for(self, deployment_arn: str, target: Target | None) -> AwsCalls:
        if target is not None:
            return self._clients(client_key(target))
        return self._clients(ClientKey(region=deployment_arn.split(":")[3]))  # arn:aws:ecs:<region>:...

    async def _start(self, action: StartDeployment, observation: Observation) -> ApplyResult:
        """Checks and the claim, the claim's settle time (on the loop, holding neither an AWS thread nor a slot:
        1,000 first starts at once would otherwise queue behind the sleepers), then the writes.

        With a limit, 1,000 starts at once reach ECS spread over the burst instead of nearly all at its end, so
        their deployments' stages do not all change in the same second (and the account's ECS write quota is
        spent evenly)."""
        target = action.spec.target
        async with self._checks():
            described = await self._fresh(target)
            prepared = await self._run(functools.partial(self._prepare_start, action, observation, described))
        if prepared.claimed:
            await asyncio.sleep(CLAIM_SETTLE_SECONDS)
        async with self._writes():
            if prepared.claimed:
                described = check_claim(await self._fresh(target), target, action.spec.owner)
                prepared = replace(prepared, described=described)
            return await self._run(functools.partial(self._finish_start, action, observation, prepared))

    def _waiting(self, delta: int) -> None:
        self._waiting_now += delta
        self._report_waiting(self._waiting_now)

    async def _fresh(self, target: Target) -> dict[str, Any]:
        """The service as ECS describes it now (with its tags), read for a start: batched with the reads of other
        releases of the cluster when the observer's batcher is at hand (1,000 starts at once made 2,000 single
        DescribeServices calls, a fifth of all calls, before each start and after each claim)."""
        if self._describe is None:
            return await self._run(lambda: describe_service(self._clients(client_key(target)), target))
        found = await self._describe(target)
        if found is None:
            raise AwsError(_not_found(target))
        return dict(found)

    def _prepare_start(self, action: StartDeployment, observation: Observation,
                       described: dict[str, Any]) -> _Prepared:
        # Every check comes before the first write: the UpdateService request is built (target groups and Service
        # Connect ports the service must have) before a revision is registered, so a spec the service cannot
        # take leaves no orphan revision behind; the pre-flight reads come before it too, and only then does the
        # release claim the service (its first write: the ecsbg.dev/owner tag).
        calls = self._clients(client_key(action.spec.target))
        revisions = current_revisions(calls, described) if needs_revisions(action.spec, described) else []
        request = translate.update_service_request(action.spec, described, "", False, revisions)
        warnings = self._preflight(calls, action.spec, request, described, observation)
        claimed = bool(action.spec.owner) and translate.owner_tag(described) != action.spec.owner
        if claimed:
            tag_owner(calls, described, action.spec.owner)
        return _Prepared(calls, described, request, warnings, claimed)

    def _finish_start(self, action: StartDeployment, observation: Observation, prepared: _Prepared) -> ApplyResult:
        calls, described, request = prepared.calls, prepared.described, prepared.request
        target = action.spec.target
        current = observation.service.task_definition_arn if observation.service else None
        rules = action.spec.image_rules
        pin = None
        if rules is not None and rules.resolve_digests and self._digests is not None:
            key, digests = client_key(target), self._digests
            creds = action.spec.registry_credentials
            pin = functools.partial(lambda image, k: digests.pin(image, k, creds), k=key)
        images: list[tuple[str, str]] = []
        task_definition = resolve_task_definition(calls, self._tags, action, current, self._scan_limit, pin, images)
        request["taskDefinition"] = task_definition
        if translate.same_task_definition(task_definition, described.get("taskDefinition")):
            request["forceNewDeployment"] = True
        if action.suspend_scaling:  # right before the deployment; a repeated start suspends again (idempotent)
            scaling.set_suspended(self._scaling_calls(target), target, ALL_SUSPENDED)
        updated = calls.call("UpdateService", **request).get("service", {})
        arn = updated.get("currentServiceDeployment")
        if not arn or arn == described.get("currentServiceDeployment"):
            # the response may predate the new deployment; one fresh read, else the next observe adopts it
            arn = describe_service(calls, target).get("currentServiceDeployment")
            if arn == described.get("currentServiceDeployment"):
                arn = None
        return ApplyResult(deployment_arn=arn, task_definition_arn=task_definition, images=tuple(images),
                           preflight=prepared.warnings, scaling_suspended=action.suspend_scaling)

    def _scaling_calls(self, target: Target) -> AwsCalls:
        if self._autoscaling is None:
            raise RequestBuildError("AutoScalingUnavailable", "spec.autoScaling needs Application Auto Scaling and "
                                    "this operator has no client for it; remove spec.autoScaling")
        return self._autoscaling(client_key(target))

    def _preflight(self, calls: AwsCalls, spec: ReleaseSpec, request: dict[str, Any], described: dict[str, Any],
                   observation: Observation) -> tuple[Finding, ...]:
        """spec.preflight: what ELBv2 says about production before the first write. Enforce raises
        PreflightRefused on any finding; Warn returns them (a Warning Event); read errors follow the usual
        classification (throttling retries the start, AccessDenied fails it: the role lacks the Describe calls)."""
        if spec.preflight is PreflightMode.OFF or not load_balancers_of(request, described):
            return ()
        if self._elbv2 is None:
            raise RequestBuildError("PreflightUnavailable", "spec.preflight needs ELBv2 and this operator has no "
                                    "ELBv2 client; set spec.preflight to Off")
        current = observation.current
        found = preflight_findings(calls, self._elbv2(client_key(spec.target)), request, described,
                                   settled=current is None or current.status in FINISHED_STATUSES)
        if found and spec.preflight is PreflightMode.ENFORCE:
            raise PreflightRefused(found)
        return found


# ECS tags have no compare-and-set: two operators claiming at once both write, and the later write stays. Each
# reads the tag back after this long and goes on only if its own value stayed, so the earlier writer backs off
# (two claims further apart than this, the second saw the first's tag in its observation and never claimed).
CLAIM_SETTLE_SECONDS = 1.0


@dataclass(frozen=True)
class _Prepared:
    """A start's checks passed (and its claim written when `claimed`): what its writes build on."""

    calls: AwsCalls
    described: dict[str, Any]
    request: dict[str, Any]
    warnings: tuple[Finding, ...]
    claimed: bool


def tag_owner(calls: AwsCalls, described: dict[str, Any], owner: str) -> None:
    """Tag the service as ours before the first write to it (confirm_claim, CLAIM_SETTLE_SECONDS later)."""
    calls.call("TagResource", resourceArn=described["serviceArn"], tags=[{"key": AWS_OWNER_TAG, "value": owner}])


def check_claim(described: dict[str, Any], target: Target, owner: str) -> dict[str, Any]:
    """The service read again after the settle time; refused when another operator's tag replaced ours."""
    holder = translate.owner_tag(described)
    if holder != owner:
        raise RequestBuildError("ServiceOwnedElsewhere", f"another operator claimed service {target.service} at the "
                                f"same time ({AWS_OWNER_TAG}={holder}); nothing was deployed")
    return described


def describe_service(calls: AwsCalls, target: Target) -> dict[str, Any]:
    response = calls.call("DescribeServices", cluster=target.cluster, services=[target.service], include=["TAGS"])
    services = response.get("services", [])
    if not services:
        raise AwsError(_not_found(target))
    return services[0]


def _not_found(target: Target) -> AwsProblem:
    return AwsProblem(code="ServiceNotFoundException", terminal=True, operation="DescribeServices",
                      message=f"service {target.service} not found in cluster {target.cluster}")


def needs_revisions(spec: ReleaseSpec, described: dict[str, Any]) -> bool:
    """Service Connect test rules need the current configuration; DescribeServices may not carry it."""
    return bool(spec.test_traffic_rules) and translate.current_service_connect(described) is None


def current_revisions(calls: AwsCalls, described: dict[str, Any]) -> list[dict[str, Any]]:
    arns = [r["arn"] for r in described.get("currentServiceRevisions", [])][:20]  # the API's limit per call
    if not arns:
        return []
    return calls.call("DescribeServiceRevisions", serviceRevisionArns=arns).get("serviceRevisions", [])


def _continue_hooks(calls: AwsCalls, action: ContinueHooks) -> ApplyResult:
    for hook_id in action.hook_ids:
        calls.call("ContinueServiceDeployment", serviceDeploymentArn=action.deployment_arn, hookId=hook_id,
                   action=action.action)
    return ApplyResult(deployment_arn=action.deployment_arn)


def _stop(calls: AwsCalls, action: StopDeployment) -> ApplyResult:
    calls.call("StopServiceDeployment", serviceDeploymentArn=action.deployment_arn, stopType="ROLLBACK")
    return ApplyResult(deployment_arn=action.deployment_arn)
