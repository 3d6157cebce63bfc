"""Task-definition content: the overrides rendered onto a base, and the content hash that says two revisions run
the same thing whatever their ARNs (a Git revert to what runs must not register web:4 = web:2)."""

from __future__ import annotations

import pytest

from ecsbg.domain.model import ContainerOverride
from ecsbg.domain.taskdefs import UnknownContainer, content_hash, registrable, render
from tests.unit.domain import builders as b

APP = ContainerOverride(name="app", image="repo/web:1", environment=(("A", "1"), ("B", "2")), command=("x", "y"))
SIDE = ContainerOverride(name="side", image="repo/envoy:2")
BASE = {**b.BASE_CONTENT, "containerDefinitions": [*b.BASE_CONTENT["containerDefinitions"],
                                                   {"name": "side", "image": "repo/envoy:1"}]}
OTHER_BASE = {**BASE, "cpu": "512"}


@pytest.mark.parametrize(("left", "right", "equal"), [
    ((BASE, [APP, SIDE]), (BASE, [SIDE, APP]), True),
    ((BASE, [APP]), (BASE, [ContainerOverride("app", "repo/web:1", (("B", "2"), ("A", "1")), ("x", "y"))]), True),
    ((BASE, [APP]), (OTHER_BASE, [APP]), False),
    ((BASE, [APP]), (BASE, [ContainerOverride("app", "repo/web:1", APP.environment, ("y", "x"))]), False),
    ((BASE, [SIDE]), (BASE, [ContainerOverride("side", "repo/envoy:2", environment=())]), True),
    ((BASE, [ContainerOverride("app", image="repo/web:1.4.1")]), (BASE, []), True),
], ids=["container-order", "environment-order", "other-base-content", "command-order", "empty-env-is-unset",
        "override-equal-to-base-changes-nothing"])
def test_content_hash_of_rendered_overrides(left, right, equal):
    assert (content_hash(render(*left)) == content_hash(render(*right))) is equal
    assert len(content_hash(render(*left))) == 16


def test_a_revert_renders_the_content_that_runs():
    """web:2 = web:1 + image 1.28; web:3 = web:2 + image 1.29; reverting the spec to 1.28 on base web:3 gives web:2's
    content: the same hash, whatever the ARN of the base it was rendered from."""
    web2 = render(BASE, [ContainerOverride("app", image="repo/web:1.28")])
    web3 = render(web2, [ContainerOverride("app", image="repo/web:1.29")])
    reverted = render(web3, [ContainerOverride("app", image="repo/web:1.28")])
    assert content_hash(reverted) == content_hash(web2) != content_hash(web3)


def test_read_only_fields_of_a_description_do_not_count():
    described = {**BASE, "taskDefinitionArn": "arn:...:task-definition/web:9", "revision": 9, "status": "ACTIVE",
                 "registeredAt": 1, "requiresAttributes": [{"name": "x"}]}
    assert registrable(described) == BASE
    assert content_hash(described) == content_hash(BASE)


def test_environment_merges_by_name_and_render_does_not_touch_the_base():
    before = repr(BASE)
    out = render(BASE, [ContainerOverride("app", environment=(("LOG_LEVEL", "debug"), ("NEW", "1")))])
    assert out["containerDefinitions"][0]["environment"] == [{"name": "LOG_LEVEL", "value": "debug"},
                                                             {"name": "NEW", "value": "1"}]
    assert repr(BASE) == before


def test_unknown_container_names_the_containers():
    with pytest.raises(UnknownContainer, match=r"'worker'.*containers: app, side"):
        render(BASE, [ContainerOverride("worker", image="x:1")])


AGENT = {"name": "agent", "image": "repo/agent:7", "essential": False}


def test_per_release_fields_are_rendered_and_secrets_merge_by_name():
    base = {**BASE, "containerDefinitions": [{**BASE["containerDefinitions"][0],
                                              "secrets": [{"name": "KEEP", "valueFrom": "arn:aws:ssm:x"},
                                                          {"name": "DB", "valueFrom": "arn:aws:ssm:old"}]},
                                             BASE["containerDefinitions"][1]]}
    override = ContainerOverride(name="app", secrets=(("DB", "arn:aws:ssm:new"), ("API", "arn:aws:ssm:api")),
                                 cpu=256, memory=512, memory_reservation=128,
                                 port_mappings=({"containerPort": 8080},), health_check={"command": ["CMD", "x"]})
    content = render(base, [override], cpu="1024", memory="2048")
    app = content["containerDefinitions"][0]
    assert app["secrets"] == [{"name": "KEEP", "valueFrom": "arn:aws:ssm:x"}, {"name": "DB", "valueFrom": "arn:aws:ssm:new"},
                              {"name": "API", "valueFrom": "arn:aws:ssm:api"}]
    assert (app["cpu"], app["memory"], app["memoryReservation"]) == (256, 512, 128)
    assert app["portMappings"] == [{"containerPort": 8080}] and app["healthCheck"] == {"command": ["CMD", "x"]}
    assert (content["cpu"], content["memory"]) == ("1024", "2048")


def test_a_sidecar_renders_the_same_whether_the_base_has_it_or_not():
    """Attempt 2's base is what attempt 1 deployed (with the sidecar): the content, so the hash, must not change."""
    first = render(BASE, [APP], sidecars=[AGENT])
    assert [c["name"] for c in first["containerDefinitions"]] == ["app", "side", "agent"]
    deployed = {**first, "taskDefinitionArn": "arn:aws:ecs:us-east-1:111122223333:task-definition/web:43"}
    assert render(deployed, [APP], sidecars=[AGENT]) == first
    changed = render(deployed, [APP], sidecars=[{**AGENT, "image": "repo/agent:8"}])
    assert changed["containerDefinitions"][2]["image"] == "repo/agent:8" and len(changed["containerDefinitions"]) == 3
