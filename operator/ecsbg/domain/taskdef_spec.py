"""spec.taskDefinition parsed: exactly one of `arn`, `containers` (overrides on the service's task definition,
with task-level `cpu`/`memory` and added `sidecars`) or `template` (domain.taskdef_template).

The overrides are the fields teams change per release (docs/api.md "spec.taskDefinition"): image, environment
and secrets (merged by name), command, cpu/memory/memoryReservation, port mappings and the health check
(replaced). Types and enums of what is rendered are checked against botocore's model before registering
(ecsbg.aws.shapes); here, the shape a person writes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ecsbg.domain.model import ContainerOverride, TaskDefinitionSource
from ecsbg.domain.taskdef_template import container_errors, template_errors
from ecsbg.domain.validation import Reader, image_problem

PATH = "spec.taskDefinition"
MAX_CONTAINERS = 10
# ECS's ValueFrom of a secret: a Secrets Manager secret or an SSM parameter, by ARN (or name, same region)
SECRET_SOURCES = ("arn:aws", "arn:aws-cn", "arn:aws-us-gov")


def task_definition(r: Reader, spec: Mapping[str, Any]) -> TaskDefinitionSource:
    node = r.obj(spec, "taskDefinition", PATH, required=True)
    if node is None:
        return TaskDefinitionSource()
    arn = r.string(node, "arn", f"{PATH}.arn", pattern="taskDefinition")
    items = r.array(node, "containers", f"{PATH}.containers", min_items=1, max_items=MAX_CONTAINERS)
    if sum(key in node for key in ("arn", "containers", "template")) != 1:
        r.error(PATH, "exactly one of taskDefinition.arn, taskDefinition.containers or taskDefinition.template "
                "must be set")
    for key in ("cpu", "memory", "sidecars"):
        if key in node and "containers" not in node:
            r.error(f"{PATH}.{key}", "goes with taskDefinition.containers (a template sets it itself)")
    containers = tuple(_container(r, item, f"{PATH}.containers[{i}]") for i, item in enumerate(items or ()))
    unique(r, [c.name for c in containers], f"{PATH}.containers", "name")
    template = None
    if "template" in node:
        problems = template_errors(node["template"], f"{PATH}.template")
        r.errors += problems
        template = copy.deepcopy(dict(node["template"])) if not problems else None
    sidecars = _sidecars(r, node)
    unique(r, [str(s.get("name")) for s in sidecars], f"{PATH}.sidecars", "name")
    overridden = {c.name for c in containers}
    for i, sidecar in enumerate(sidecars):
        if sidecar.get("name") in overridden:
            r.error(f"{PATH}.sidecars[{i}].name", f"{sidecar.get('name')!r} is also under taskDefinition.containers: "
                    "a sidecar is a container the task definition does not have yet")
    return TaskDefinitionSource(arn=arn, containers=containers, template=template, sidecars=sidecars,
                                cpu=_size(r, node, "cpu"), memory=_size(r, node, "memory"))


def _size(r: Reader, node: Mapping[str, Any], key: str) -> str | None:
    """Task cpu/memory: ECS takes strings ("512", "1 vCPU", "2 GB"); an integer is accepted as its digits."""
    value = node.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        r.error(f"{PATH}.{key}", f"must be a string such as \"512\" or \"1 vCPU\", got {value!r}")
        return None
    return str(value)


def _sidecars(r: Reader, node: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    items = r.array(node, "sidecars", f"{PATH}.sidecars", max_items=MAX_CONTAINERS - 1) or ()
    out = []
    for i, item in enumerate(items):
        problems = container_errors(item, f"{PATH}.sidecars[{i}]")
        r.errors += problems
        if not problems:
            out.append(copy.deepcopy(dict(item)))
    return tuple(out)


def _container(r: Reader, item: Any, path: str) -> ContainerOverride:
    if not isinstance(item, Mapping):
        r.error(path, "must be an object")
        return ContainerOverride(name="")
    image = r.string(item, "image", f"{path}.image")
    if image is not None and (problem := image_problem(image)):
        r.error(f"{path}.image", problem)
    return ContainerOverride(
        name=r.string(item, "name", f"{path}.name", required=True) or "",
        image=image,
        environment=_pairs(r, item, "environment", "value", path),
        secrets=_secrets(r, item, path),
        command=_command(r, item, path),
        cpu=r.integer(item, "cpu", f"{path}.cpu", minimum=0, maximum=196608),
        memory=r.integer(item, "memory", f"{path}.memory", minimum=6, maximum=2_000_000),
        memory_reservation=r.integer(item, "memoryReservation", f"{path}.memoryReservation", minimum=6,
                                     maximum=2_000_000),
        port_mappings=_objects(r, item, "portMappings", path, required=("containerPort",)),
        health_check=_health_check(r, item, path),
    )


def _command(r: Reader, item: Mapping[str, Any], path: str) -> tuple[str, ...] | None:
    items = r.array(item, "command", f"{path}.command", max_items=100)
    if items is None:
        return None
    return tuple(r.string({"a": a}, "a", f"{path}.command[{i}]") or "" for i, a in enumerate(items))


def _pairs(r: Reader, item: Mapping[str, Any], key: str, value_key: str, path: str) -> tuple[tuple[str, str], ...] | None:
    """environment ({name, value}) or secrets ({name, valueFrom}), merged by name into the container's."""
    items = r.array(item, key, f"{path}.{key}", max_items=100)
    if items is None:
        return None
    out = []
    for i, entry in enumerate(items):
        where = f"{path}.{key}[{i}]"
        if not isinstance(entry, Mapping):
            r.error(where, f"must be an object with name and {value_key}")
            continue
        name = r.string(entry, "name", f"{where}.name", required=True) or ""
        value = entry.get(value_key)
        if not isinstance(value, str):
            r.error(f"{where}.{value_key}", "is required and must be a string (quote numbers and booleans in YAML)")
            value = ""
        out.append((name, value))
    unique(r, [name for name, _ in out], f"{path}.{key}", "name")
    return tuple(out)


