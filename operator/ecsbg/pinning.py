"""One image, promoted: the I/O half of a wave's digest pinning (the pure half is domain.waves.images).

At the start of the attempt of a new spec (images.pending says so) the loop asks this module for the digests:
- whether: the wave's `spec.images.resolveDigests`, or any target's EcsReleasePolicy with `images.resolveDigests`
  (the project's rule for releases: a target whose child would pin its tags at its own start must get the digests
  the whole wave deploys instead, or a tag moved between waves would split the rollout);
- as whom: each distinct reference is resolved once, with the identity of the first target in wave order that
  deploys it, as that target's child release would resolve it (the target's role, or its policy's role and
  session; the policy's registry credentials). ECR is asked in the registry's own region (the host names it), so
  a per-region registry is resolved where it lives. A target the policy refuses lends no identity (its child is
  refused with its own reason); a reference only refused targets deploy stays a tag;
- through: the registry seam (aws.digests.ImageDigests), never ECS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecsbg import gating
from ecsbg.aws.digests import ImageDigests
from ecsbg.domain.model import ReleaseSpec
from ecsbg.domain.parsing import InvalidSpec, parse_release
from ecsbg.domain.shape import child, text
from ecsbg.domain.waves import children as kids
from ecsbg.domain.waves import images
from ecsbg.domain.waves.model import WaveSpec
from ecsbg.domain.waves.parsing import InvalidWave, parse_wave


async def resolve(body: Mapping[str, Any], digests: ImageDigests | None,
                  policy: gating.PolicyContext | None) -> dict[str, str] | images.Unresolved | None:
    """image -> digest for this pass to pin and record, why they cannot be resolved, or None (nothing to resolve
    now: not the start of a new spec's attempt, nothing with a tag, or nobody asks for digests)."""
    try:
        spec = parse_wave(body)
    except InvalidWave:
        return None  # the pass reports it
    rendered = kids.rendered(spec)
    wanted = images.pending(spec, child(body, "status"), rendered)
    if wanted is None:
        return None
    admitted = await _admitted(body, spec, rendered, policy)
    if not spec.resolve_digests and not any(r.image_rules and r.image_rules.resolve_digests
                                            for r in admitted.values()):
        return None
    if digests is None:
        return images.Unresolved(("this operator has no image registry client",))
    found: dict[str, str] = {}
    problems: list[str] = []
    for image, targets in wanted.items():
        who = next((t for t in targets if t in admitted), None)
        if who is None:
            continue
        release = admitted[who]
        try:
            found[image] = await digests.digest(image, release.target, release.registry_credentials)
        except LookupError as exc:  # every reference is tried, so one pass names every tag that is missing
            problems.append(f"{image} (resolved as target {who!r}): {exc}")
    return images.Unresolved(tuple(problems)) if problems else found


async def _admitted(body: Mapping[str, Any], spec: WaveSpec, rendered: list[tuple[str, dict[str, Any]]],
                    policy: gating.PolicyContext | None) -> dict[str, ReleaseSpec]:
    """Each target's child as its own release would be admitted (role, session, image rules, registry
    credentials), in wave order; a target that would be refused is left out."""
    namespace, name = text(child(body, "metadata").get("namespace")), text(child(body, "metadata").get("name"))
    out: dict[str, ReleaseSpec] = {}
    for target, child_spec in rendered:
        release_body = {"metadata": {"namespace": namespace, "name": kids.child_name(name, target)},
                        "spec": child_spec}
        try:
            release = parse_release(release_body)
            if policy is not None:
                release, _ = await gating.admit(release_body, release, policy)
        except InvalidSpec:  # PolicyRefused too
            continue
        out[target] = release
    return out
