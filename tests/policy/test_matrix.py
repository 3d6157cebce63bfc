"""EcsReleasePolicy end to end: a matrix of namespaces x targets x roles (every cross-tenant attempt refused with 0
AWS requests, ECS and STS; every allowed one deployed in its own account through its policy's role, with a session
name and ExternalId), image rules, an unreadable ExternalId, --require-policy. The world: world.py, conftest.py.
"""

from __future__ import annotations

import itertools
import uuid

import pytest

from tests.plugins.ecs import seed_service
from tests.policy.world import (
    ROLES,
    A,
    B,
    PolicyWorld,
    assumed_roles,
    cell_manifest,
    ecs_client,
    in_account,
    policy,
)

pytestmark = pytest.mark.slow


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


