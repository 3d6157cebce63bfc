"""Pure translation between ECS dicts (botocore 1.44.5 shapes) and the domain model, and request builders.

Request builders send only what the release owns (docs/design.md "Attempts, hashes and idempotency"). The
unit tests validate their output against the real botocore model with Stubber `expected_params`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ecsbg.aws import shapes
from ecsbg.domain import taskdefs
from ecsbg.domain.model import (
    AlarmSpec,
    CircuitBreakerSpec,
    ContainerOverride,
    HookDetail,
    HookSpec,
    LoadBalancerSpec,
    ReleaseSpec,
    StrategySpec,
    TaskDefinitionSource,
)
from ecsbg.domain.observation import ObservedDeployment, ObservedService, RevisionSummary, RunningConfig
from ecsbg.domain.ownership import AWS_OWNER_TAG

TASKDEF_HASH_TAG = "ecsbg.dev/taskdef-hash"

# The registrable fields of a task definition (their list and the override rendering live in the domain).
REGISTRABLE_FIELDS = taskdefs.REGISTRABLE_FIELDS


# [doc: Amazon ECS service quotas] (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html):
# "Task definition size limit: The maximum size, in KiB, of a task definition. 64. Adjustable: No". Measured here as
# the compact JSON of the registrable fields (the task definition itself, without the request's tags).
MAX_TASK_DEFINITION_BYTES = 64 * 1024


class RequestBuildError(ValueError):
    """The spec does not fit what ECS describes (unknown container, target group or Service Connect port).

    `code` is one of ecsbg.aws.errors.TERMINAL_CODES: the same spec will never fit."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------------------ responses


def observed_service(service: Mapping[str, Any]) -> ObservedService:
    return ObservedService(
        arn=service["serviceArn"],
        status=service.get("status", ""),
        task_definition_arn=service.get("taskDefinition", ""),
        current_deployment_arn=service.get("currentServiceDeployment"),
        desired_count=service.get("desiredCount", 0),
        running_count=service.get("runningCount", 0),
        deployment_controller=service.get("deploymentController", {}).get("type", "ECS"),
        scheduling_strategy=service.get("schedulingStrategy", "REPLICA"),
        config=running_config(service),
        owner_tag=owner_tag(service),
    )


def owner_tag(service: Mapping[str, Any]) -> str | None:
    """The ecsbg.dev/owner tag of a service described with include=[TAGS]."""
    return next((t.get("value") for t in service.get("tags") or () if t.get("key") == AWS_OWNER_TAG), None)


