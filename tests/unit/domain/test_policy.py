"""Parsing EcsReleasePolicy bodies and image references."""

from __future__ import annotations

import pytest

from ecsbg.domain.images import parse_image
from ecsbg.domain.policy import ImageRules, InvalidPolicy, parse_policy


def test_full_policy_parses():
    p = parse_policy({"metadata": {"name": "team-a"}, "spec": {
        "namespaceSelector": {"names": ["team-a"], "labelSelector": {"matchLabels": {"team": "a"}}},
        "targets": {"accounts": ["111111111111"], "regions": ["eu-*"]},
        "role": {"arn": "arn:aws:iam::111111111111:role/x", "externalIdSecretRef": {"namespace": "n", "name": "s",
                                                                                    "key": "k"}},
        "images": {"requireDigest": True, "forbiddenTags": ["latest"], "registries": ["r.example"]},
        "promoteFrom": {"namespaces": ["staging"]},
    }})
    assert p.namespace_selector.names == ("team-a",) and p.namespace_selector.match_labels == (("team", "a"),)
    assert p.targets.accounts == ("111111111111",) and p.targets.clusters is None
    assert p.role.external_id.key == "k"
    assert p.images == ImageRules(require_digest=True, forbidden_tags=("latest",), registries=("r.example",))
    assert p.promote_from == ("staging",)


@pytest.mark.parametrize("spec, field", [
    ({}, "namespaceSelector"),
    ({"namespaceSelector": {}, "role": {"arn": "not-an-arn"}}, "role.arn"),
    ({"namespaceSelector": {}, "targets": {"regions": "eu-west-1"}}, "targets.regions"),
    ({"namespaceSelector": {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}},
     "matchExpressions[0]"),
    ({"namespaceSelector": {}, "role": {"arn": "arn:aws:iam::111111111111:role/x", "externalIdSecretRef": {}}},
     "externalIdSecretRef"),
])
def test_invalid_policy_names_the_field(spec, field):
    with pytest.raises(InvalidPolicy, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_policy({"metadata": {"name": "p"}, "spec": spec})


@pytest.mark.parametrize("image, registry, repository, tag, digest", [
    ("nginx", "docker.io", "nginx", None, None),
    ("nginx:1.27", "docker.io", "nginx", "1.27", None),
    ("library/nginx:1.27", "docker.io", "library/nginx", "1.27", None),
    ("localhost:5000/web:v1", "localhost:5000", "web", "v1", None),
    ("111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/web:1.4.2", "111122223333.dkr.ecr.eu-west-1.amazonaws.com",
     "team/web", "1.4.2", None),
    ("public.ecr.aws/nginx/nginx@sha256:" + "0" * 64, "public.ecr.aws", "nginx/nginx", None, "sha256:" + "0" * 64),
    ("r.example:443/a/b:t@sha256:" + "1" * 64, "r.example:443", "a/b", "t", "sha256:" + "1" * 64),
])
def test_image_references(image, registry, repository, tag, digest):
    ref = parse_image(image)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


@pytest.mark.parametrize("rules, image, problems", [
    (ImageRules(), "nginx:latest", 0),  # no rules: anything (the parser's own :latest rule is separate)
    (ImageRules(forbidden_tags=("latest", "stable", "main")), "r.example/web:stable", 1),
    (ImageRules(forbidden_tags=("release-*",)), "r.example/web:release-3", 1),
    (ImageRules(forbidden_tags=("stable",)), "r.example/web:stable@sha256:" + "2" * 64, 0),  # pinned anyway
    (ImageRules(require_digest=True), "r.example/web:1.2", 1),
    (ImageRules(require_digest=True), "r.example/web@sha256:" + "3" * 64, 0),
    (ImageRules(registries=("*.dkr.ecr.*.amazonaws.com",)), "nginx:1.27", 1),
    (ImageRules(registries=("docker.io",)), "nginx:1.27", 0),
    (ImageRules(registries=("r.example",), require_digest=True), "other.example/web:1", 2),
])
def test_image_rules(rules, image, problems):
    from ecsbg.domain.images import image_problems

    assert len(image_problems(image, rules)) == problems


def test_task_definition_images_are_checked_per_container():
    from ecsbg.domain.images import task_definition_image_problems

    containers = [{"name": "app", "image": "r.example/web:1.2"}, {"name": "sidecar", "image": "r.example/log:latest"}]
    assert task_definition_image_problems(containers, ImageRules(forbidden_tags=("latest",))) == [
        "container sidecar: r.example/log:latest: tag 'latest' is mutable and not allowed (latest)"]
