"""Ownership recorded in AWS (domain.ownership, ECSBG_OPERATOR_ID): two operator installs that cannot see each
other's releases (two `ecsbg run` processes, each watching its own namespace, as two clusters would) pointed at one
ECS service. Exactly one deploys; the other's release is refused before any write and names the owner; the
explicit takeover annotation hands the service over, and the first then refuses in turn.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.integration.conftest import ReleaseEnv, release_manifest, wait_for
from tests.plugins.process import OperatorProcess


def _operator(env: ReleaseEnv, tmp_path: Path, namespace: str, operator_id: str) -> OperatorProcess:
    shard = {"ECSBG_RELEASE_SELECTOR": f"ecsbg.dev/shard={operator_id[6:]}"} if operator_id.startswith("shard-") else {}
    # verbose: kopf's per-object lines (DEBUG then) show which releases a shard saw
    return OperatorProcess(kubeconfig=env.kubeconfig, namespace=namespace, log_path=tmp_path / f"{operator_id}.log",
                           verbose=True,
                           env={"ECSBG_AWS_ENDPOINT_URL": env.ecs.url, "ECSBG_COALESCE_MS": "0",
                                "ECSBG_POLL_FAST_SECONDS": "0.2", "ECSBG_POLL_IDLE_SECONDS": "1",
                                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                                "AWS_SECRET_ACCESS_KEY": "testing", "ECSBG_OPERATOR_ID": operator_id, **shard})


def _status(env: ReleaseEnv, namespace: str, name: str = "web") -> dict:
    return (env.cluster.get("ecsbg.dev/v1alpha1", "ecsbluegreenreleases", namespace, name) or {}).get("status") or {}


def _wait(env: ReleaseEnv, namespace: str, predicate, what: str, name: str = "web") -> dict:
    status: dict = {}

    def check() -> dict | None:
        status.clear()
        status.update(_status(env, namespace, name))
        return dict(status) if predicate(status) else None

    try:
        return wait_for(check, what, timeout=60.0)
    except AssertionError:
        raise AssertionError(f"timed out waiting for {what} in {namespace}: {status}") from None


def _owner(env: ReleaseEnv) -> str | None:
    service = env.client.describe_services(cluster="demo", services=["web"], include=["TAGS"])["services"][0]
    return next((t["value"] for t in service.get("tags", []) if t["key"] == "ecsbg.dev/owner"), None)


def test_two_installs_on_one_service_exactly_one_deploys_until_an_explicit_takeover(
        release_env: ReleaseEnv, tmp_path: Path) -> None:
    env = release_env
    other = f"b-{uuid.uuid4().hex[:8]}"
    env.kubectl("create", "namespace", other)
    a = _operator(env, tmp_path, env.namespace, "cluster-a")
    b = _operator(env, tmp_path, other, "cluster-b")
    try:
        env.apply(release_manifest("web", env.namespace))
        env.apply(release_manifest("web", other))
        done = {ns: _wait(env, ns, lambda s: s.get("phase") in ("Succeeded", "Invalid", "Failed", "RolledBack"),
                          "a verdict") for ns in (env.namespace, other)}
        phases = sorted(s["phase"] for s in done.values())
        assert phases in (["Invalid", "Succeeded"], ["Failed", "Succeeded"]), done
        winner = next(ns for ns, s in done.items() if s["phase"] == "Succeeded")
        loser = other if winner == env.namespace else env.namespace
        assert len(env.calls("UpdateService")) == 1, "exactly one install deployed"
        owner = _owner(env)
        assert owner == f"{'cluster-a' if winner == env.namespace else 'cluster-b'}/{winner}/web"
        refused = _wait(env, loser, lambda s: s.get("phase") == "Invalid", "the loser to name the owner")
        assert f"owned by {owner}" in refused["message"] and "ecsbg.dev/take-over" in refused["message"]

        # the takeover: the annotation names the owner being displaced; the tag moves with the first write
        env.kubectl("annotate", "-n", loser, "ecsbluegreenreleases/web", f"ecsbg.dev/take-over={owner}")
        env.apply(release_manifest("web", loser, image="public.ecr.aws/nginx/nginx:1.30"))
        _wait(env, loser, lambda s: s.get("phase") == "Succeeded" and s.get("targetRevision") != done[winner].get(
            "targetRevision"), "the takeover to deploy")
        assert len(env.calls("UpdateService")) == 2
        assert _owner(env).endswith(f"/{loser}/web")
        env.apply(release_manifest("web", winner, image="public.ecr.aws/nginx/nginx:1.31"))  # the old owner tries
        _wait(env, winner, lambda s: s.get("phase") == "Invalid" and "owned by" in s.get("message", ""),
              "the former owner to refuse")
        assert len(env.calls("UpdateService")) == 2
    finally:
        a.stop()
        b.stop()


def test_label_shards_each_see_only_their_releases(release_env: ReleaseEnv, tmp_path: Path) -> None:
    """ECSBG_RELEASE_SELECTOR: two installs in one namespace, one per label value; each release is deployed by
    its shard's operator alone (the owner tag on each service names it)."""
    from tests.plugins.ecs import seed_service

    env = release_env
    seed_service(env.client, service="api")
    shards = []
    for shard in ("a", "b"):
        process = _operator(env, tmp_path, env.namespace, f"shard-{shard}")
        shards.append(process)
    try:
        for shard, service in (("a", "web"), ("b", "api")):
            manifest = release_manifest(service, env.namespace, service=service)
            manifest["metadata"]["labels"] = {"ecsbg.dev/shard": shard}
            env.apply(manifest)
        for service in ("web", "api"):
            _wait(env, env.namespace, lambda s: s.get("phase") == "Succeeded", f"{service} Succeeded", name=service)
        tags = {s["serviceName"]: {t["key"]: t["value"] for t in s.get("tags", [])} for s in env.client.describe_services(
            cluster="demo", services=["web", "api"], include=["TAGS"])["services"]}
        assert tags["web"]["ecsbg.dev/owner"] == f"shard-a/{env.namespace}/web"
        assert tags["api"]["ecsbg.dev/owner"] == f"shard-b/{env.namespace}/api"
        for process, other in zip(shards, ("api", "web"), strict=True):  # never listed, never watched, never logged
            assert f'"name": "{other}"' not in process.log()
            assert f'"name": "{"web" if other == "api" else "api"}"' in process.log()
    finally:
        for process in shards:
            process.stop()
