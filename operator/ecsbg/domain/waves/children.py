"""The child EcsBlueGreenRelease of each target: its name, labels, spec and what the wave reads back.

A child's name is deterministic (`<wave>-<target>`), so creating it is idempotent: a second create after a kill
finds it (409) and patches it to the same content. Its `ecsbg.dev/wave-spec-hash` annotation is the hash of the
spec the wave wrote; a child whose annotation matches what the wave wants now is current, whatever attempt
wrote it, which is how progress survives restarts without any memory but the children themselves.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ecsbg.domain.hashing import digest
from ecsbg.domain.ownership import target_key
from ecsbg.domain.parsing import InvalidSpec, parse_release
from ecsbg.domain.shape import child, integer, mapping, text
from ecsbg.domain.waves import images
from ecsbg.domain.waves.model import (
    ANNOTATION_ATTEMPT,
    ANNOTATION_HASH,
    ANNOTATION_ROLLBACK,
    KIND,
    LABEL_STEP,
    LABEL_TARGET,
    LABEL_WAVE,
    Child,
    Target,
    WaveSpec,
)

API_VERSION = "ecsbg.dev/v1alpha1"


def child_name(wave: str, target: str) -> str:
    return f"{wave}-{target}"


def child_spec(template: Mapping[str, Any], target: Target, pins: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The template, the target's overrides merged in (JSON merge patch, RFC 7386: lists replace), its image
    registry applied, each image the wave resolved pinned by digest (`pins`, domain.waves.images), and its
    target."""
    spec = merge_patch(copy.deepcopy(dict(template)), target.overrides)
    if target.image_registry:
        for container in mapping(spec.get("taskDefinition")).get("containers") or []:
            if isinstance(container, dict) and isinstance(container.get("image"), str):
                container["image"] = with_registry(container["image"], target.image_registry)
    spec = images.pin_spec(spec, pins or {})
    spec["target"] = {"region": target.region, "cluster": target.cluster, "service": target.service,
                      **({"roleArn": target.role_arn} if target.role_arn else {})}
    return spec


def rendered(wave: WaveSpec) -> list[tuple[str, dict[str, Any]]]:
    """(target, child spec before pinning) of every target, in wave order (the order targets are started)."""
    return [(name, child_spec(wave.template, wave.targets[name])) for step in wave.steps for name in step.targets]


