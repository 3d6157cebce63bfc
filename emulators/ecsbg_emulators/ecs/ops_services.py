"""CreateService, UpdateService, DescribeServices, ListServices, DeleteService.

UpdateService keeps every member it is not given; it starts a service deployment only for the members whose
model documentation says "This parameter triggers a new service deployment" (when their value changes) or
forceNewDeployment=True, and never for desiredCount, deploymentConfiguration, capacityProviderStrategy, ...
("This parameter doesn't trigger a new service deployment") [model: UpdateServiceRequest].
"""

from __future__ import annotations

import copy
from typing import Any

from . import errors, stages, views
from .backend import Partition, operation, paginate
from .model import Service, random_id
from .validation import check_batch, check_deployment_configuration, check_enum

NOT_STORED = {"cluster", "serviceName", "service", "clientToken", "tags", "forceNewDeployment"}
TRIGGERS = ("taskDefinition", "networkConfiguration", "platformVersion", "loadBalancers", "serviceRegistries",
            "serviceConnectConfiguration", "volumeConfigurations", "vpcLatticeConfigurations")


def _default_deployment_configuration(cfg: dict[str, Any] | None) -> dict[str, Any]:
    """ECS fills these defaults into what DescribeServices returns [model: DeploymentConfiguration docs]."""
    out = copy.deepcopy(cfg or {})
    out.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
    out.setdefault("maximumPercent", 200)
    out.setdefault("minimumHealthyPercent", 100)
    out.setdefault("strategy", "ROLLING")
    return out


def _check_common(p: dict[str, Any], strategy: str, load_balancers: list[dict[str, Any]]) -> None:
    check_deployment_configuration(p.get("deploymentConfiguration"))
    check_enum("launchType", p.get("launchType"), {"EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"})
    check_enum("schedulingStrategy", p.get("schedulingStrategy"), {"REPLICA", "DAEMON"})
    check_enum("deploymentController.type", (p.get("deploymentController") or {}).get("type"),
               {"ECS", "CODE_DEPLOY", "EXTERNAL"})
    check_enum("propagateTags", p.get("propagateTags"), {"TASK_DEFINITION", "SERVICE", "NONE"})
    if p.get("launchType") and p.get("capacityProviderStrategy"):
        raise errors.invalid("Specifying both a launch type and capacity provider strategy is not supported.")
    if strategy in stages.TRAFFIC_STRATEGIES:
        for lb in load_balancers:
            if not lb.get("advancedConfiguration"):
                raise errors.invalid(f"advancedConfiguration is required for {strategy} deployments with a load balancer.")


