"""ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions, StopServiceDeployment,
ContinueServiceDeployment (botocore 1.44.5 model; project ECS reference sections 2.8-2.12)."""

from __future__ import annotations

from typing import Any

from . import errors, stages, views
from .backend import Partition, operation, paginate
from .model import Deployment
from .validation import check_batch, check_enum


@operation
def list_service_deployments(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    service = b.service(p.get("cluster"), p.get("service", ""))
    statuses = p.get("status") or []
    for status in statuses:
        check_enum("status", status, stages.DEPLOYMENT_STATUSES)
    created = p.get("createdAt") or {}
    after, before = created.get("after"), created.get("before")
    # Ordering is not documented; newest first, as the console lists service deployments.
    deps = [
        d for d in reversed(service.deployments)
        if (not statuses or d.status in statuses)
        and (after is None or d.created >= float(after))
        and (before is None or d.created <= float(before))
    ]
    page, token = paginate(deps, p, 20)  # "between 1 and 100 ... up to 20 results" by default [model]
    out: dict[str, Any] = {"serviceDeployments": [views.deployment_brief(d) for d in page]}
    if token:
        out["nextToken"] = token
    return out


@operation
def describe_service_deployments(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    refs = check_batch("serviceDeploymentArns", p.get("serviceDeploymentArns"), 20)  # "maximum of 20 ARNs"
    found, failures = [], []
    for ref in refs:
        dep = b.store.deployments.get(ref)
        if dep is None:
            failures.append({"arn": ref, "reason": "MISSING"})
        else:
            found.append(views.service_deployment(dep))
    return {"serviceDeployments": found, "failures": failures}


@operation
def describe_service_revisions(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    refs = check_batch("serviceRevisionArns", p.get("serviceRevisionArns"), 20)  # "maximum of 20 ARNs"
    found, failures = [], []
    for ref in refs:
        rev = b.store.revisions.get(ref)
        if rev is None:
            failures.append({"arn": ref, "reason": "MISSING"})
            continue
        try:
            body = b.task_definition(rev.task_definition).body
        except errors.EcsError:
            body = None
        found.append(views.service_revision(rev, body))
    return {"serviceRevisions": found, "failures": failures}


def _deployment(b: Partition, ref: str) -> Deployment:
    dep = b.store.deployments.get(ref)
    if dep is None:
        raise errors.deployment_not_found(ref)
    return dep


@operation
def stop_service_deployment(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    dep = _deployment(b, p.get("serviceDeploymentArn", ""))
    stop_type = p.get("stopType", "ROLLBACK")
    check_enum("stopType", stop_type, stages.STOP_TYPES)
    if stop_type != "ROLLBACK":
        # ABORT is in the enum but "The valid values are ROLLBACK" [model: StopServiceDeployment doc].
        raise errors.invalid("The stop type ABORT is not supported. The valid value is ROLLBACK.")
    if dep.status in stages.FINISHED_STATUSES:
        # ConflictException is the model's state-conflict error for this operation.
        raise errors.conflict(f"The service deployment is already {dep.status} and cannot be stopped.", [dep.arn])
    if dep.status in ("PENDING", "IN_PROGRESS"):
        b.engine.rollback(dep, "Rollback requested by StopServiceDeployment.", requested=True)
    # STOP_REQUESTED / ROLLBACK_REQUESTED / ROLLBACK_IN_PROGRESS: the stop already under way continues
    # [doc: Stopping Amazon ECS service deployments].
    return {"serviceDeploymentArn": dep.arn}


@operation
def continue_service_deployment(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    dep = _deployment(b, p.get("serviceDeploymentArn", ""))
    action = p.get("action", "CONTINUE")
    check_enum("action", action, stages.HOOK_ACTIONS)
    run = b.engine.hooks.find(dep, p.get("hookId", ""))
    if run is None:
        raise errors.invalid(f"The hook {p.get('hookId')!r} does not belong to the service deployment.")
    if run.target_type != "PAUSE" or run.status != "AWAITING_ACTION":
        # Not documented; InvalidParameterException is in the model's error list for this operation.
        raise errors.invalid(f"The hook {run.hook_id} is {run.status}, not AWAITING_ACTION.")
    b.engine.hooks.continue_pause(dep, run, action)
    return {"serviceDeploymentArn": dep.arn}
