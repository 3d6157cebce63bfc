"""EcsReleasePolicy end to end: the operator (real kopf, dev cluster) assumes the policy's role through moto's STS
(server mode, real HTTP) and reaches the ECS emulator, which partitions by the account of the caller's keys.

A matrix of namespaces x targets x roles: every cross-tenant attempt is refused with 0 AWS requests (ECS and STS),
every allowed one deploys in its own account through its policy's role, with a session name and ExternalId.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import kopf
import pytest

import tests.plugins.ecs as ecs_plugin
from ecsbg.aws.gateway import AwsSettings, Boto3EcsGateway
from ecsbg.aws.session import ClientSettings
from ecsbg.clock import SystemClock
from ecsbg.handlers import build_registry
from ecsbg.k8s.events import KopfEventSink
from ecsbg.k8s.status import KubeStatusWriter
from ecsbg.metrics.prometheus import PrometheusRecorder
from ecsbg.reconciler import Deps
from ecsbg.registry.oci import OciResolver
from tests.integration.conftest import operator_settings, release_manifest
from tests.plugins.ecs import seed_service

pytestmark = pytest.mark.slow

A, B = "111111111111", "222222222222"
ROLES = {A: f"arn:aws:iam::{A}:role/ecsbg/team-a", B: f"arn:aws:iam::{B}:role/ecsbg/team-b"}
GV = "ecsbg.dev/v1alpha1"


@pytest.fixture(scope="module")
def moto_sts() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def assumed_roles(account: str) -> list[Any]:
    """What moto's STS recorded for AssumeRole into `account` (the server runs in this process)."""
    from moto.sts.models import sts_backends

    return list(sts_backends[account]["aws"].assumed_roles)


def ecs_client(url: str, account: str) -> Any:
    # a 12-digit access key ID is that account for the emulator (docs/emulator.md "Regions and accounts")
    return boto3.client("ecs", endpoint_url=url, region_name="us-east-1", aws_access_key_id=account,
                        aws_secret_access_key="testing")


def in_account(monkeypatch: pytest.MonkeyPatch, account: str) -> None:
    monkeypatch.setattr(ecs_plugin, "ACCOUNT", account)  # elb_arns(): the load balancer ARNs of that account


def policy(name: str, selector: dict[str, Any], account: str, secret: dict[str, str] | None) -> dict[str, Any]:
    role: dict[str, Any] = {"arn": ROLES[account]}
    if secret is not None:
        role["externalIdSecretRef"] = secret
    return {"apiVersion": GV, "kind": "EcsReleasePolicy", "metadata": {"name": name},
            "spec": {"namespaceSelector": selector, "targets": {"accounts": [account], "regions": ["us-*"]},
                     "role": role}}


class PolicyWorld:
    def __init__(self, dev_cluster: Any, kubectl: Any, run_kopf: Any, ecs: Any, sts_url: str) -> None:
        self.cluster, self.kubectl, self.run_kopf, self.ecs, self.sts_url = dev_cluster, kubectl, run_kopf, ecs, sts_url
        self.tag = uuid.uuid4().hex[:6]
        self.policies: list[str] = []
        self.namespaces: list[str] = []
        self.metrics = PrometheusRecorder()

    def namespace(self, suffix: str, labels: dict[str, str] | None = None) -> str:
        name = f"p-{self.tag}-{suffix}"
        self.kubectl("create", "namespace", name)
        self.namespaces.append(name)
        if labels:
            self.kubectl("label", "namespace", name, *(f"{k}={v}" for k, v in labels.items()))
        return name

    def secret(self, namespace: str, name: str, value: str) -> dict[str, str]:
        self.kubectl("create", "secret", "generic", name, "-n", namespace, f"--from-literal=externalId={value}")
        return {"namespace": namespace, "name": name, "key": "externalId"}

    def add_policy(self, body: dict[str, Any]) -> None:
        body["metadata"]["name"] = f"{body['metadata']['name']}-{self.tag}"
        self.cluster.apply(body)
        self.policies.append(body["metadata"]["name"])

    def start(self, namespaces: tuple[str, ...], *, require_policy: bool = False) -> Any:
        from dataclasses import replace

        settings = replace(operator_settings(self.ecs.url), require_policy=require_policy)
        aws = AwsSettings(clients=ClientSettings(endpoint_url=self.ecs.url, sts_endpoint_url=self.sts_url,
                                                 ecr_endpoint_url=self.sts_url))  # moto serves STS and ECR
        gateway = Boto3EcsGateway(coalesce_seconds=0, metrics=self.metrics, clock=SystemClock(), settings=aws,
                                  registry=OciResolver())
        deps = Deps(ecs=gateway, clock=SystemClock(), events=KopfEventSink(), status=KubeStatusWriter(),
                    metrics=self.metrics, settings=settings)
        return self.run_kopf(build_registry(settings), namespaces=namespaces, memo=kopf.Memo(deps=deps))

    def status(self, namespace: str, name: str) -> dict[str, Any]:
        obj = self.cluster.get(GV, "ecsbluegreenreleases", namespace, name) or {}
        return dict(obj.get("status") or {})

    def wait_phase(self, namespace: str, name: str, *phases: str, timeout: float = 60.0) -> dict[str, Any]:
        import time

        deadline, status = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            status = self.status(namespace, name)
            if status.get("phase") in phases:
                return status
            time.sleep(0.05)
        raise AssertionError(f"{namespace}/{name}: timed out waiting for {phases}: {status}")

    def requests_for(self, service: str, since: int) -> list[dict[str, Any]]:
        """ECS requests made after the first `since` that name `service` (as a name or inside an ARN)."""
        return [r for r in self.ecs.requests[since:]
                if any(service == v or str(v).endswith(f"/{service}") for v in _strings(r.get("parameters")))]

    def events(self, namespace: str) -> list[dict[str, Any]]:
        listed = self.cluster.list("v1", "events", namespace)
        return list(listed.get("items") or []) if isinstance(listed, dict) else list(listed)

    def refusals(self) -> dict[str, float]:
        return {s.labels["reason"]: s.value for m in self.metrics.registry.collect()
                if m.name == "ecsbg_policy_refusals" for s in m.samples if s.name.endswith("_total") and s.value}

    def close(self) -> None:
        for name in self.policies:  # cluster-scoped: never leave one behind for the rest of the session
            self.kubectl("delete", "ecsreleasepolicies", name, "--wait=false", check=False)
        for ns in self.namespaces:
            self.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture
