"""Container image references and the policy's image rules (the "what" of an EcsReleasePolicy).

A reference is `[registry/]repository[:tag][@sha256:<64 hex>]`; the registry is the first path component when it
looks like a host (has a `.` or `:`, or is `localhost`), else Docker Hub (`docker.io`), as the Docker/OCI
reference grammar says (distribution/reference `normalize.go`). Pure.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from ecsbg.domain.policy import ImageRules

DEFAULT_REGISTRY = "docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"


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
