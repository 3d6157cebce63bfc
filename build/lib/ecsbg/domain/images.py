"""Container image references and the policy's image rules (the "what" of an EcsReleasePolicy).

A reference is `[registry/]repository[:tag][@sha256:<64 hex>]`; the registry is the first path component when it
looks like a host (has a `.` or `:`, or is `localhost`), else Docker Hub (`docker.io`), as the Docker/OCI
reference grammar says (distribution/reference `normalize.go`). Pure.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_REGISTRY = "docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


@dataclass(frozen=True)
class ImageRules:
    """What an EcsReleasePolicy lets a release deploy: all optional, an absent rule allows anything."""

    require_digest: bool = False
    forbidden_tags: tuple[str, ...] = ()
    registries: tuple[str, ...] | None = None
    resolve_digests: bool = False  # pin every tag to its digest at the start of an attempt (aws.digests)


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def ecr(self) -> tuple[str, str] | None:
        """(account, region) of an ECR private registry host `<account>.dkr.ecr.<region>.amazonaws.com[.cn]`."""
        match = _ECR_HOST.match(self.registry)
        return (match.group(1), match.group(2)) if match else None


def pinned(image: str, digest: str) -> str:
    """`image` pinned by digest: `<registry>/<repository>@sha256:...` as written (the tag, now redundant, dropped:
    ECS accepts `repository-url/image@digest`)."""
    name = image.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.partition(":")[0]
    return f"{name}@{digest}"


def parse_image(image: str) -> ImageRef:
    rest, _, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DEFAULT_REGISTRY, rest
    repository, colon, tag = path.rpartition(":") if ":" in path.rsplit("/", 1)[-1] else (path, "", "")
    return ImageRef(registry=registry, repository=repository, tag=tag if colon else None,
                    digest=digest if _DIGEST.match(digest or "") else (digest or None))


def image_problems(image: str, rules: ImageRules) -> list[str]:
    """Why `image` is not allowed by `rules`, one line per broken rule (empty: allowed)."""
    ref = parse_image(image)
    problems = []
    if ref.digest is not None and not _DIGEST.match(ref.digest):
        problems.append(f"{image}: {ref.digest!r} is not a sha256 digest")
    if rules.registries is not None and not any(fnmatch.fnmatchcase(ref.registry, r) for r in rules.registries):
        problems.append(f"{image}: registry {ref.registry} is not in the allowed registries "
                        f"({', '.join(rules.registries) or 'none'})")
    if rules.require_digest and ref.digest is None:
        problems.append(f"{image}: a digest is required (image@sha256:...), tags are mutable")
    if ref.digest is None and ref.tag is not None and any(fnmatch.fnmatchcase(ref.tag, t) for t in rules.forbidden_tags):
        problems.append(f"{image}: tag {ref.tag!r} is mutable and not allowed ({', '.join(rules.forbidden_tags)})")
    return problems


def task_definition_image_problems(container_definitions: Iterable[Mapping[str, Any]], rules: ImageRules) -> list[str]:
    """The same checks on every container of a task definition (one given by ARN, or the one a release renders
    from the service's current task definition): `<container>: <problem>` per broken rule."""
    return [f"container {c.get('name')}: {problem}" for c in container_definitions
            for problem in image_problems(str(c.get("image") or ""), rules)]
