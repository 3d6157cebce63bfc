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
