"""Task-definition content: the registrable fields of a revision, the `containers` overrides applied to them,
and the content hash that says two revisions are the same (docs/design.md "Attempts, hashes and idempotency").

Two revisions with equal content run the same thing whatever their ARNs: `web:4` registered from a Git revert
equals `web:2`. So the ecsbg.dev/taskdef-hash tag, the reuse of a registered revision and the "nothing to
deploy" check all compare content, never the ARN of the base it was derived from.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from ecsbg.domain.hashing import digest
from ecsbg.domain.model import ContainerOverride

# RegisterTaskDefinition input members that a described TaskDefinition also carries (botocore 1.44.5; a unit
# test compares this with the model so a new registrable field is not silently dropped). `tags` come from the
# DescribeTaskDefinition response's top level. Everything else on TaskDefinition is read-only (taskDefinitionArn,
# revision, status, requiresAttributes, compatibilities, registeredAt/By, deregisteredAt, deleteRequestedAt).
REGISTRABLE_FIELDS = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
    "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
    "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform",
    "enableFaultInjection", "trustedExecutionConfiguration",
)  # fmt: skip


class UnknownContainer(ValueError):
    """An override names a container the base task definition does not have."""


def registrable(task_definition: Mapping[str, Any]) -> dict[str, Any]:
    """The registrable fields of a described TaskDefinition (a deep copy)."""
    return {k: copy.deepcopy(task_definition[k]) for k in REGISTRABLE_FIELDS if k in task_definition}


def render(base: Mapping[str, Any], containers: Iterable[ContainerOverride], *, cpu: str | None = None,
           memory: str | None = None, sidecars: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The registrable content of `base` with the overrides applied (environment and secrets merged by name, the
    rest replaced), the task's cpu/memory set and the sidecars added."""
    content = registrable(base)
    if cpu is not None:
        content["cpu"] = cpu
    if memory is not None:
        content["memory"] = memory
    by_name = {c.get("name"): c for c in content.get("containerDefinitions", [])}
    for sidecar in sidecars:
        # the spec owns its sidecars whole: one the base already has (an earlier attempt added it) is replaced,
        # so every attempt renders the same content from a base that carries it or not
        defined = copy.deepcopy(dict(sidecar))
        listed = content.setdefault("containerDefinitions", [])
        at = next((n for n, c in enumerate(listed) if c.get("name") == defined.get("name")), None)
        if at is None:
            listed.append(defined)
        else:
            listed[at] = defined
    for override in containers:
        container = by_name.get(override.name)
        if container is None:
            names = ", ".join(sorted(str(n) for n in by_name)) or "none"
            raise UnknownContainer(f"container {override.name!r} is not in task definition "
                                   f"{base.get('taskDefinitionArn') or base.get('family')} (containers: {names})")
        _apply(container, override)
    return content


def content_hash(content: Mapping[str, Any]) -> str:
    """Hash of registrable content. Empty values are dropped and environments sorted by name first: ECS may
    describe an omitted list as `[]`, and the order of environment variables means nothing."""
    return digest(_normal(registrable(content)))


def _apply(container: dict[str, Any], override: ContainerOverride) -> None:
    if override.image is not None:
        container["image"] = override.image
    if override.command is not None:
        container["command"] = list(override.command)
    if override.environment is not None:
        container["environment"] = _merged(container.get("environment", []), override.environment, "value")
    if override.secrets is not None:
        container["secrets"] = _merged(container.get("secrets", []), override.secrets, "valueFrom")
    for key, value in (("cpu", override.cpu), ("memory", override.memory),
                       ("memoryReservation", override.memory_reservation)):
        if value is not None:
            container[key] = value
    if override.port_mappings is not None:
        container["portMappings"] = [copy.deepcopy(dict(p)) for p in override.port_mappings]
    if override.health_check is not None:
        container["healthCheck"] = copy.deepcopy(dict(override.health_check))


def _merged(current: Iterable[Mapping[str, Any]], pairs: Iterable[tuple[str, str]], key: str) -> list[dict[str, Any]]:
    """Name/value lists (environment, secrets): an override replaces the entry of its name or is appended."""
    out = [dict(e) for e in current]
    index = {e.get("name"): i for i, e in enumerate(out)}
    for name, value in pairs:
        if name in index:
            out[index[name]][key] = value
        else:
            index[name] = len(out)
            out.append({"name": name, key: value})
    return out


def _normal(value: Any) -> Any:
    if isinstance(value, Mapping):
        out = {str(k): _normal(v) for k, v in value.items()}
        if isinstance(out.get("environment"), list):
            out["environment"] = sorted(out["environment"], key=lambda e: str(e.get("name")))
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value
