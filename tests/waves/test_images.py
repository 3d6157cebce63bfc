"""One image, promoted (domain.waves.images and the pass): which references a wave resolves, when, and that every
child carries the digests recorded for the spec, whatever happens to the tags afterwards."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ecsbg.domain.waves import children as kids
from ecsbg.domain.waves import images
from ecsbg.domain.waves.parsing import InvalidWave, parse_wave
from tests.waves.world import IMAGE, World, wave_body

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
EU = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
WAVES = [{"name": "one", "targets": ["t0"]}, {"name": "two", "targets": ["t1", "t3"]}]
SIDECAR = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"


def _spec(waves: list[dict[str, Any]] = WAVES, targets: list[dict[str, Any]] | None = None, **template: Any):
    return parse_wave(wave_body(waves, targets, **template))


def _targets(**extra: dict[str, Any]) -> list[dict[str, Any]]:
    base = [{"name": f"t{i}", "region": "us-east-1" if i < 3 else "eu-west-1", "cluster": "demo",
             "service": f"s{i}"} for i in range(5)]
    return [{**t, **extra.get(t["name"], {})} for t in base]


@pytest.mark.parametrize("case, targets, template, expected", [
    ("one tag, every target, in wave order", None, {}, {IMAGE: ("t0", "t1", "t3")}),
    ("a registry per region renders its own reference", _targets(t3={"imageRegistry": EU}), {},
     {IMAGE: ("t0", "t1"), f"{EU}/web:2": ("t3",)}),
    ("a digest is never resolved", None,
     {"taskDefinition": {"containers": [{"name": "app", "image": f"{IMAGE.rsplit(':', 1)[0]}@{D1}"}]}}, {}),
    ("an override that changes the image", _targets(t1={"overrides": {"taskDefinition": {"containers": [
        {"name": "app", "image": "r.example/web:canary"}]}}}), {},
     {IMAGE: ("t0", "t3"), "r.example/web:canary": ("t1",)}),
    ("the template form's container definitions", None, {"taskDefinition": {"template": {
        "family": "web", "containerDefinitions": [{"name": "app", "image": IMAGE}, {"name": "log", "image": SIDECAR}]}}},
     {IMAGE: ("t0", "t1", "t3"), SIDECAR: ("t0", "t1", "t3")}),
    ("an ARN names no image", None, {"taskDefinition": {"arn": "arn:aws:ecs:us-east-1:1:task-definition/web:3"}}, {}),
])
def test_references_are_the_distinct_rendered_tags_with_the_targets_deploying_them(case, targets, template, expected):
    spec = _spec(WAVES, targets, **template)
    assert images.references(kids.rendered(spec)) == expected, case


def _recorded(spec_hash: str, attempt: int = 1) -> dict[str, Any]:
    return {"specHash": spec_hash, "attempt": attempt, "digests": [{"image": IMAGE, "digest": D1}]}


@pytest.mark.parametrize("case, prior, expected", [
    ("a new wave", lambda h: {}, {IMAGE: ("t0", "t1", "t3")}),
    ("a new spec", lambda h: {"attempt": 1, "specHash": "old", "images": _recorded("old")},
     {IMAGE: ("t0", "t1", "t3")}),
    ("the attempt in progress", lambda h: {"attempt": 1, "specHash": h, "images": _recorded(h)}, None),
    ("an attempt started without pinning keeps its tags", lambda h: {"attempt": 2, "specHash": h}, None),
    ("recorded by a process that died before the attempt's status", lambda h: {
        "attempt": 1, "specHash": "old", "images": _recorded(h, 2)}, None),
    ("a spec that failed to resolve before is tried again", lambda h: {
        "attempt": 1, "specHash": "old", "phase": "Invalid"}, {IMAGE: ("t0", "t1", "t3")}),
])
def test_tags_are_resolved_only_at_the_start_of_a_new_specs_attempt(case, prior, expected):
    spec = _spec()
    assert images.pending(spec, prior(spec.spec_hash), kids.rendered(spec)) == expected, case


def test_pinning_replaces_the_rendered_images_and_only_them():
    spec = {"taskDefinition": {"containers": [{"name": "app", "image": IMAGE}, {"name": "log", "image": SIDECAR}]}}
    pinned = images.pin_spec(copy.deepcopy(spec), images.pins({IMAGE: D1}))
    assert [c["image"] for c in pinned["taskDefinition"]["containers"]] == [
        f"111122223333.dkr.ecr.us-east-1.amazonaws.com/web@{D1}", SIDECAR]


@pytest.mark.parametrize("digests, differing", [
    ({IMAGE: D1, f"{EU}/web:2": D1}, []),  # replicas agree
    ({IMAGE: D1, f"{EU}/web:2": D2}, [f"{IMAGE} -> {D1}, {EU}/web:2 -> {D2}"]),
    ({IMAGE: D1, f"{EU}/api:2": D2}, []),  # another repository
])
def test_replicas_that_answer_different_digests_are_named(digests, differing):
    assert images.differing(digests) == differing


@pytest.mark.parametrize("value", [{"resolveDigests": "yes"}, ["resolveDigests"]])
def test_spec_images_must_be_a_switch(value):
    body = wave_body(WAVES)
    body["spec"]["images"] = value
    with pytest.raises(InvalidWave, match=r"spec\.images"):
        parse_wave(body)


def _images_of(world: World) -> dict[str, str]:
    return {name: c["spec"]["taskDefinition"]["containers"][0]["image"] for name, c in world.children.items()}


def test_every_child_deploys_the_digest_the_attempt_recorded_and_a_moved_tag_changes_nothing():
    world = World(wave_body(WAVES, _targets(t3={"imageRegistry": EU})))
    out = world.step(resolved={IMAGE: D1, f"{EU}/web:2": D1})
    assert out.status["images"]["digests"] == [
        {"image": IMAGE, "digest": D1, "targets": ["t0", "t1"]},
        {"image": f"{EU}/web:2", "digest": D1, "targets": ["t3"]}]
    assert out.status["images"]["attempt"] == 1 and out.status["images"]["resolvedAt"]
    assert [e.reason for e in out.events][:2] == ["AttemptStarted", "ImagesResolved"]
    assert _images_of(world) == {"w-t0": f"111122223333.dkr.ecr.us-east-1.amazonaws.com/web@{D1}"}
    world.finish("w-t0")
    out = world.step()  # later passes: nothing resolved, the recorded digests pinned
    assert _images_of(world) == {"w-t0": f"111122223333.dkr.ecr.us-east-1.amazonaws.com/web@{D1}",
                                 "w-t1": f"111122223333.dkr.ecr.us-east-1.amazonaws.com/web@{D1}",
                                 "w-t3": f"{EU}/web@{D1}"}
    assert world.created == ["w-t0", "w-t1", "w-t3"] and world.patched == []  # w-t0 still current
    assert "ImagesResolved" not in [e.reason for e in out.events]
    restarted = world.body["status"]["images"]
    world.step()
    assert world.body["status"]["images"] == restarted and world.patched == []


def test_replicas_disagreeing_are_deployed_as_resolved_and_announced():
    world = World(wave_body(WAVES, _targets(t3={"imageRegistry": EU})))
    out = world.step(resolved={IMAGE: D1, f"{EU}/web:2": D2})
    warning = [e for e in out.events if e.reason == "ImageDigestsDiffer"]
    assert len(warning) == 1 and D1 in warning[0].message and D2 in warning[0].message


def test_an_unresolved_tag_starts_nothing_and_the_next_pass_tries_again():
    world = World(wave_body(WAVES))
    out = world.step(resolved=images.Unresolved((f"{IMAGE} (resolved as target 't0'): manifest unknown",)))
    assert out.writes == () and world.children == {}
    assert out.status["phase"] == "Invalid" and out.status["specHash"] is None and out.status["images"] is None
    stalled = [c for c in out.status["conditions"] if c["type"] == "Stalled"]
    assert stalled[0]["reason"] == "ImageDigestUnresolved" and "manifest unknown" in stalled[0]["message"]
    assert [(e.type, e.reason) for e in out.events] == [("Warning", "ImageDigestUnresolved")]
    spec = parse_wave(world.body)
    assert images.pending(spec, world.body["status"], kids.rendered(spec)) is not None  # asked again
    out = world.step(resolved={IMAGE: D1})  # the tag was pushed
    assert out.status["phase"] == "Progressing" and out.status["attempt"] == 1 and world.created == ["w-t0"]


def test_a_new_spec_resolves_again_and_a_retry_of_the_same_spec_reuses_the_digests():
    world = World(wave_body(WAVES))
    world.step(resolved={IMAGE: D1})
    world.finish("w-t0", "Failed")
    world.step()
    assert world.body["status"]["phase"] == "Failed"
    world.body["metadata"]["annotations"]["ecsbg.dev/retry"] = "1"
    spec = parse_wave(world.body)
    assert images.pending(spec, world.body["status"], kids.rendered(spec)) is None  # a retry: nothing to resolve
    out = world.step()
    assert out.status["attempt"] == 2 and out.status["images"]["attempt"] == 1
    assert _images_of(world)["w-t0"].endswith(D1)
    world.body["spec"]["template"]["strategy"] = {"type": "BlueGreen", "bakeTimeInMinutes": 5}  # a new spec
    world.body["metadata"]["annotations"] = {}
    spec = parse_wave(world.body)
    assert images.pending(spec, world.body["status"], kids.rendered(spec)) == {IMAGE: ("t0", "t1", "t3")}
    out = world.step(resolved={IMAGE: D2})
    assert out.status["attempt"] == 3 and out.status["images"] == {
        "specHash": spec.spec_hash, "attempt": 3, "resolvedAt": out.status["images"]["resolvedAt"],
        "digests": [{"image": IMAGE, "digest": D2, "targets": ["t0", "t1", "t3"]}]}
    assert _images_of(world)["w-t0"].endswith(D2)


def test_a_wave_that_resolves_nothing_keeps_its_tags():
    world = World(wave_body(WAVES))
    out = world.step()
    assert out.status["images"] is None and _images_of(world) == {"w-t0": IMAGE}
