"""ecsbg.gating.promote: spec.promoteFrom read when an attempt starts, then reused; cross-namespace by policy."""

from __future__ import annotations

from typing import Any

import pytest

from ecsbg.domain.decision import Decision, Verdict
from ecsbg.domain.model import (
    ContainerOverride,
    ReleaseSpec,
    Strategy,
    StrategySpec,
    Target,
    TaskDefinitionSource,
)
from ecsbg.gating import PolicyContext, PolicyRefused, PromotionPending, promote

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
SPEC = ReleaseSpec(target=Target("us-east-1", "prod", "web"), spec_hash="h1",
                   task_definition=TaskDefinitionSource(containers=(ContainerOverride("app", image="r.example/web:v1"),)),
                   strategy=StrategySpec(Strategy.BLUE_GREEN, 10))
ALLOWED = Decision(Verdict.ALLOWED, "PolicyAllows", "ok", policy="prod", promote_from=("staging",))


def body(ns: str = "prod", source_ns: str = "staging") -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": "web"},
            "spec": {"promoteFrom": {"namespace": source_ns, "name": "web"}}}


def ctx(source: dict[str, Any] | None) -> PolicyContext:
    async def read(**_: Any) -> str:
        raise AssertionError("no secret")

    return PolicyContext(policies=list, namespace_labels=lambda ns: {}, secrets=type("S", (), {"read": read})(),
                         release_status=lambda ns, name: source if (ns, name) == ("staging", "web") else None)


def succeeded(digest: str, attempt: int = 3) -> dict[str, Any]:
    return {"phase": "Succeeded", "attempt": attempt, "images": [
        {"container": "app", "image": f"r.example/web@{digest}", "digest": digest},
        {"container": "sidecar", "image": f"r.example/log@{digest}", "digest": digest}]}


def test_a_new_attempt_takes_the_sources_images_including_containers_the_spec_does_not_name():
    spec, block = promote(body(), SPEC, ALLOWED, {}, ctx(succeeded(D1)))
    assert [(c.name, c.image) for c in spec.task_definition.containers] == [
        ("app", f"r.example/web@{D1}"), ("sidecar", f"r.example/log@{D1}")]
    assert block["attempt"] == 3 and block["namespace"] == "staging"


def test_the_recorded_images_are_reused_for_the_same_spec_whatever_the_source_does_since():
    _, block = promote(body(), SPEC, ALLOWED, {}, ctx(succeeded(D1)))
    prior = {"specHash": "h1", "promotedFrom": block}
    spec, again = promote(body(), SPEC, ALLOWED, prior, ctx(succeeded(D2, attempt=4)))
    assert again == block and spec.task_definition.containers[0].image == f"r.example/web@{D1}"
    changed = promote(body(), SPEC, ALLOWED, {"specHash": "h0", "promotedFrom": block}, ctx(succeeded(D2, 4)))[1]
    assert changed["attempt"] == 4  # a new spec (new attempt) reads the source again


@pytest.mark.parametrize("source", [None, {"phase": "Deploying", "images": []}, {"phase": "Succeeded"}])
def test_a_source_without_a_succeeded_pinned_attempt_is_waited_for(source):
    with pytest.raises(PromotionPending, match="waiting"):
        promote(body(), SPEC, ALLOWED, {}, ctx(source))


def test_another_namespace_needs_the_policy():
    with pytest.raises(PolicyRefused) as refused:
        promote(body(), SPEC, Decision(Verdict.ALLOWED, "PolicyAllows", "ok", policy="p"), {}, ctx(succeeded(D1)))
    assert refused.value.reason == "PromotionNotAllowed"
    with pytest.raises(PolicyRefused):  # no policy at all: only the release's own namespace
        promote(body(), SPEC, Decision(Verdict.NOT_REQUIRED, "NoPolicy", "-"), {}, ctx(succeeded(D1)))
    same = promote(body(ns="staging"), SPEC, Decision(Verdict.NOT_REQUIRED, "NoPolicy", "-"), {}, ctx(succeeded(D1)))
    assert same[1]["name"] == "web"


async def test_registry_credentials_come_from_dockerconfigjson_secrets_and_a_broken_one_refuses():
    import base64
    import json

    from ecsbg.domain.policy import SecretKeyRef
    from ecsbg.gating import _registry_credentials
    from ecsbg.k8s.secrets import SecretUnavailable

    secrets_by_name = {
        "a": json.dumps({"auths": {"https://r.example": {"auth": base64.b64encode(b"u1:p:1").decode()}}}),
        "b": json.dumps({"auths": {"127.0.0.1:5000": {"username": "u2", "password": "p2"}}}),
        "bad": "not json",
    }

    class Secrets:
        async def read(self, *, namespace: str, name: str, key: str) -> str:
            assert key == ".dockerconfigjson"
            if name not in secrets_by_name:
                raise SecretUnavailable(f"{namespace}/{name}: 404")
            return secrets_by_name[name]

    def decision(*names: str) -> Decision:
        refs = tuple(SecretKeyRef("sys", n, ".dockerconfigjson") for n in names)
        return Decision(Verdict.ALLOWED, "PolicyAllows", "ok", policy="p", registry_credentials=refs)

    assert await _registry_credentials(decision("a", "b"), Secrets()) == (
        ("r.example", "u1", "p:1"), ("127.0.0.1:5000", "u2", "p2"))
    for broken in ("bad", "missing"):
        with pytest.raises(PolicyRefused) as refused:
            await _registry_credentials(decision("a", broken), Secrets())
        assert refused.value.reason == "RegistryCredentialsUnavailable" and broken in str(refused.value)