def merge_patch(base: Any, patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    merged = dict(base) if isinstance(base, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def with_registry(image: str, registry: str) -> str:
    """`registry` in place of the image's registry host (the first path part when it looks like a host)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return f"{registry.rstrip('/')}/{rest}"
    return f"{registry.rstrip('/')}/{image}"


def template_errors(wave: WaveSpec) -> list[tuple[str, str]]:
    """What the release parser refuses in each target's rendered spec: no child is created for any of them."""
    problems = []
    for name, target in wave.targets.items():
        try:
            parse_release({"metadata": {"name": "x"}, "spec": child_spec(wave.template, target)})
        except InvalidSpec as exc:
            problems += [("InvalidTemplate", f"target {name!r}: {error}") for error in exc.errors]
    return problems


def desired_body(body: Mapping[str, Any], step: str, target: Target, spec: Mapping[str, Any], *,
                 attempt: int) -> dict[str, Any]:
    """The whole child for a create (ownerReference, labels, annotations)."""
    meta = child(body, "metadata")
    name = text(meta.get("name"))
    return {
        "apiVersion": API_VERSION, "kind": "EcsBlueGreenRelease",
        "metadata": {
            "name": child_name(name, target.name), "namespace": text(meta.get("namespace")),
            # the wave's own labels too: a sharded install (ECSBG_RELEASE_SELECTOR) serves the children with the wave
            "labels": {**{str(k): str(v) for k, v in mapping(meta.get("labels")).items()},
                       LABEL_WAVE: name, LABEL_STEP: step, LABEL_TARGET: target.name},
            "annotations": {ANNOTATION_HASH: digest(spec), ANNOTATION_ATTEMPT: str(attempt)},
            # controller: the wave owns it (garbage-collected with it); no blockOwnerDeletion, which would need
            # the update permission on the wave's finalizers
            "ownerReferences": [{"apiVersion": API_VERSION, "kind": KIND, "name": name,
                                 "uid": text(meta.get("uid")), "controller": True}],
        },
        "spec": dict(spec),
    }


def _escaped(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")  # RFC 6901


def forward_patch(spec: Mapping[str, Any], *, attempt: int, had_rollback: bool) -> list[dict[str, Any]]:
    """JSON Patch making an existing child current: the spec replaced whole (a merge patch would keep keys the
    new spec dropped) in the same write as its hash annotation, so a child is never half-current."""
    ops = [{"op": "replace", "path": "/spec", "value": dict(spec)},
           {"op": "add", "path": f"/metadata/annotations/{_escaped(ANNOTATION_HASH)}", "value": digest(spec)},
           {"op": "add", "path": f"/metadata/annotations/{_escaped(ANNOTATION_ATTEMPT)}", "value": str(attempt)}]
    if had_rollback:
        ops.append({"op": "remove", "path": f"/metadata/annotations/{_escaped(ANNOTATION_ROLLBACK)}"})
    return ops


def rollback_patch(task_definition_arn: str, *, attempt: int) -> list[dict[str, Any]]:
    """Back to the task definition the child's attempt replaced: a new attempt of the child deploys it."""
    return [{"op": "replace", "path": "/spec/taskDefinition", "value": {"arn": task_definition_arn}},
            {"op": "add", "path": f"/metadata/annotations/{_escaped(ANNOTATION_ROLLBACK)}", "value": str(attempt)}]


def abort_patch(attempt: int) -> list[dict[str, Any]]:
    """The child's own abort request (docs/api.md "Operations on a release"), naming its current attempt."""
    return [{"op": "add", "path": "/metadata/annotations/ecsbg.dev~1abort", "value": str(attempt)}]


def retry_patch(attempt: int) -> list[dict[str, Any]]:
    """The child's own retry request, naming the attempt of it that failed."""
    return [{"op": "add", "path": "/metadata/annotations/ecsbg.dev~1retry", "value": str(attempt)}]


def observe(body: Mapping[str, Any]) -> Child:
    meta, status = child(body, "metadata"), child(body, "status")
    annotations = mapping(meta.get("annotations"))
    rollback = text(annotations.get(ANNOTATION_ROLLBACK))
    owners = [o for o in meta.get("ownerReferences") or [] if isinstance(o, Mapping) and o.get("controller")]
    return Child(
        name=text(meta.get("name")), spec_hash=text(annotations.get(ANNOTATION_HASH)),
        rollback_of=int(rollback) if rollback.isdigit() else None,
        generation=integer(meta.get("generation"), 0), observed_generation=integer(status.get("observedGeneration"), -1),
        phase=text(status.get("phase")) or None, attempt=integer(status.get("attempt"), 0) or None,
        revision=text(status.get("revision")) or None,
        source_task_definition=text(child(status, "source").get("taskDefinitionArn")) or None,
        task_definition_arn=text(child(body, "spec", "taskDefinition").get("arn")) or None,
        owner_uid=text(owners[0].get("uid")) if owners else None,
        abort=text(annotations.get("ecsbg.dev/abort")) or None,
        retry=text(annotations.get("ecsbg.dev/retry")) or None,
    )


def ownership_problems(body: Mapping[str, Any], spec: WaveSpec, claims: Any,
                       foreign: frozenset[str]) -> list[tuple[str, str]]:
    """A target whose service another release claims, or whose child name a release not made by this wave holds:
    `claims(key)` lists (created, "namespace/name", account) per service, like the release ownership index."""
    meta = child(body, "metadata")
    namespace, name = text(meta.get("namespace")), text(meta.get("name"))
    problems = []
    for target in spec.targets.values():
        mine = child_name(name, target.name)
        if mine in foreign:
            problems.append(("TargetOwnedByRelease", f"target {target.name!r}: a release named {mine!r} exists "
                                                     f"and was not created by this wave"))
            continue
        others = [c for c in claims(target_key(child_spec({}, target)["target"])) or ()
                  if len(c) > 1 and c[1] != f"{namespace}/{mine}"]
        if others:
            problems.append(("TargetOwnedByRelease", f"target {target.name!r}: {'/'.join(target.key)} is "
                                                     f"deployed by release {others[0][1]}"))
    return problems