@operation
def create_service(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    cluster = b.cluster(p.get("cluster"))
    name = p.get("serviceName", "")
    existing = b.store.services.get((cluster.name, name))
    if existing is not None and existing.status == "ACTIVE":
        raise errors.invalid("Creation of service was not idempotent.")
    if existing is not None and existing.status == "DRAINING":
        # "If you attempt to create a new service with the same name as an existing service in either ACTIVE or
        # DRAINING status, you receive an error." [doc: DeleteService]
        raise errors.invalid("Unable to Start a service that is still Draining.")
    fields = {k: copy.deepcopy(v) for k, v in p.items() if k not in NOT_STORED}
    fields["deploymentConfiguration"] = _default_deployment_configuration(p.get("deploymentConfiguration"))
    _check_common(p, fields["deploymentConfiguration"]["strategy"], p.get("loadBalancers") or [])
    if not p.get("taskDefinition"):
        raise errors.invalid("TaskDefinition must be specified for services using the ECS deployment controller.")
    fields["taskDefinition"] = _launchable(b, p["taskDefinition"])
    fields.setdefault("desiredCount", 0)
    fields.setdefault("deploymentController", {"type": "ECS"})
    fields.setdefault("schedulingStrategy", "REPLICA")
    fields.setdefault("propagateTags", "NONE")
    fields.setdefault("enableECSManagedTags", False)
    fields.setdefault("enableExecuteCommand", False)
    providers = [c.get("capacityProvider", "") for c in p.get("capacityProviderStrategy") or []]
    if p.get("launchType") == "FARGATE" or any(cp.startswith("FARGATE") for cp in providers):
        fields.setdefault("platformVersion", "LATEST")
    service = Service(name=name, arn=b.arn(f"service/{cluster.name}/{name}"), cluster=cluster, account=b.account,
                      region=b.region, fields=fields, created=b.scheduler.now(), tags=list(p.get("tags", [])))
    b.store.services[(cluster.name, name)] = service
    _start(b, service, slot=0, initial=True)
    return {"service": views.service(service)}


def _launchable(b: Partition, ref: str) -> str:
    """The ARN of an ACTIVE task definition: "you can't update an existing service to use an INACTIVE task
    definition" [doc: DeregisterTaskDefinition]; the code and message are those ECS gives RunTask for one."""
    td = b.task_definition(ref, errors.SERVICE_TD_NOT_FOUND)
    if td.status != "ACTIVE":
        raise errors.invalid("TaskDefinition is inactive")
    return td.arn


def _start(b: Partition, service: Service, slot: int, initial: bool = False) -> None:
    revision = b.new_revision(service, slot)
    dep_arn = b.arn(f"service-deployment/{service.cluster.name}/{service.name}/{random_id()}")
    b.engine.start(service, revision, dep_arn, initial=initial)


@operation
def update_service(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    service = b.service(p.get("cluster"), p.get("service", ""), active=False)
    if service.status != "ACTIVE":
        raise errors.service_not_active()
    update = {k: copy.deepcopy(v) for k, v in p.items() if k not in NOT_STORED}
    if "deploymentConfiguration" in update:
        update["deploymentConfiguration"] = _default_deployment_configuration(update["deploymentConfiguration"])
    strategy = (update.get("deploymentConfiguration") or service.fields["deploymentConfiguration"])["strategy"]
    _check_common(p, strategy, update.get("loadBalancers", service.fields.get("loadBalancers")) or [])
    if "taskDefinition" in update:
        update["taskDefinition"] = _launchable(b, update["taskDefinition"])
    triggered = bool(p.get("forceNewDeployment")) or any(
        k in update and update[k] != service.fields.get(k) for k in TRIGGERS
    )
    controller = (update.get("deploymentController") or service.fields.get("deploymentController") or {}).get("type")
    if triggered and controller not in (None, "ECS"):
        # CODE_DEPLOY / EXTERNAL services are deployed through CodeDeploy or task sets, not UpdateService
        raise errors.invalid(f"Unable to start a deployment on a service with the {controller} deployment controller.")
    service.fields.update(update)
    if "desiredCount" in update:
        _resize(service, int(update["desiredCount"]))
    if triggered:
        primary = service.primary
        slot = primary.tg_slot if primary else 0
        _start(b, service, slot=1 - slot if strategy in stages.TRAFFIC_STRATEGIES else slot)
    return {"service": views.service(service)}


def _resize(service: Service, desired: int) -> None:
    """desiredCount applies to every revision that runs tasks (blue and green are sized alike)."""
    for revision in service.active_revisions():
        if revision.requested > 0:
            revision.requested = revision.running = desired
            revision.pending = 0


@operation
def describe_services(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    cluster = b.cluster(p.get("cluster"))
    refs = check_batch("services", p.get("services"), 10)  # "You may specify up to 10 services" [model]
    include_tags = "TAGS" in (p.get("include") or [])
    found, failures = [], []
    for ref in refs:
        try:  # a deleted service stays visible as INACTIVE [doc: DeleteService]
            found.append(views.service(b.service(cluster.name, ref, active=False), include_tags))
        except errors.EcsError:
            name = ref.rsplit("/", 1)[-1]
            failures.append({"arn": b.arn(f"service/{cluster.name}/{name}"), "reason": "MISSING"})
    return {"services": found, "failures": failures}


@operation
def list_services(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    cluster = b.cluster(p.get("cluster"))
    check_enum("launchType", p.get("launchType"), {"EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"})
    arns = [
        s.arn for (c, _), s in b.store.services.items()
        if c == cluster.name and s.status == "ACTIVE"
        and p.get("launchType") in (None, s.fields.get("launchType"))
        and p.get("schedulingStrategy") in (None, s.fields.get("schedulingStrategy"))
    ]
    page, token = paginate(arns, p, 10)
    out: dict[str, Any] = {"serviceArns": page}
    if token:
        out["nextToken"] = token
    return out


@operation
def delete_service(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    service = b.service(p.get("cluster"), p.get("service", ""))
    if service.fields.get("desiredCount", 0) > 0 and not p.get("force"):
        raise errors.invalid("The service cannot be stopped while it is scaled above 0.")
    current = service.current_deployment()
    if current is not None:
        b.engine.stop(current, "The service was deleted.")
    # "if there are still running tasks that require cleanup, the service status moves from ACTIVE to DRAINING
    # ... After all tasks have transitioned to either STOPPING or STOPPED status, the service status moves from
    # DRAINING to INACTIVE" [doc: DeleteService]
    draining = any(r.running or r.pending for r in service.revisions)
    service.status = "DRAINING" if draining else "INACTIVE"
    if draining:
        b.scheduler.call_later(stages.STAGE_SECONDS["CLEAN_UP"], lambda: _drained(service))
    for revision in service.revisions:
        revision.requested = revision.running = revision.pending = 0
        # "Amazon ECS deletes the service revision when you delete a service." [doc: Amazon ECS service revisions]
        b.store.revisions.pop(revision.arn, None)
    for dep in service.deployments:  # and its service deployments with it [doc: View service history ...]
        b.store.deployments.pop(dep.arn, None)
    service.primary = None
    return {"service": views.service(service)}


def _drained(service: Service) -> None:
    if service.status == "DRAINING":
        service.status = "INACTIVE"
