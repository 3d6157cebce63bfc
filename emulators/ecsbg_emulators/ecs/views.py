"""Response shapes, member names as in the botocore 1.44.5 model (Service, Deployment, ServiceDeployment,
ServiceDeploymentBrief, ServiceRevision, ServiceRevisionSummary, TaskDefinition, Cluster).
Timestamps are epoch seconds, as the JSON protocol carries them."""

from __future__ import annotations

import hashlib
from typing import Any

from .engine import breaker_threshold
from .model import Cluster, Deployment, Revision, Service, TaskDefinition

# CreateService/UpdateService members echoed verbatim on Service (model shape Service).
SERVICE_ECHO = (
    "loadBalancers", "serviceRegistries", "desiredCount", "launchType", "capacityProviderStrategy",
    "platformVersion", "taskDefinition", "deploymentConfiguration", "placementConstraints", "placementStrategy",
    "networkConfiguration", "healthCheckGracePeriodSeconds", "schedulingStrategy", "deploymentController",
    "enableECSManagedTags", "propagateTags", "enableExecuteCommand", "availabilityZoneRebalancing",
)
REVISION_ECHO = (
    "capacityProviderStrategy", "launchType", "platformVersion", "loadBalancers", "serviceRegistries",
    "networkConfiguration", "serviceConnectConfiguration", "volumeConfigurations", "vpcLatticeConfigurations",
    "gatewayConnectors", "monitoring",
)
DEPLOYMENT_ECHO = ("capacityProviderStrategy", "launchType", "platformVersion", "networkConfiguration",
                   "serviceConnectConfiguration", "volumeConfigurations", "vpcLatticeConfigurations")
ROLLOUT_STATE = {"SUCCESSFUL": "COMPLETED", "STOP_REQUESTED": "FAILED", "STOPPED": "FAILED",
                 "ROLLBACK_REQUESTED": "FAILED", "ROLLBACK_IN_PROGRESS": "FAILED", "ROLLBACK_SUCCESSFUL": "FAILED",
                 "ROLLBACK_FAILED": "FAILED"}


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def cluster(c: Cluster, services: int, include_tags: bool) -> dict[str, Any]:
    out = {
        "clusterArn": c.arn, "clusterName": c.name, "status": "ACTIVE", "registeredContainerInstancesCount": 0,
        "runningTasksCount": 0, "pendingTasksCount": 0, "activeServicesCount": services,
        "settings": c.settings, "capacityProviders": [], "defaultCapacityProviderStrategy": [],
    }
    if include_tags:
        out["tags"] = c.tags
    return out


def task_definition(td: TaskDefinition) -> dict[str, Any]:
    out = {**td.body, "taskDefinitionArn": td.arn, "family": td.family, "revision": td.revision,
           "status": td.status, "registeredAt": td.registered,
           "registeredBy": f"arn:aws:iam::{td.arn.split(':')[4]}:root"}
    if td.deregistered is not None:
        out["deregisteredAt"] = td.deregistered
    return out


def _legacy_deployment(svc: Service, rev: Revision, primary: bool) -> dict[str, Any]:
    """A Service.deployments[] item per running revision; rolloutState from the deployment that brought the
    revision in (IN_PROGRESS while it runs, COMPLETED when it succeeded, FAILED when stopped or rolled back)."""
    latest = next((d for d in reversed(svc.deployments) if d.target is rev), None)
    rollout = "COMPLETED" if latest is None else ROLLOUT_STATE.get(latest.status, "IN_PROGRESS")
    return _drop_none({
        "id": rev.legacy_id, "status": "PRIMARY" if primary else "ACTIVE", "taskDefinition": rev.task_definition,
        "desiredCount": rev.requested, "pendingCount": rev.pending, "runningCount": rev.running,
        "failedTasks": rev.failed, "createdAt": rev.created, "updatedAt": max(rev.updated, rev.created),
        **{k: rev.config.get(k) for k in DEPLOYMENT_ECHO}, "rolloutState": rollout,
        "rolloutStateReason": f"ECS deployment {rev.legacy_id} {rollout.lower().replace('_', ' ')}.",
    })


