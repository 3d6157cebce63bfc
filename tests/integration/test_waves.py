"""Release waves end to end: real kopf on the real kube-apiserver (the chart's RBAC), real boto3 against the ECS
emulator serving two regions. The wave only writes child EcsBlueGreenReleases; the children deploy.

Every phase a scenario passes through is judged, on the object the API server stores, by cli-utils' kstatus (what
Flux calls) and by the wave's Argo CD health script in gopher-lua (deploy/argocd/.../EcsReleaseWave/health.lua).
One success scenario proves order, maxParallel, a bake gate, a manual gate that waits until approved, operator
restarts inside and between waves (no target started twice, no wave skipped) and the wave's kstatus in each phase;
one failure scenario proves that a failure in wave two leaves wave three untouched and returns wave one (and wave
two's succeeded target) to the revision each ran before, in reverse order.
"""

from __future__ import annotations

import io
import time
from datetime import datetime
from typing import Any

import boto3

from ecsbg.plugin import cli
from tests.integration.conftest import GV, IMAGE_V2, ReleaseEnv, wait_for
from tests.observability.engines import argocd_health, kstatus
from tests.observability.tools import REPO
from tests.plugins.ecs import elb_arns, seed_service

HEALTH = REPO / "deploy" / "argocd" / "resource_customizations" / "ecsbg.dev" / "EcsReleaseWave" / "health.lua"
# the promised verdicts (docs/api.md "Release waves"): (kstatus, Argo CD) per phase
VERDICTS = {"Progressing": ("InProgress", "Progressing"), "AwaitingApproval": ("InProgress", "Suspended"),
            "Succeeded": ("Current", "Healthy"), "Failed": ("Failed", "Degraded"),
            "RollingBack": ("InProgress", "Progressing"), "RolledBack": ("Failed", "Degraded"),
            "Invalid": ("Failed", "Degraded")}

WAVES = "ecsreleasewaves"
PAUSE = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 1440, "action": "Rollback"}}]
TARGETS = [("use1-web", "us-east-1", "web"), ("use1-api", "us-east-1", "api"), ("euw1-web", "eu-west-1", "web"),
           ("euw1-api", "eu-west-1", "api")]


