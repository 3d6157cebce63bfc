"""One image, promoted: a wave pins each rendered image tag to one digest, once per spec, for every target.

Which references: every distinct image a target's child would deploy (`taskDefinition.containers[].image` after
the target's `imageRegistry` and overrides, and `taskDefinition.template.containerDefinitions[].image`) that has a
tag and no digest. A per-target registry renders another reference, resolved on its own (replicas are expected
to answer the same digest; a difference is recorded and announced, never hidden).

When: at the start of the attempt a new spec starts, if `spec.images.resolveDigests` or the EcsReleasePolicy of
any target says `images.resolveDigests` (the loop decides that, ecsbg.pinning). The digests are recorded in
`status.images` with the spec hash they belong to and reused for as long as the spec is unchanged: a restart, a
later pass or a `retry` of the same spec never resolves again, so a tag moved mid-rollout changes nothing. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ecsbg.domain.images import parse_image, pinned
from ecsbg.domain.shape import mapping, text
from ecsbg.domain.waves.model import WaveSpec

REASON = "ImageDigestUnresolved"  # the condition reason (and Warning Event) when a tag cannot be resolved


@dataclass(frozen=True)
class Unresolved:
    """What the loop could not resolve, one line per reference: no child is written in this attempt."""

    problems: tuple[str, ...]

    @property
    def message(self) -> str:
        return f"image digests unresolved, no target started: {'; '.join(self.problems)}"


def container_images(spec: Mapping[str, Any]) -> list[str]:
    """The images a child spec names, in order (containers, then the template's container definitions)."""
    task = mapping(spec.get("taskDefinition"))
    found = [c.get("image") for c in task.get("containers") or [] if isinstance(c, Mapping)]
    found += [c.get("image") for c in mapping(task.get("template")).get("containerDefinitions") or []
              if isinstance(c, Mapping)]
    return [image for image in found if isinstance(image, str) and image]


def references(rendered: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, tuple[str, ...]]:
    """Each distinct image with a tag and no digest -> the targets rendering it, from (target, child spec) pairs
    in wave order: the first target is the one whose identity resolves it (ecsbg.pinning)."""
    out: dict[str, list[str]] = {}
    for target, spec in rendered:
        for image in container_images(spec):
            if parse_image(image).digest is None and target not in out.setdefault(image, []):
                out[image].append(target)
    return {image: tuple(targets) for image, targets in out.items()}


def recorded(prior: Mapping[str, Any], spec_hash: str) -> dict[str, str] | None:
    """image -> digest recorded for this spec (None: nothing recorded for it)."""
    block = mapping(prior.get("images"))
    if not block or block.get("specHash") != spec_hash:
        return None
    return {text(d.get("image")): text(d.get("digest")) for d in map(mapping, block.get("digests") or [])
            if d.get("image") and d.get("digest")}


def pending(spec: WaveSpec, prior: Mapping[str, Any], rendered: Iterable[tuple[str, Mapping[str, Any]]]
            ) -> dict[str, tuple[str, ...]] | None:
    """The references this pass must consider resolving, or None: only at the start of the attempt of a new spec
    (an attempt in progress, or a retry of the same spec, keeps what its spec's start decided) when nothing is
    recorded for the spec yet."""
    if prior.get("attempt") and prior.get("specHash") == spec.spec_hash:
        return None
    if recorded(prior, spec.spec_hash) is not None:
        return None
    return references(rendered) or None


def block(spec_hash: str, attempt: int, now: datetime, digests: Mapping[str, str],
          rendered: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """status.images: the digests of the spec, which attempt resolved them and when, and who deploys each."""
    return {"specHash": spec_hash, "attempt": attempt, "resolvedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "digests": [{"image": image, "digest": digest, "targets": list(rendered.get(image, ()))}
                        for image, digest in digests.items()]}


def pins(digests: Mapping[str, str]) -> dict[str, str]:
    """image as rendered -> `name@sha256:...`, what each child spec carries instead."""
    return {image: pinned(image, digest) for image, digest in digests.items()}


def pin_spec(spec: dict[str, Any], pinned_images: Mapping[str, str]) -> dict[str, Any]:
    """The child spec with each pinned image replaced in place (a copy is the caller's: child_spec makes one)."""
    if not pinned_images:
        return spec
    task = spec.get("taskDefinition")
    if not isinstance(task, dict):
        return spec
    containers = list(task.get("containers") or [])
    template = task.get("template") if isinstance(task.get("template"), dict) else {}
    for container in [*containers, *(template.get("containerDefinitions") or [])]:
        if isinstance(container, dict) and container.get("image") in pinned_images:
            container["image"] = pinned_images[container["image"]]
    return spec


def differing(digests: Mapping[str, str]) -> list[str]:
    """Replicas that disagree: the same repository and tag in several registries resolved to several digests."""
    seen: dict[tuple[str, str | None], dict[str, str]] = {}
    for image, digest in digests.items():
        ref = parse_image(image)
        seen.setdefault((ref.repository, ref.tag), {})[image] = digest
    return [", ".join(f"{image} -> {digest}" for image, digest in found.items())
            for found in seen.values() if len(set(found.values())) > 1]