def service(svc: Service, include_tags: bool = False) -> dict[str, Any]:
    out = {k: svc.fields[k] for k in SERVICE_ECHO if k in svc.fields}
    active = svc.active_revisions()
    others = [r for r in active if r is not svc.primary]
    legacy = ([svc.primary] if svc.primary else []) + others
    dep = svc.current_deployment()
    out.update({
        "serviceArn": svc.arn, "serviceName": svc.name, "clusterArn": svc.cluster.arn, "status": svc.status,
        "runningCount": sum(r.running for r in active), "pendingCount": sum(r.pending for r in active),
        "deployments": [_legacy_deployment(svc, r, r is svc.primary) for r in legacy],
        "events": svc.events, "createdAt": svc.created, "createdBy": f"arn:aws:iam::{svc.account}:root",
        "currentServiceRevisions": [
            {"arn": r.arn, "requestedTaskCount": r.requested, "runningTaskCount": r.running,
             "pendingTaskCount": r.pending} for r in legacy
        ],
        "taskSets": [], "resourceManagementType": "CUSTOMER",
    })
    if dep is not None and svc.status == "ACTIVE":  # a deleted service's deployments are deleted with it
        out["currentServiceDeployment"] = dep.arn
    if include_tags:
        out["tags"] = svc.tags
    return out


def revision_summary(rev: Revision) -> dict[str, Any]:
    return _drop_none({
        "arn": rev.arn, "requestedTaskCount": rev.requested, "runningTaskCount": rev.running,
        "pendingTaskCount": rev.pending, "requestedTestTrafficWeight": rev.test_weight,
        "requestedProductionTrafficWeight": rev.prod_weight,
    })


def _monitors(dep: Deployment) -> dict[str, Any]:
    breaker = dep.config.get("deploymentCircuitBreaker") or {}
    alarms = dep.config.get("alarms") or {}
    return {
        "deploymentCircuitBreaker": {
            "status": dep.cb_status, "failureCount": dep.cb_failures,
            "threshold": breaker_threshold(dep.config, dep.target.requested) if breaker.get("enable") else 0,
        },
        "alarms": {"status": dep.alarm_status, "alarmNames": list(alarms.get("alarmNames", [])),
                   "triggeredAlarmNames": list(dep.triggered_alarms)},
    }


def service_deployment(dep: Deployment) -> dict[str, Any]:
    out = _drop_none({
        "serviceDeploymentArn": dep.arn, "serviceArn": dep.service.arn, "clusterArn": dep.service.cluster.arn,
        "createdAt": dep.created, "startedAt": dep.started, "finishedAt": dep.finished,
        "stoppedAt": dep.stopped, "updatedAt": dep.updated,
        "sourceServiceRevisions": [revision_summary(r) for r in dep.sources],
        "targetServiceRevision": revision_summary(dep.target), "status": dep.status,
        "statusReason": dep.status_reason, "lifecycleStage": dep.stage,
        "deploymentConfiguration": dep.config, "rollback": dep.rollback,
    })
    if dep.hooks:
        out["lifecycleHookDetails"] = [
            _drop_none({"hookId": h.hook_id, "targetType": h.target_type, "targetArn": h.target_arn,
                        "status": h.status, "expiresAt": h.expires_at, "timeoutAction": h.timeout_action})
            for h in dep.hooks
        ]
    out.update(_monitors(dep))
    return out


def deployment_brief(dep: Deployment) -> dict[str, Any]:
    return _drop_none({
        "serviceDeploymentArn": dep.arn, "serviceArn": dep.service.arn, "clusterArn": dep.service.cluster.arn,
        "startedAt": dep.started, "createdAt": dep.created, "finishedAt": dep.finished,
        "targetServiceRevisionArn": dep.target.arn, "status": dep.status, "statusReason": dep.status_reason,
    })


def service_revision(rev: Revision, td_body: dict[str, Any] | None) -> dict[str, Any]:
    out = {k: rev.config[k] for k in REVISION_ECHO if rev.config.get(k) is not None}
    images = [
        {"containerName": c.get("name"), "image": c.get("image"),
         "imageDigest": "sha256:" + hashlib.sha256(str(c.get("image")).encode()).hexdigest()}
        for c in (td_body or {}).get("containerDefinitions", [])
    ]
    resolved = []
    for lb in rev.config.get("loadBalancers") or []:
        adv = lb.get("advancedConfiguration") or {}
        tg = adv.get("alternateTargetGroupArn") if rev.tg_slot and adv else lb.get("targetGroupArn")
        resolved.append(_drop_none({"targetGroupArn": tg, "productionListenerRule": adv.get("productionListenerRule")}))
    out.update({
        "serviceRevisionArn": rev.arn, "serviceArn": rev.service.arn, "clusterArn": rev.service.cluster.arn,
        "taskDefinition": rev.task_definition, "containerImages": images, "guardDutyEnabled": False,
        "createdAt": rev.created, "resolvedConfiguration": {"loadBalancers": resolved},
    })
    return out
