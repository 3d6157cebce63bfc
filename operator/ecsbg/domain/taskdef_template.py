"""spec.taskDefinition.template: a whole task definition in the RegisterTaskDefinition shape (what ecspresso
users keep as taskdef.json). The checks here are the ones a person needs named before anything reaches AWS: the
members RegisterTaskDefinition takes, a family and containers with names and images, the size ECS accepts. Types
and enums of every member are checked against botocore's model by ecsbg.aws.shapes (the domain stays pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ecsbg.domain.taskdefs import REGISTRABLE_FIELDS
from ecsbg.domain.validation import image_problem

MEMBERS = frozenset(REGISTRABLE_FIELDS) | {"tags"}
FAMILY = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")  # [doc: RegisterTaskDefinition] family
MAX_BYTES = 64 * 1024  # [doc: Amazon ECS service quotas] task definition size, not adjustable
MAX_CONTAINERS = 10  # [doc: Amazon ECS service quotas] containers per task definition


def template_errors(template: Any, path: str) -> list[str]:
    if not isinstance(template, Mapping):
        return [f"{path}: must be an object (the RegisterTaskDefinition request shape)"]
    errors = [f"{path}.{key}: not a RegisterTaskDefinition member (members: {', '.join(sorted(MEMBERS))})"
              for key in sorted(template) if key not in MEMBERS]
    family = template.get("family")
    if not isinstance(family, str) or not FAMILY.match(family):
        errors.append(f"{path}.family: required, up to 255 letters, digits, hyphens and underscores")
    containers = template.get("containerDefinitions")
    if not isinstance(containers, list) or not containers or len(containers) > MAX_CONTAINERS:
        errors.append(f"{path}.containerDefinitions: required, 1 to {MAX_CONTAINERS} containers")
        containers = []
    names = [c.get("name") for c in containers if isinstance(c, Mapping)]
    for i, container in enumerate(containers):
        errors += container_errors(container, f"{path}.containerDefinitions[{i}]")
    duplicates = sorted({str(n) for n in names if names.count(n) > 1})
    if duplicates:
        errors.append(f"{path}.containerDefinitions: container names must be unique ({', '.join(duplicates)})")
    size = len(json.dumps(template, separators=(",", ":")).encode())
    if size > MAX_BYTES:
        errors.append(f"{path}: {size} bytes; ECS accepts at most {MAX_BYTES} (64 KiB, a quota that cannot be "
                      "raised): move large values to Secrets Manager, SSM parameters or environmentFiles")
    return errors


def container_errors(container: Any, where: str) -> list[str]:
    """A container definition (a template's, or a sidecar): an object with a name and an allowed image."""
    if not isinstance(container, Mapping):
        return [f"{where}: must be an object (a RegisterTaskDefinition container definition)"]
    errors = []
    if not isinstance(container.get("name"), str) or not container.get("name"):
        errors.append(f"{where}.name: required")
    image = container.get("image")
    if not isinstance(image, str) or not image:
        errors.append(f"{where}.image: required")
    elif problem := image_problem(image):
        errors.append(f"{where}.image: {problem}")
    return errors


def template_images(template: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(c.get("image")) for c in template.get("containerDefinitions") or [] if isinstance(c, Mapping))
