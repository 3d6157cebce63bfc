"""EcsReleasePolicy end to end, images: rules on ARN-form and rendered task definitions, digest pinning (a real OCI
registry, ECR through moto), a tag moved mid-release, spec.promoteFrom. The world: world.py, conftest.py.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.plugins.ecs import seed_service
from tests.policy.world import (
    ROLES,
    A,
    B,
    PolicyWorld,
    cell_manifest,
    ecs_client,
    in_account,
    policy,
    registered_images,
    wait_steady,
)

pytestmark = pytest.mark.slow


def test_image_rules_apply_to_arn_form_task_definitions_and_to_images_the_release_does_not_override(
        world: PolicyWorld, monkeypatch: pytest.MonkeyPatch):
    team = world.namespace("arn")
    body = policy("arn", {"names": [team]}, A, None)
    body["spec"]["images"] = {"forbiddenTags": ["latest", "stable"], "registries": ["public.ecr.aws"]}
    world.add_policy(body)
    in_account(monkeypatch, A)
    client = ecs_client(world.ecs.url, A)
    for name in ("arn-stable", "arn-ok", "env-only"):
        seed_service(client, service=name)

    def register(image: str) -> str:
        return client.register_task_definition(
            family="web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": "app", "image": image, "essential": True,
                                   "portMappings": [{"containerPort": 80, "protocol": "tcp"}]}],
        )["taskDefinition"]["taskDefinitionArn"]

    stable, pinned = register("public.ecr.aws/nginx/nginx:stable"), register("public.ecr.aws/nginx/nginx:1.28")
    # the service env-only runs a :stable image; a release overriding only the environment would keep it
    env_only_base = register("public.ecr.aws/nginx/nginx:stable")
    client.update_service(cluster="demo", service="env-only", taskDefinition=env_only_base)
    wait_steady(client, "env-only")
    seeded = len(world.ecs.requests)
    world.start((team,))
    for name, arn in (("arn-stable", stable), ("arn-ok", pinned)):
        manifest = cell_manifest(monkeypatch, team, name, A, None)
        manifest["spec"]["taskDefinition"] = {"arn": arn}
        world.cluster.apply(manifest)
    manifest = cell_manifest(monkeypatch, team, "env-only", A, None)
    manifest["spec"]["taskDefinition"] = {"containers": [{"name": "app", "environment": [{"name": "A", "value": "1"}]}]}
    world.cluster.apply(manifest)

    assert world.wait_phase(team, "arn-ok", "Succeeded", "Failed", "Invalid")["phase"] == "Succeeded"
    for name in ("arn-stable", "env-only"):
        status = world.wait_phase(team, name, "Failed", "Succeeded", "Invalid")
        assert status["phase"] == "Failed", status
        assert [c["reason"] for c in status["conditions"] if c["type"] == "Stalled"] == ["ImageNotAllowed"]
        assert "nginx:stable" in status["message"] and "container app" in status["message"], status["message"]
        writes = [r["operation"] for r in world.requests_for(name, seeded)
                  if r["operation"] in ("UpdateService", "RegisterTaskDefinition")]
        assert writes == [], name
    assert not [r for r in world.ecs.requests[seeded:] if r["operation"] == "RegisterTaskDefinition"]


def test_a_tag_is_pinned_to_its_digest_at_start_and_a_tag_moved_mid_release_changes_nothing(
        world: PolicyWorld, monkeypatch: pytest.MonkeyPatch, oci_registry: Any):
    team = world.namespace("pin")
    body = policy("pin", {"names": [team]}, A, None)
    body["spec"]["images"] = {"resolveDigests": True, "registries": [oci_registry.host]}
    world.add_policy(body)
    repository = f"team/web-{world.tag}"
    first = oci_registry.push(repository, "v1", "build one")
    in_account(monkeypatch, A)
    seed_service(ecs_client(world.ecs.url, A), service="pin-web")
    seeded = len(world.ecs.requests)
    world.start((team,))
    manifest = cell_manifest(monkeypatch, team, "pin-web", A, None)
    manifest["spec"]["taskDefinition"]["containers"][0]["image"] = f"{oci_registry.host}/{repository}:v1"
    world.cluster.apply(manifest)
    started = world.wait_phase(team, "pin-web", "Deploying", "Baking", "Succeeded", "Failed", "Invalid")
    assert started["phase"] not in ("Failed", "Invalid"), started
    moved = oci_registry.push(repository, "v1", "build two")  # the tag moves while the release runs
    assert moved != first
    world.kubectl("annotate", "-n", team, "ecsbluegreenreleases/pin-web", "touch=1")  # wakes the loop
    status = world.wait_phase(team, "pin-web", "Succeeded", "Failed")
    assert status["phase"] == "Succeeded", status
    pinned_image = f"{oci_registry.host}/{repository}@{first}"
    assert registered_images(world, seeded) == [pinned_image]  # one revision, pinned to the digest at start
    assert [r["operation"] for r in world.ecs.requests[seeded:]].count("UpdateService") == 1
    assert status["images"] == [{"container": "app", "image": pinned_image, "digest": first}]


def test_an_ecr_tag_resolves_through_ecr_with_the_policy_role_and_an_unknown_tag_fails_the_attempt(
        world: PolicyWorld, monkeypatch: pytest.MonkeyPatch):
    team = world.namespace("ecr")
    body = policy("ecr", {"names": [team]}, A, None)
    body["spec"]["images"] = {"resolveDigests": True}
    world.add_policy(body)
    creds = boto3.client("sts", endpoint_url=world.sts_url, region_name="us-east-1", aws_access_key_id="testing",
                         aws_secret_access_key="testing").assume_role(RoleArn=ROLES[A], RoleSessionName="seed")
    keys = creds["Credentials"]
    ecr = boto3.client("ecr", endpoint_url=world.sts_url, region_name="us-east-1",
                       aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"],
                       aws_session_token=keys["SessionToken"])
    repository = f"web-{world.tag}"
    ecr.create_repository(repositoryName=repository)
    image_manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                 "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                                            "digest": "sha256:" + "4" * 64}, "layers": []})
    digest = ecr.put_image(repositoryName=repository, imageManifest=image_manifest,
                           imageTag="1.0")["image"]["imageId"]["imageDigest"]
    in_account(monkeypatch, A)
    for name in ("ecr-ok", "ecr-missing"):
        seed_service(ecs_client(world.ecs.url, A), service=name)
    seeded = len(world.ecs.requests)
    world.start((team,))
    host = f"{A}.dkr.ecr.us-east-1.amazonaws.com"
    for name, tag in (("ecr-ok", "1.0"), ("ecr-missing", "9.9")):
        manifest = cell_manifest(monkeypatch, team, name, A, None)
        manifest["spec"]["taskDefinition"]["containers"][0]["image"] = f"{host}/{repository}:{tag}"
        world.cluster.apply(manifest)
    ok = world.wait_phase(team, "ecr-ok", "Succeeded", "Failed", "Invalid")
    assert ok["phase"] == "Succeeded", ok
    assert ok["images"] == [{"container": "app", "image": f"{host}/{repository}@{digest}", "digest": digest}]
    missing = world.wait_phase(team, "ecr-missing", "Failed", "Succeeded", "Invalid")
    assert [c["reason"] for c in missing["conditions"] if c["type"] == "Stalled"] == ["ImageDigestUnresolved"]
    assert "9.9" in missing["message"]
    assert registered_images(world, seeded) == [f"{host}/{repository}@{digest}"]
    assert not [r for r in world.requests_for("ecr-missing", seeded) if r["operation"] == "UpdateService"]


def test_promote_from_deploys_stagings_exact_digests_and_only_where_the_policy_allows(
        world: PolicyWorld, monkeypatch: pytest.MonkeyPatch, oci_registry: Any):
    staging, prod, other = world.namespace("stg"), world.namespace("prd"), world.namespace("oth")
    stg_policy = policy("stg", {"names": [staging]}, A, None)
    stg_policy["spec"]["images"] = {"resolveDigests": True}
    world.add_policy(stg_policy)
    prod_policy = policy("prd", {"names": [prod]}, B, None)
    prod_policy["spec"]["promoteFrom"] = {"namespaces": [staging]}
    world.add_policy(prod_policy)
    world.add_policy(policy("oth", {"names": [other]}, B, None))  # no promoteFrom: cross-namespace refused
    repository = f"team/api-{world.tag}"
    tested = oci_registry.push(repository, "v2", "tested build")
    in_account(monkeypatch, A)
    seed_service(ecs_client(world.ecs.url, A), service="stg-api")
    in_account(monkeypatch, B)
    seed_service(ecs_client(world.ecs.url, B), service="prd-api")
    seed_service(ecs_client(world.ecs.url, B), service="oth-api")
    seeded = len(world.ecs.requests)
    world.start((staging, prod, other))
    source = cell_manifest(monkeypatch, staging, "stg-api", A, None)
    source["spec"]["taskDefinition"]["containers"][0]["image"] = f"{oci_registry.host}/{repository}:v2"
    world.cluster.apply(source)
    assert world.wait_phase(staging, "stg-api", "Succeeded", "Failed", "Invalid")["phase"] == "Succeeded"
    oci_registry.push(repository, "v2", "an untested build under the same tag")  # must not reach production
    for ns, name in ((prod, "prd-api"), (other, "oth-api")):
        body = cell_manifest(monkeypatch, ns, name, B, None)
        body["spec"]["taskDefinition"]["containers"][0]["image"] = f"{oci_registry.host}/{repository}:v2"
        body["spec"]["promoteFrom"] = {"namespace": staging, "name": "stg-api"}
        world.cluster.apply(body)
    status = world.wait_phase(prod, "prd-api", "Succeeded", "Failed", "Invalid")
    assert status["phase"] == "Succeeded", status
    exact = f"{oci_registry.host}/{repository}@{tested}"
    assert status["promotedFrom"] == {"namespace": staging, "name": "stg-api", "attempt": 1,
                                      "images": [{"container": "app", "image": exact}]}
    registered = [(r["account"], c["image"]) for r in world.ecs.requests[seeded:]
                  if r["operation"] == "RegisterTaskDefinition" for c in r["parameters"]["containerDefinitions"]]
    assert registered == [(A, exact), (B, exact)]  # staging's revision, then production's: the same digest
    refused = world.wait_phase(other, "oth-api", "Invalid", "Succeeded", "Failed")
    assert refused["policy"]["reason"] == "PromotionNotAllowed", refused
    assert world.requests_for("oth-api", seeded) == []


def test_a_private_registry_is_resolved_with_the_policys_credentials_and_refused_without(
        world: PolicyWorld, monkeypatch: pytest.MonkeyPatch, oci_registry_auth: Any):
    import base64

    registry = oci_registry_auth
    system, with_creds, without = world.namespace("sys"), world.namespace("cred"), world.namespace("nocred")
    user, password = registry.login
    config = {"auths": {registry.host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}
    world.kubectl("create", "secret", "generic", "pull", "-n", system, "--type=kubernetes.io/dockerconfigjson",
                  f"--from-literal=.dockerconfigjson={json.dumps(config)}")
    for name, ns, creds in (("cred", with_creds, [{"namespace": system, "name": "pull"}]), ("nocred", without, None)):
        body = policy(name, {"names": [ns]}, A, None)
        body["spec"]["images"] = {"resolveDigests": True, **({"registryCredentials": creds} if creds else {})}
        world.add_policy(body)
    repository = f"private/web-{world.tag}"
    digest = registry.push(repository, "v1", "private build")
    in_account(monkeypatch, A)
    for name in ("priv-ok", "priv-401"):
        seed_service(ecs_client(world.ecs.url, A), service=name)
    seeded = len(world.ecs.requests)
    world.start((with_creds, without))
    for ns, name in ((with_creds, "priv-ok"), (without, "priv-401")):
        manifest = cell_manifest(monkeypatch, ns, name, A, None)
        manifest["spec"]["taskDefinition"]["containers"][0]["image"] = f"{registry.host}/{repository}:v1"
        world.cluster.apply(manifest)
    ok = world.wait_phase(with_creds, "priv-ok", "Succeeded", "Failed", "Invalid")
    assert ok["phase"] == "Succeeded", ok
    assert ok["images"][0]["digest"] == digest
    refused = world.wait_phase(without, "priv-401", "Failed", "Succeeded", "Invalid")
    assert [c["reason"] for c in refused["conditions"] if c["type"] == "Stalled"] == ["ImageDigestUnresolved"]
    assert "registryCredentials" in refused["message"]
    assert password not in json.dumps(world.status(with_creds, "priv-ok")) + json.dumps(refused)
    assert registered_images(world, seeded) == [f"{registry.host}/{repository}@{digest}"]
