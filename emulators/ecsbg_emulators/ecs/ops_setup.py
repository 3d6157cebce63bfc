"""Clusters, task definitions and tags (CreateCluster ... ListTagsForResource), shapes per the botocore model."""

from __future__ import annotations

import copy
from typing import Any

from . import errors, views
from .backend import Partition, operation, paginate
from .model import Cluster, TaskDefinition
from .validation import check_enum

TD_STATUSES = {"ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"}


@operation
def create_cluster(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    name = p.get("clusterName", "default")
    cluster = b.store.clusters.get(name)
    if cluster is None:  # CreateCluster is idempotent for an existing ACTIVE cluster
        cluster = Cluster(name=name, arn=b.arn(f"cluster/{name}"), created=b.scheduler.now(),
                          tags=p.get("tags", []), settings=p.get("settings", []))
        b.store.clusters[name] = cluster
    return {"cluster": views.cluster(cluster, _service_count(b, cluster), True)}


def _service_count(b: Partition, cluster: Cluster) -> int:
    return sum(1 for (c, _), s in b.store.services.items() if c == cluster.name and s.status == "ACTIVE")


@operation
def describe_clusters(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    found, failures = [], []
    for ref in p.get("clusters") or ["default"]:
        try:
            cluster = b.cluster(ref)
        except errors.EcsError:
            failures.append({"arn": ref if ref.startswith("arn:") else b.arn(f"cluster/{ref}"), "reason": "MISSING"})
        else:
            found.append(views.cluster(cluster, _service_count(b, cluster), "TAGS" in (p.get("include") or [])))
    return {"clusters": found, "failures": failures}


@operation
def list_clusters(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    page, token = paginate([c.arn for c in b.store.clusters.values()], p, 100)
    return _drop_none({"clusterArns": page, "nextToken": token})


@operation
def register_task_definition(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    family = p.get("family")
    if not family:
        raise errors.client_error("Family must not be empty.")
    containers = p.get("containerDefinitions") or []
    if not containers:
        raise errors.client_error("Container list cannot be empty.")
    for container in containers:
        if not container.get("image"):
            raise errors.client_error("Container.image should not be null or empty.")
        if not container.get("name"):
            raise errors.client_error("Container.name should not be null or empty.")
    revisions = b.store.task_definitions.setdefault(family, [])
    number = revisions[-1].revision + 1 if revisions else 1
    body = {k: copy.deepcopy(v) for k, v in p.items() if k != "tags"}
    td = TaskDefinition(family=family, revision=number, arn=b.arn(f"task-definition/{family}:{number}"),
                        body=body, registered=b.scheduler.now(), tags=list(p.get("tags", [])))
    revisions.append(td)
    return {"taskDefinition": views.task_definition(td), "tags": td.tags}


@operation
def describe_task_definition(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    td = b.task_definition(p.get("taskDefinition", ""))
    out: dict[str, Any] = {"taskDefinition": views.task_definition(td)}
    if "TAGS" in (p.get("include") or []):
        out["tags"] = td.tags
    return out


@operation
def list_task_definitions(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    status = p.get("status", "ACTIVE")
    check_enum("status", status, TD_STATUSES)
    check_enum("sort", p.get("sort"), {"ASC", "DESC"})
    prefix = p.get("familyPrefix", "")
    tds = [t for fam, revs in sorted(b.store.task_definitions.items()) if fam.startswith(prefix)
           for t in revs if t.status == status]
    if p.get("sort") == "DESC":
        tds.reverse()
    page, token = paginate([t.arn for t in tds], p, 100)
    return _drop_none({"taskDefinitionArns": page, "nextToken": token})


@operation
def deregister_task_definition(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    ref = p.get("taskDefinition", "")
    if ":" not in ref.split("task-definition/", 1)[-1]:
        raise errors.client_error("The specified task definition identifier is invalid: a revision is required.")
    td = b.task_definition(ref)
    if td.status == "ACTIVE":
        td.status, td.deregistered = "INACTIVE", b.scheduler.now()
    return {"taskDefinition": views.task_definition(td)}


def _tagged(b: Partition, resource_arn: str, missing: str = "ResourceNotFoundException") -> Any:
    """The object owning the tags of an ECS ARN (cluster, service or task definition). The full ARN is looked up,
    so one of another region or account is not found here. An unknown cluster is ClusterNotFoundException; another
    unknown resource is `missing` (TagResource/UntagResource list ResourceNotFoundException [model], and
    ListTagsForResource only ClientException)."""
    resource = resource_arn.split(":", 5)[-1] if resource_arn.startswith("arn:") else ""
    kind = resource.partition("/")[0]
    if kind == "cluster":
        return b.cluster(resource_arn)
    try:
        if kind == "service":
            return b.service(None, resource_arn)
        if kind == "task-definition":
            return b.task_definition(resource_arn)
    except errors.EcsError as exc:
        if exc.code == "ClusterNotFoundException":
            raise
        raise errors.EcsError(missing, "The specified resource wasn't found.") from exc
    raise errors.invalid(f"The ARN {resource_arn!r} is not a taggable ECS resource.")


@operation
def tag_resource(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    owner = _tagged(b, p.get("resourceArn", ""))
    new = {t["key"]: t.get("value", "") for t in p.get("tags", [])}
    owner.tags = [t for t in owner.tags if t["key"] not in new] + [{"key": k, "value": v} for k, v in new.items()]
    return {}


@operation
def untag_resource(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    owner = _tagged(b, p.get("resourceArn", ""))
    owner.tags = [t for t in owner.tags if t["key"] not in set(p.get("tagKeys", []))]
    return {}


@operation
def list_tags_for_resource(b: Partition, p: dict[str, Any]) -> dict[str, Any]:
    return {"tags": list(_tagged(b, p.get("resourceArn", ""), "ClientException").tags)}


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
