"""EcsReleaseWave parsing: each bad input gets its own reason (and, in a pass, no child)."""

from __future__ import annotations

import pytest

from ecsbg.domain.waves.children import child_spec, with_registry
from ecsbg.domain.waves.parsing import InvalidWave, duration_seconds, parse_requests, parse_wave
from tests.waves.world import World, wave_body

GOOD = [{"name": "one", "targets": ["t0"], "gate": {"bake": "1m"}}, {"name": "two", "selector": {"matchLabels": {
    "tier": "two"}}, "maxParallel": 2}]


def test_a_good_wave_resolves_names_and_selectors_in_order() -> None:
    spec = parse_wave(wave_body(GOOD))
    assert [(s.name, s.targets, s.max_parallel, s.gate.bake_seconds) for s in spec.steps] == [
        ("one", ("t0",), 0, 60), ("two", ("t3", "t4"), 2, 0)]


@pytest.mark.parametrize("waves,targets,reason,fragment", [
    ([{"name": "a", "targets": ["t0", "t0"]}], None, "DuplicateTarget", "listed twice"),
    ([{"name": "a", "targets": ["t0"]}, {"name": "b", "targets": ["t0"]}], None, "DuplicateTarget", "already in wave"),
    ([{"name": "a", "targets": ["t0"]}], [{"name": "t0", "region": "us-east-1", "cluster": "c", "service": "s"},
                                          {"name": "t1", "region": "us-east-1", "cluster": "c", "service": "s"}],
     "DuplicateTarget", "same service"),
    ([{"name": "a", "targets": ["nope"]}], None, "UnknownTarget", "no target named 'nope'"),
    ([{"name": "a", "selector": {"matchLabels": {"tier": "none"}}}], None, "EmptyWave", "has no target"),
    ([{"name": "a", "targets": []}], None, "EmptyWave", "has no target"),
    ([{"name": "a", "targets": ["t0"], "gate": {}}], None, "EmptyGate", "needs bake, analysis or approval"),
    ([{"name": "a", "targets": ["t0"], "gate": {"bake": "ten minutes"}}], None, "InvalidSpec", "a duration"),
    ([], None, "InvalidSpec", "spec.waves"),
])
def test_bad_input_has_its_own_reason(waves, targets, reason, fragment) -> None:
    with pytest.raises(InvalidWave) as caught:
        parse_wave(wave_body(waves, targets))
    assert caught.value.reason == reason and fragment in str(caught.value)


@pytest.mark.parametrize("problem,reason", [
    ({"template": {"taskDefinition": {"containers": [{"name": "app", "image": "web:latest"}]},
                   "strategy": {"type": "BlueGreen"}}}, "InvalidTemplate"),
    ({"claims": True}, "TargetOwnedByRelease"),
    ({"foreign": True}, "TargetOwnedByRelease"),
    ({"waves": [{"name": "a", "targets": ["t0"], "gate": {}}]}, "EmptyGate"),
])
def test_an_invalid_wave_creates_no_child_and_says_why(problem, reason) -> None:
    body = wave_body(problem.get("waves", GOOD))
    if "template" in problem:
        body["spec"]["template"] = problem["template"]
    world = World(body)
    if problem.get("claims"):
        world.claims[("us-east-1", "demo", "s0")] = [("2026-01-01T00:00:00Z", "ns/hand-made", "")]
    if problem.get("foreign"):
        world.children["w-t0"] = {"metadata": {"name": "w-t0", "labels": {}}, "spec": {}}
    out = world.step()
    assert out.writes == () and out.status["phase"] == "Invalid"
    stalled = next(c for c in out.status["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == reason and [e.reason for e in out.events] == [reason]
    assert world.step().events == ()  # announced once


def test_overrides_merge_and_the_image_registry_is_per_target() -> None:
    spec = parse_wave(wave_body([{"name": "one", "targets": ["t0"]}], [{
        "name": "t0", "region": "eu-west-1", "cluster": "c", "service": "s",
        "imageRegistry": "444455556666.dkr.ecr.eu-west-1.amazonaws.com",
        "roleArn": "arn:aws:iam::444455556666:role/deployer", "overrides": {"strategy": {"bakeTimeInMinutes": 1}}}]))
    rendered = child_spec(spec.template, spec.targets["t0"])
    assert rendered["taskDefinition"]["containers"][0]["image"] == "444455556666.dkr.ecr.eu-west-1.amazonaws.com/web:2"
    assert rendered["strategy"] == {"type": "BlueGreen", "bakeTimeInMinutes": 1}
    assert rendered["target"] == {"region": "eu-west-1", "cluster": "c", "service": "s",
                                  "roleArn": "arn:aws:iam::444455556666:role/deployer"}
    assert spec.template["strategy"] == {"type": "BlueGreen"}  # the template itself is untouched
    assert with_registry("nginx:1.2", "r.example") == "r.example/nginx:1.2"


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("10m", 600), ("1h30m", 5400), ("0s", 0), ("", None),
                                          ("5", None), ("1d", None)])
def test_durations(text, seconds) -> None:
    assert duration_seconds(text) == seconds


def test_requests_name_the_attempt_and_the_wave() -> None:
    ok = parse_requests({"ecsbg.dev/approve": "2:staging", "ecsbg.dev/abort": "3"})
    assert ok.approve == {(2, "staging")} and ok.abort == {3} and not ok.problems
    bad = parse_requests({"ecsbg.dev/approve": "yes", "ecsbg.dev/abort": "0"})
    assert not bad.approve and not bad.abort and len(bad.problems) == 2