def _client(env: ReleaseEnv, region: str) -> Any:
    return boto3.client("ecs", endpoint_url=env.ecs.url, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _seed(env: ReleaseEnv) -> None:
    """us-east-1 demo/web is the fixture's; demo/api there and both in eu-west-1 (ELB ARNs of their region)."""
    seed_service(env.client, service="api")
    eu = _client(env, "eu-west-1")
    for service in ("web", "api"):
        arns = {k: v.replace(":us-east-1:", ":eu-west-1:") for k, v in elb_arns(service).items()}
        seed_service(eu, service=service, load_balancer=arns)
    env.seeded = len(env.ecs.requests)


def _wave(env: ReleaseEnv, waves: list[dict[str, Any]], *, rollback: bool = False,
          overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"apiVersion": GV, "kind": "EcsReleaseWave", "metadata": {"name": "rollout", "namespace": env.namespace},
            "spec": {"template": {"taskDefinition": {"containers": [{"name": "app", "image": IMAGE_V2}]},
                                  "strategy": {"type": "BlueGreen", "bakeTimeInMinutes": 10}},
                     "targets": [{"name": name, "region": region, "cluster": "demo", "service": service,
                                  **({"overrides": overrides[name]} if overrides and name in overrides else {})}
                                 for name, region, service in TARGETS],
                     "waves": waves, "failurePolicy": {"rollback": rollback}}}


SEEN: dict[str, dict[str, Any]] = {}  # the first stored object of each phase, of the test running


def _status(env: ReleaseEnv, name: str = "rollout") -> dict[str, Any]:
    obj = env.cluster.get(GV, WAVES, env.namespace, name) or {}
    status = dict(obj.get("status") or {})
    if status.get("phase") and status.get("observedGeneration") == obj["metadata"].get("generation"):
        SEEN.setdefault(status["phase"], obj)
    return status


def _wait(env: ReleaseEnv, phase: str, timeout: float = 30.0, name: str = "rollout") -> dict[str, Any]:
    return wait_for(lambda: (s := _status(env, name)).get("phase") == phase and s, f"the wave {phase}", timeout)


def _judged(phases: set[str]) -> None:
    """kstatus and Argo CD give the promised verdict for each phase seen (at least `phases`)."""
    assert phases <= set(SEEN), sorted(SEEN)
    labels, objects = list(SEEN), list(SEEN.values())
    flux = [v["status"] for v in kstatus(objects)]
    argo = [v["status"] for v in argocd_health(objects, HEALTH)]
    assert dict(zip(labels, zip(flux, argo, strict=True), strict=True)) == {p: VERDICTS[p] for p in labels}
    SEEN.clear()


def _conditions(status: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status.get("conditions") or []}


def _deploys(env: ReleaseEnv) -> list[tuple[str, str]]:
    """(region, service) of each UpdateService the operator made, in order."""
    return [(r["region"], r["parameters"]["service"].rsplit("/", 1)[-1]) for r in env.calls("UpdateService")]


def _task_definition(env: ReleaseEnv, region: str, service: str) -> str:
    return _client(env, region).describe_services(cluster="demo", services=[service])["services"][0]["taskDefinition"]


def _reasons(env: ReleaseEnv, until: str) -> list[str]:
    """The wave's Event reasons, once one of reason `until` was posted (Events follow the status patch)."""
    def posted() -> list[str] | None:
        reasons = [e["reason"] for e in env.cluster.list("v1", "events", env.namespace)
                   if e["involvedObject"].get("kind") == "EcsReleaseWave"]
        return reasons if until in reasons else None
    return wait_for(posted, f"a {until} Event", 10)


def test_three_waves_two_regions_in_order_with_gates_and_restarts(release_env: ReleaseEnv, real_cluster) -> None:
    env = release_env
    SEEN.clear()
    _seed(env)
    env.start_operator()
    bad = _wave(env, [{"name": "one", "targets": ["use1-web", "nope"]}])
    env.apply({**bad, "metadata": {**bad["metadata"], "name": "bad"}})
    env.apply(_wave(env, [{"name": "one", "targets": ["use1-web"], "gate": {"bake": "2s"}},
                          {"name": "two", "targets": ["use1-api", "euw1-web"], "maxParallel": 1,
                           "gate": {"approval": True}},
                          {"name": "three", "targets": ["euw1-api"]}]))
    wait_for(lambda: env.obj("rollout-use1-web"), "the first child")
    _wait(env, "Progressing")
    env.stop_operators()  # inside wave one: its child is in flight
    assert _conditions(_status(env)) == {"Ready": "False", "Reconciling": "True"}
    env.start_operator()
    status = _wait(env, "AwaitingApproval")
    assert status["currentWave"] == "two" and status["progress"] == "3/4" and "approve=1:two" in status["message"]
    assert _conditions(status) == {"Ready": "False", "Reconciling": "True"}
    gate = status["waves"][0]["gate"]
    baked = datetime.fromisoformat(gate["passedAt"]) - datetime.fromisoformat(gate["startedAt"])
    assert baked.total_seconds() >= 2 and gate["verdict"] == "Baked"
    # in order, one at a time in wave two (maxParallel 1), wave three not started while the gate waits
    assert _deploys(env) == [("us-east-1", "web"), ("us-east-1", "api"), ("eu-west-1", "web")]
    env.stop_operators()  # between waves
    env.start_operator()
    time.sleep(1.0)
    assert _status(env)["phase"] == "AwaitingApproval" and len(_deploys(env)) == 3
    plugin = ["--kubeconfig", str(real_cluster.admin_kubeconfig), "-n", env.namespace]
    shown = io.StringIO()
    assert cli.main([*plugin, "get", "wave", "rollout"], out=shown) == 0
    assert "wave two: Gating   [gate approval: AwaitingApproval]" in shown.getvalue()
    assert cli.main([*plugin, "approve", "wave", "rollout"], out=io.StringIO()) == 0  # names 1:two itself
    status = _wait(env, "Succeeded")
    assert status["progress"] == "4/4" and _conditions(status) == {"Ready": "True"}
    assert _deploys(env)[3:] == [("eu-west-1", "api")]  # each target started exactly once, restarts included
    for name, region, service in TARGETS:
        child = env.obj(f"rollout-{name}")
        assert child["status"]["phase"] == "Succeeded"
        assert child["spec"]["target"] == {"region": region, "cluster": "demo", "service": service}
        assert child["metadata"]["ownerReferences"][0]["kind"] == "EcsReleaseWave"
        assert child["metadata"]["labels"]["ecsbg.dev/wave"] == "rollout"
    reasons = _reasons(env, "Succeeded")
    assert {"WaveStarted", "GatePassed", "AwaitingApproval", "Succeeded"} <= set(reasons)
    assert reasons.count("AwaitingApproval") == 1  # restarts announce nothing twice
    invalid = _wait(env, "Invalid", name="bad")  # bad input: its reason, and no child
    assert "UnknownTarget" in {c["reason"] for c in invalid["conditions"]} and "'nope'" in invalid["message"]
    assert env.obj("bad-use1-web") == {}
    _judged({"Progressing", "AwaitingApproval", "Succeeded", "Invalid"})


def test_a_failure_in_wave_two_stops_wave_three_and_rolls_wave_one_back(release_env: ReleaseEnv) -> None:
    env = release_env
    SEEN.clear()
    _seed(env)
    before = {name: _task_definition(env, region, service) for name, region, service in TARGETS}
    env.start_operator()
    env.apply(_wave(env, [{"name": "one", "targets": ["use1-web"]},
                          {"name": "two", "targets": ["use1-api", "euw1-web"]},
                          {"name": "three", "targets": ["euw1-api"]}],
                    rollback=True, overrides={"euw1-web": {"lifecycleHooks": PAUSE}}))
    wait_for(lambda: (env.obj("rollout-euw1-web").get("status") or {}).get("phase") == "AwaitingApproval",
             "wave two's paused target", 30)
    wait_for(lambda: (env.obj("rollout-use1-api").get("status") or {}).get("phase") == "Succeeded",
             "wave two's other target", 30)
    _wait(env, "Progressing")
    env.kubectl("annotate", "-n", env.namespace, "ecsbluegreenreleases/rollout-euw1-web", "ecsbg.dev/reject=1")
    status = _wait(env, "RolledBack", timeout=40)
    assert _conditions(status) == {"Ready": "False", "Stalled": "True"}
    states = {t["name"]: t["state"] for w in status["waves"] for t in w["targets"]}
    assert states == {"use1-web": "RolledBack", "use1-api": "RolledBack", "euw1-web": "Failed", "euw1-api": "Absent"}
    assert env.obj("rollout-euw1-api") == {}  # wave three untouched
    assert ("eu-west-1", "api") not in _deploys(env)
    for name, region, service in TARGETS:  # every service runs what it ran before (ECS rolled euw1-web back)
        assert _task_definition(env, region, service) == before[name], name
    # reverse order: wave two's succeeded target went back before wave one's
    rollbacks = _deploys(env)[3:]
    assert rollbacks == [("us-east-1", "api"), ("us-east-1", "web")]
    reasons = _reasons(env, "RolledBack")
    assert {"WaveFailed", "RollbackStarted", "RolledBack"} <= set(reasons)
    _judged({"Progressing", "RolledBack"})  # Failed and RollingBack are judged when a poll saw them