def _secrets(r: Reader, item: Mapping[str, Any], path: str) -> tuple[tuple[str, str], ...] | None:
    pairs = _pairs(r, item, "secrets", "valueFrom", path)
    for i, (_, source) in enumerate(pairs or ()):
        if source and not source.startswith(SECRET_SOURCES):
            r.error(f"{path}.secrets[{i}].valueFrom", "must be the ARN of a Secrets Manager secret or an SSM "
                    f"parameter (secrets by reference only, never values), got {source[:60]!r}")
    return pairs


def _objects(r: Reader, item: Mapping[str, Any], key: str, path: str,
             required: tuple[str, ...]) -> tuple[Mapping[str, Any], ...] | None:
    items = r.array(item, key, f"{path}.{key}", max_items=100)
    if items is None:
        return None
    out = []
    for i, entry in enumerate(items):
        if not isinstance(entry, Mapping):
            r.error(f"{path}.{key}[{i}]", "must be an object")
            continue
        for name in required:
            if name not in entry:
                r.error(f"{path}.{key}[{i}].{name}", "is required")
        out.append(copy.deepcopy(dict(entry)))
    return tuple(out)


def _health_check(r: Reader, item: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    node = r.obj(item, "healthCheck", f"{path}.healthCheck")
    if node is None:
        return None
    if not isinstance(node.get("command"), list) or not node["command"]:
        r.error(f"{path}.healthCheck.command", "is required (for example [\"CMD-SHELL\", \"curl -f "
                "http://localhost/ || exit 1\"])")
    return copy.deepcopy(dict(node))


def unique(r: Reader, keys: list[str], path: str, key: str) -> None:
    seen: set[str] = set()
    for value in keys:
        if value and value in seen:
            r.error(path, f"duplicate {key} {value!r}")
        seen.add(value)