def running_config(service: Mapping[str, Any]) -> RunningConfig:
    """The release-owned members of a described Service in the spec's terms (the inverse of the request
    builders below), for domain.drift."""
    config = service.get("deploymentConfiguration") or {}
    linear, canary = config.get("linearConfiguration"), config.get("canaryConfiguration")
    alarms, breaker = config.get("alarms"), config.get("deploymentCircuitBreaker")
    return RunningConfig(
        strategy=config.get("strategy"),
        bake_time_minutes=config.get("bakeTimeInMinutes"),
        linear=(_float(linear.get("stepPercent")), linear.get("stepBakeTimeInMinutes")) if linear else None,
        canary=(_float(canary.get("canaryPercent")), canary.get("canaryBakeTimeInMinutes")) if canary else None,
        hooks=tuple(_hook_spec(h) for h in config.get("lifecycleHooks") or []),
        alarms=AlarmSpec(names=tuple(alarms.get("alarmNames") or ()), rollback=bool(alarms.get("rollback")),
                         enable=bool(alarms.get("enable"))) if alarms else None,
        circuit_breaker=CircuitBreakerSpec(enable=bool(breaker.get("enable")),
                                           rollback=bool(breaker.get("rollback"))) if breaker else None,
        load_balancers=tuple(_lb_spec(lb) for lb in service.get("loadBalancers") or []
                             if lb.get("advancedConfiguration")),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _hook_spec(hook: Mapping[str, Any]) -> HookSpec:
    timeout = hook.get("timeoutConfiguration") or {}
    action = timeout.get("action")
    return HookSpec(
        type="Pause" if hook.get("targetType") == "PAUSE" else "Lambda",
        stages=tuple(hook.get("lifecycleStages") or ()),
        function_arn=hook.get("hookTargetArn"),
        role_arn=hook.get("roleArn"),
        hook_details=copy.deepcopy(hook["hookDetails"]) if hook.get("hookDetails") is not None else None,
        timeout_minutes=timeout.get("timeoutInMinutes"),
        timeout_action=action.capitalize() if isinstance(action, str) else None,
    )


def _lb_spec(entry: Mapping[str, Any]) -> LoadBalancerSpec:
    advanced = entry["advancedConfiguration"]
    return LoadBalancerSpec(
        target_group_arn=entry.get("targetGroupArn", ""),
        alternate_target_group_arn=advanced.get("alternateTargetGroupArn", ""),
        production_listener_rule=advanced.get("productionListenerRule", ""),
        role_arn=advanced.get("roleArn", ""),
        test_listener_rule=advanced.get("testListenerRule"),
    )


def revision_summary(summary: Mapping[str, Any], revisions: Mapping[str, Mapping[str, Any]]) -> RevisionSummary:
    """A ServiceRevisionSummary; the task definition comes from DescribeServiceRevisions when it was read."""
    arn = summary["arn"]
    return RevisionSummary(
        arn=arn,
        task_definition_arn=revisions.get(arn, {}).get("taskDefinition"),
        requested_task_count=summary.get("requestedTaskCount", 0),
        running_task_count=summary.get("runningTaskCount", 0),
        pending_task_count=summary.get("pendingTaskCount", 0),
        production_weight=summary.get("requestedProductionTrafficWeight"),
        test_weight=summary.get("requestedTestTrafficWeight"),
    )


def revision_arns(deployment: Mapping[str, Any]) -> list[str]:
    summaries = [*deployment.get("sourceServiceRevisions", []), deployment.get("targetServiceRevision") or {}]
    return [s["arn"] for s in summaries if s.get("arn")]


def observed_deployment(
    deployment: Mapping[str, Any], revisions: Mapping[str, Mapping[str, Any]]
) -> ObservedDeployment:
    """A ServiceDeployment. Hooks get the deployment's lifecycleStage: ECS does not say which stage a hook is for."""
    stage = deployment.get("lifecycleStage")
    target = deployment.get("targetServiceRevision")
    rollback = deployment.get("rollback") or {}
    return ObservedDeployment(
        arn=deployment["serviceDeploymentArn"],
        status=deployment.get("status", ""),
        lifecycle_stage=stage,
        status_reason=deployment.get("statusReason"),
        created_at=deployment.get("createdAt"),
        started_at=deployment.get("startedAt"),
        finished_at=deployment.get("finishedAt") or deployment.get("stoppedAt"),
        updated_at=deployment.get("updatedAt"),
        source_revisions=tuple(revision_summary(s, revisions) for s in deployment.get("sourceServiceRevisions", [])),
        target_revision=revision_summary(target, revisions) if target else None,
        hooks=tuple(_hook_detail(h, stage) for h in deployment.get("lifecycleHookDetails", [])),
        rollback_reason=rollback.get("reason"),
        rollback_started_at=rollback.get("startedAt"),
    )


def _hook_detail(hook: Mapping[str, Any], stage: str | None) -> HookDetail:
    return HookDetail(
        hook_id=hook["hookId"],
        target_type=hook.get("targetType", ""),
        status=hook.get("status", ""),
        stage=stage,
        target_arn=hook.get("targetArn"),
        expires_at=hook.get("expiresAt"),
        timeout_action=hook.get("timeoutAction"),
    )


def taskdef_hash_tag(tags: Iterable[Mapping[str, str]]) -> str | None:
    return next((t.get("value") for t in tags if t.get("key") == TASKDEF_HASH_TAG), None)


# --------------------------------------------------------------------------------------------- UpdateService


def update_service_request(
    spec: ReleaseSpec,
    described_service: Mapping[str, Any],
    task_definition_arn: str,
    force_new: bool,
    revisions: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """UpdateService params: only taskDefinition, deploymentConfiguration, loadBalancers, Service Connect test
    rules and forceNewDeployment. Never capacityProviderStrategy, networkConfiguration, desiredCount, placement.
    `revisions`: the service's current ServiceRevisions, a second source of its Service Connect configuration."""
    request: dict[str, Any] = {
        "cluster": described_service["clusterArn"],
        "service": described_service["serviceArn"],
        "taskDefinition": task_definition_arn,
        "deploymentConfiguration": deployment_configuration(spec, described_service.get("deploymentConfiguration")),
    }
    if spec.load_balancers:
        request["loadBalancers"] = load_balancers(spec, described_service.get("loadBalancers", []))
    if spec.test_traffic_rules:
        request["serviceConnectConfiguration"] = service_connect_configuration(spec, described_service, revisions)
    if force_new:
        request["forceNewDeployment"] = True
    return request


def deployment_configuration(spec: ReleaseSpec, existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """The service's deploymentConfiguration with the release-owned members replaced. minimumHealthyPercent,
    maximumPercent (and anything ECS adds later) are kept. Alarms and circuit breaker are replaced only when the
    spec sets them (absent = not managed by this release); hooks always, since a hook left over from an older
    spec (a PAUSE) would block every later release."""
    config = copy.deepcopy(dict(existing or {}))
    config.update(_strategy_members(spec.strategy))
    for other in ("linearConfiguration", "canaryConfiguration"):
        if other not in _strategy_members(spec.strategy):
            config.pop(other, None)  # ECS: only valid with its own strategy (DeploymentConfiguration docs)
    config.pop("earlySuccessCriteria", None)  # "for a rolling deployment" only (model doc)
    config["lifecycleHooks"] = [_lifecycle_hook(h) for h in spec.hooks]
    if spec.alarms is not None:
        config["alarms"] = {
            "alarmNames": list(spec.alarms.names),
            "rollback": spec.alarms.rollback,
            "enable": spec.alarms.enable,
        }
    if spec.circuit_breaker is not None:
        breaker = dict(config.get("deploymentCircuitBreaker") or {})  # keeps thresholdConfiguration etc.
        breaker.update(enable=spec.circuit_breaker.enable, rollback=spec.circuit_breaker.rollback)
        config["deploymentCircuitBreaker"] = breaker
    return config


def _strategy_members(strategy: StrategySpec) -> dict[str, Any]:
    members: dict[str, Any] = {"strategy": strategy.type.ecs, "bakeTimeInMinutes": strategy.bake_time_minutes}
    if strategy.type.ecs == "LINEAR":
        linear: dict[str, Any] = {}
        if strategy.step_percent is not None:
            linear["stepPercent"] = strategy.step_percent
        if strategy.step_bake_time_minutes is not None:
            linear["stepBakeTimeInMinutes"] = strategy.step_bake_time_minutes
        members["linearConfiguration"] = linear
    if strategy.type.ecs == "CANARY":
        canary: dict[str, Any] = {}
        if strategy.canary_percent is not None:
            canary["canaryPercent"] = strategy.canary_percent
        if strategy.canary_bake_time_minutes is not None:
            canary["canaryBakeTimeInMinutes"] = strategy.canary_bake_time_minutes
        members["canaryConfiguration"] = canary
    return members


def _lifecycle_hook(hook: HookSpec) -> dict[str, Any]:
    """DeploymentLifecycleHook; the CR's "Lambda"/"Pause" and "Rollback"/"Continue" map to ECS's enums."""
    out: dict[str, Any] = {
        "targetType": "PAUSE" if hook.type == "Pause" else "AWS_LAMBDA",
        "lifecycleStages": list(hook.stages),
    }
    if hook.function_arn:
        out["hookTargetArn"] = hook.function_arn
    if hook.role_arn:
        out["roleArn"] = hook.role_arn
    if hook.hook_details is not None:
        out["hookDetails"] = copy.deepcopy(dict(hook.hook_details))
    timeout: dict[str, Any] = {}
    if hook.timeout_minutes is not None:
        timeout["timeoutInMinutes"] = hook.timeout_minutes
    if hook.timeout_action is not None:
        timeout["action"] = hook.timeout_action.upper()
    if timeout:
        out["timeoutConfiguration"] = timeout
    return out


def load_balancers(spec: ReleaseSpec, existing: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every existing entry, unchanged except advancedConfiguration for the ones the spec names by target group."""
    wanted = {lb.target_group_arn: lb for lb in spec.load_balancers}
    unknown = sorted(set(wanted) - {e.get("targetGroupArn") for e in existing})
    if unknown:
        raise RequestBuildError(
            "InvalidServiceConfiguration",
            f"spec.loadBalancers names target group(s) the service does not use: {', '.join(unknown)}",
        )
    entries = []
    for entry in existing:
        out = copy.deepcopy(dict(entry))
        lb = wanted.get(out.get("targetGroupArn", ""))
        if lb is not None:
            advanced = {
                "alternateTargetGroupArn": lb.alternate_target_group_arn,
                "productionListenerRule": lb.production_listener_rule,
                "roleArn": lb.role_arn,
            }
            if lb.test_listener_rule:
                advanced["testListenerRule"] = lb.test_listener_rule
            out["advancedConfiguration"] = advanced
        entries.append(out)
    return entries


def current_service_connect(
    described_service: Mapping[str, Any], revisions: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any] | None:
    """Service has no serviceConnectConfiguration member: the PRIMARY deployment's is the current one, else the
    one of the ServiceRevision running the service's task definition (both shapes carry it per the model)."""
    for deployment in described_service.get("deployments", []):
        if deployment.get("status") == "PRIMARY" and deployment.get("serviceConnectConfiguration"):
            return copy.deepcopy(dict(deployment["serviceConnectConfiguration"]))
    current = described_service.get("taskDefinition")
    for revision in sorted(revisions, key=lambda r: r.get("taskDefinition") != current):
        if revision.get("serviceConnectConfiguration"):
            return copy.deepcopy(dict(revision["serviceConnectConfiguration"]))
    return None


def service_connect_configuration(
    spec: ReleaseSpec, described_service: Mapping[str, Any], revisions: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The current Service Connect configuration with testTrafficRules set on the client aliases of each port."""
    config = current_service_connect(described_service, revisions)
    if config is None or not config.get("enabled"):
        raise RequestBuildError(
            "InvalidServiceConfiguration",
            "spec.serviceConnect.testTrafficRules is set but the service has no Service Connect configuration",
        )
    services = {s.get("portName"): s for s in config.get("services", [])}
    for rule in spec.test_traffic_rules:
        service = services.get(rule.port_name)
        if service is None or not service.get("clientAliases"):
            raise RequestBuildError(
                "InvalidServiceConfiguration",
                f"Service Connect has no client alias for portName {rule.port_name!r}",
            )
        header: dict[str, Any] = {"name": rule.header_name}
        if rule.header_exact is not None:
            header["value"] = {"exact": rule.header_exact}
        for alias in service["clientAliases"]:
            alias["testTrafficRules"] = {"header": header}
    return config


# ------------------------------------------------------------------------------------ RegisterTaskDefinition


def register_task_definition_request(
    described: Mapping[str, Any], containers: Sequence[ContainerOverride] | TaskDefinitionSource, taskdef_hash: str
) -> dict[str, Any]:
    """RegisterTaskDefinition params from a DescribeTaskDefinition(include=[TAGS]) response: the base's
    registrable fields with the container overrides (domain.taskdefs.render), the base's tags and the
    ecsbg.dev/taskdef-hash tag (the content hash of what is registered)."""
    base = described["taskDefinition"]
    source = containers if isinstance(containers, TaskDefinitionSource) else TaskDefinitionSource(
        containers=tuple(containers))
    try:
        request = taskdefs.render(base, source.containers, cpu=source.cpu, memory=source.memory,
                                  sidecars=source.sidecars)
    except taskdefs.UnknownContainer as exc:
        raise RequestBuildError("InvalidTaskDefinitionOverride", str(exc)) from exc
    # what the overrides (ports, health check, sidecars) make of the base must still be a valid request
    errors = shapes.register_task_definition_errors(request, f"the task definition rendered from "
                                                    f"{base.get('taskDefinitionArn') or base.get('family')}")
    if errors:
        raise RequestBuildError("InvalidTaskDefinitionOverride", "; ".join(errors))
    size = len(json.dumps(request, separators=(",", ":")).encode())
    if size > MAX_TASK_DEFINITION_BYTES:
        raise RequestBuildError(
            "TaskDefinitionTooLarge",
            f"the task definition rendered from {base.get('taskDefinitionArn')} and spec.taskDefinition.containers "
            f"is {size} bytes; ECS accepts at most {MAX_TASK_DEFINITION_BYTES} (64 KiB, a quota that cannot be "
            "raised): move large values (environment) to Secrets Manager, SSM parameters or environmentFiles",
        )
    # aws:-prefixed tags are reserved ([doc: Tagging your Amazon ECS resources]) and cannot be set by us.
    tags = [
        t for t in described.get("tags", []) if t.get("key") != TASKDEF_HASH_TAG and not t["key"].startswith("aws:")
    ]
    request["tags"] = [*tags, {"key": TASKDEF_HASH_TAG, "value": taskdef_hash}]
    return request


def task_definition_family(reference: str) -> str:
    """`arn:...:task-definition/web:42`, `web:42` or `web` -> `web`."""
    return reference.rsplit("/", 1)[-1].split(":", 1)[0]


def same_task_definition(a: str | None, b: str | None) -> bool:
    """`arn:...:task-definition/web:42` and `web:42` name the same revision; a bare family names none for sure."""
    if not a or not b:
        return False
    short_a, short_b = a.rsplit("/", 1)[-1], b.rsplit("/", 1)[-1]
    return a == b or (":" in short_a and short_a == short_b)
