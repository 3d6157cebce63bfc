"""One image, promoted, end to end: a release wave under an EcsReleasePolicy with images.resolveDigests resolves
its tag once, in a real OCI registry (Debian's docker-registry), and wave two deploys that digest after the tag
was moved while wave one's gate waited. Real kopf on the dev cluster, the children deploy to the ECS emulator."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.plugins.ecs import seed_service
from tests.policy.world import GV, A, PolicyWorld, ecs_client, in_account, policy, registered_images

pytestmark = pytest.mark.slow


def _wave(world: PolicyWorld, namespace: str, name: str) -> dict[str, Any]:
    obj = world.cluster.get(GV, "ecsreleasewaves", namespace, name) or {}
    return dict(obj.get("status") or {})


def _wait_wave(world: PolicyWorld, namespace: str, name: str, *phases: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline, status = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        status = _wave(world, namespace, name)
        if status.get("phase") in phases:
            return status
        time.sleep(0.05)
    raise AssertionError(f"{namespace}/{name}: timed out waiting for {phases}: {status}")


def test_a_wave_resolves_its_tag_once_and_wave_two_deploys_that_digest_after_the_tag_moved(
        world: PolicyWorld, monkeypatch: pytest.MonkeyPatch, oci_registry: Any):
    team = world.namespace("wave")
    body = policy("wave", {"names": [team]}, A, None)
    body["spec"]["images"] = {"resolveDigests": True, "registries": [oci_registry.host]}
    world.add_policy(body)
    repository = f"team/wave-{world.tag}"
    first = oci_registry.push(repository, "v1", "build one")
    in_account(monkeypatch, A)
    client = ecs_client(world.ecs.url, A)
    for service in ("wv-one", "wv-two"):
        seed_service(client, service=service)
    seeded = len(world.ecs.requests)
    world.start((team,))
    tagged = f"{oci_registry.host}/{repository}:v1"
    cluster = f"arn:aws:ecs:us-east-1:{A}:cluster/demo"  # names the account the policy allows
    world.cluster.apply({
        "apiVersion": GV, "kind": "EcsReleaseWave", "metadata": {"name": "rollout", "namespace": team},
        "spec": {"template": {"taskDefinition": {"containers": [{"name": "app", "image": tagged}]},
                              "strategy": {"type": "BlueGreen", "bakeTimeInMinutes": 10}},
                 "targets": [{"name": "one", "region": "us-east-1", "cluster": cluster, "service": "wv-one"},
                             {"name": "two", "region": "us-east-1", "cluster": cluster, "service": "wv-two"}],
                 "waves": [{"name": "one", "targets": ["one"], "gate": {"approval": True}},
                           {"name": "two", "targets": ["two"]}]}})
    waiting = _wait_wave(world, team, "rollout", "AwaitingApproval", "Invalid", "Failed")
    assert waiting["phase"] == "AwaitingApproval", waiting
    moved = oci_registry.push(repository, "v1", "build two")  # the tag moves between the waves
    assert moved != first
    world.kubectl("annotate", "-n", team, "ecsreleasewaves/rollout", "ecsbg.dev/approve=1:one")
    done = _wait_wave(world, team, "rollout", "Succeeded", "Invalid", "Failed")
    assert done["phase"] == "Succeeded", done
    pinned = f"{oci_registry.host}/{repository}@{first}"
    for target in ("one", "two"):  # each child's spec, and what ECS runs
        child = world.cluster.get(GV, "ecsbluegreenreleases", team, f"rollout-{target}")
        assert child["spec"]["taskDefinition"]["containers"][0]["image"] == pinned
        (service,) = client.describe_services(cluster="demo", services=[f"wv-{target}"])["services"]
        running = client.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        assert [c["image"] for c in running["containerDefinitions"]] == [pinned]
    assert [{k: d[k] for k in ("image", "digest", "targets")} for d in done["images"]["digests"]] == [
        {"image": tagged, "digest": first, "targets": ["one", "two"]}]
    assert done["images"]["attempt"] == 1
    assert set(registered_images(world, seeded)) == {pinned}  # the moved tag's digest reached nothing
    reasons = [e["reason"] for e in world.events(team) if e["involvedObject"].get("kind") == "EcsReleaseWave"]
    assert reasons.count("ImagesResolved") == 1