def world(dev_cluster, kubectl, run_kopf, ecs_emulator, moto_sts, monkeypatch) -> Iterator[PolicyWorld]:
    if dev_cluster is None:
        pytest.skip("needs the dev cluster (moto and the emulator run in this process)")
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    w = PolicyWorld(dev_cluster, kubectl, run_kopf, ecs_emulator, moto_sts)
    yield w
    w.close()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def wait_steady(client: Any, service: str, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (described,) = client.describe_services(cluster="demo", services=[service])["services"]
        if [d.get("rolloutState") for d in described["deployments"]] == ["COMPLETED"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{service} did not settle: {described['deployments']}")


def cell_manifest(monkeypatch: pytest.MonkeyPatch, namespace: str, name: str, account: str,
                  role: str | None) -> dict[str, Any]:
    in_account(monkeypatch, account)
    body = release_manifest(name, namespace, service=name)
    body["spec"]["target"]["cluster"] = f"arn:aws:ecs:us-east-1:{account}:cluster/demo"  # names the account
    if role is not None:
        body["spec"]["target"]["roleArn"] = role
    return body


def test_namespaces_by_targets_by_roles(world: PolicyWorld, monkeypatch: pytest.MonkeyPatch):
    system = world.namespace("sys")
    team_a = world.namespace("a")
    team_b = world.namespace("b", labels={"team": "b"})
    ext = {A: f"ext-a-{uuid.uuid4().hex[:8]}", B: f"ext-b-{uuid.uuid4().hex[:8]}"}
    world.add_policy(policy("team-a", {"names": [team_a]}, A, world.secret(system, "ext-a", ext[A])))
    world.add_policy(policy("team-b", {"labelSelector": {"matchLabels": {"team": "b"}}}, B,
                            world.secret(system, "ext-b", ext[B])))
    home = {team_a: A, team_b: B}
    roles = {"omit": None, "rolea": ROLES[A], "roleb": ROLES[B]}
    cells = []
    for (ns, short), account, (role_name, role) in itertools.product(
            ((team_a, "ta"), (team_b, "tb")), (A, B), roles.items()):
        name = f"{short}-{'a' if account == A else 'b'}-{role_name}"
        in_account(monkeypatch, account)
        seed_service(ecs_client(world.ecs.url, account), service=name)
        allowed = account == home[ns] and role in (None, ROLES[account])
        cells.append((ns, name, account, role, allowed))
    seeded = len(world.ecs.requests)
    before = {acct: len(assumed_roles(acct)) for acct in (A, B)}

    world.start((team_a, team_b))
    for ns, name, account, role, _ in cells:
        world.cluster.apply(cell_manifest(monkeypatch, ns, name, account, role))

    for ns, name, account, _role, allowed in cells:
        if allowed:
            status = world.wait_phase(ns, name, "Succeeded", "Failed", "Invalid")
            assert status["phase"] == "Succeeded", (name, status)
            policy_name = f"team-{'a' if account == A else 'b'}-{world.tag}"
            assert status["policy"] == {"decision": "Allowed", "reason": "PolicyAllows", "name": policy_name,
                                        "roleArn": ROLES[account],
                                        "message": f"allowed by EcsReleasePolicy {policy_name}"}
            updates = [r for r in world.requests_for(name, seeded) if r["operation"] == "UpdateService"]
            assert [(r["account"], r["statusCode"]) for r in updates] == [(account, 200)], name
        else:
            status = world.wait_phase(ns, name, "Invalid", "Succeeded", "Failed")
            assert status["phase"] == "Invalid", (name, status)
            stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
            assert stalled["reason"] in ("TargetNotAllowed", "RoleNotAllowed", "InvalidSpec"), (name, stalled)
            assert (status.get("policy") or {}).get("decision") == "Refused" or stalled["reason"] == "InvalidSpec"
            assert world.requests_for(name, seeded) == [], name  # 0 AWS requests for a refused release
    # STS: one AssumeRole per allowed release, with its session name and its policy's ExternalId; none else
    sessions = {acct: {(r.session_name, r.external_id, r.role_arn) for r in assumed_roles(acct)[before[acct]:]}
                for acct in (A, B)}
    expected = {acct: {(f"ecsbg@{ns}.{name}", ext[acct], ROLES[acct])
                       for ns, name, account, _, allowed in cells if allowed and account == acct} for acct in (A, B)}
    assert sessions == expected
    by_policy = [(ns, name) for ns, name, _, _, allowed in cells
                 if not allowed and (world.status(ns, name).get("policy") or {}).get("decision") == "Refused"]
    assert len(by_policy) >= 4  # the other refusals are ARNs disagreeing with the named role (the parser's)
    denied = [(e["involvedObject"]["namespace"], e["involvedObject"]["name"]) for ns in (team_a, team_b)
              for e in world.events(ns) if e.get("reason") == "PolicyDenied" and e.get("type") == "Warning"]
    assert sorted(denied) == sorted(by_policy)  # one Warning per refused release, not one per poll
    assert sum(world.refusals().values()) == len(by_policy)


def test_image_rules_and_a_missing_external_id_refuse_with_zero_requests(world: PolicyWorld,
                                                                         monkeypatch: pytest.MonkeyPatch):
    system = world.namespace("sys")
    team = world.namespace("img")
    unreadable = world.namespace("noext")
    body = policy("images", {"names": [team]}, A, world.secret(system, "ext", "ext-value-1"))
    body["spec"]["images"] = {"forbiddenTags": ["latest", "stable", "main"], "registries": ["public.ecr.aws"]}
    world.add_policy(body)
    world.add_policy(policy("noext", {"names": [unreadable]}, A, {"namespace": system, "name": "missing"}))
    cells = {  # (namespace, release/service) -> image, expected reason (None: deploys)
        (team, "img-ok"): ("public.ecr.aws/nginx/nginx:1.28", None),
        (team, "img-stable"): ("public.ecr.aws/nginx/nginx:stable", "ImageNotAllowed"),
        (team, "img-hub"): ("nginx:1.28", "ImageNotAllowed"),
        (unreadable, "noext"): ("public.ecr.aws/nginx/nginx:1.28", "ExternalIdUnavailable"),
    }
    for (_, name), _ in cells.items():
        in_account(monkeypatch, A)
        seed_service(ecs_client(world.ecs.url, A), service=name)
    seeded = len(world.ecs.requests)
    before = len(assumed_roles(A))
    world.start((team, unreadable))
    for (ns, name), (image, _) in cells.items():
        manifest = cell_manifest(monkeypatch, ns, name, A, None)
        manifest["spec"]["taskDefinition"]["containers"][0]["image"] = image
        world.cluster.apply(manifest)
    for (ns, name), (_image, reason) in cells.items():
        status = world.wait_phase(ns, name, "Succeeded", "Invalid", "Failed")
        if reason is None:
            assert status["phase"] == "Succeeded", status
            continue
        assert status["phase"] == "Invalid" and status["policy"]["reason"] == reason, status
        assert [c["reason"] for c in status["conditions"] if c["type"] == "Stalled"] == [reason]
        assert world.requests_for(name, seeded) == [], name
    assert "stable" in world.status(team, "img-stable")["message"]
    assert "docker.io" in world.status(team, "img-hub")["message"]
    assert [r.session_name for r in assumed_roles(A)[before:]] == [f"ecsbg@{team}.img-ok"]
    assert world.refusals() == {"ImageNotAllowed": 2.0, "ExternalIdUnavailable": 1.0}


def test_require_policy_without_any_policy_refuses_everything_then_a_policy_lets_it_deploy(
        world: PolicyWorld, monkeypatch: pytest.MonkeyPatch):
    team = world.namespace("req")
    in_account(monkeypatch, A)
    seed_service(ecs_client(world.ecs.url, A), service="req-web")
    seeded = len(world.ecs.requests)
    world.start((team,), require_policy=True)
    world.cluster.apply(cell_manifest(monkeypatch, team, "req-web", A, None))
    status = world.wait_phase(team, "req-web", "Invalid", "Succeeded", "Failed")
    assert status["policy"]["reason"] == "NoPolicy" and status["phase"] == "Invalid"
    assert world.requests_for("req-web", seeded) == []
    world.add_policy(policy("req", {"names": [team]}, A, None))  # the release proceeds on its next poll
    status = world.wait_phase(team, "req-web", "Succeeded", "Failed")
    assert status["phase"] == "Succeeded" and status["policy"]["decision"] == "Allowed"


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


def registered_images(world: PolicyWorld, since: int) -> list[str]:
    return [c["image"] for r in world.ecs.requests[since:] if r["operation"] == "RegisterTaskDefinition"
            for c in r["parameters"].get("containerDefinitions", [])]


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
