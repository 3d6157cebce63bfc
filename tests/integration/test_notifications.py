"""Notifications end to end: the real operator (kopf, the chart's RBAC on the real API server, boto3 against the
ECS emulator) delivers to real local HTTP receivers shaped like Slack, Teams and a generic webhook.

- an approval wait and a rollback by ECS each reach every subscribed provider exactly once, also across operator
  restarts (status.notifications records the transition with its deliveries);
- a delivery still Pending when the operator stops is sent by the next one, once;
- a failing receiver is retried and counted; one that keeps failing gives a Failed delivery, the metric and a
  Warning Event; a missing provider or Secret is a specific Event, and the release goes on.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import kopf
import pytest

from ecsbg.handlers import build_registry
from ecsbg.wiring import build_notifier
from tests.integration.conftest import GV, ReleaseEnv, make_deps, release_manifest

pytestmark = pytest.mark.usefixtures("receivers")

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:smoke-after-shift"
HOOKS = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 1440, "action": "Rollback"}},
         {"type": "Lambda", "functionArn": FUNCTION, "roleArn": "arn:aws:iam::123456789012:role/hooks",
          "stages": ["POST_PRODUCTION_TRAFFIC_SHIFT"]}]


class Operator:
    """Starts the operator of `env` with a notifier (fast retries), as many times as a test restarts it."""

    def __init__(self, env: ReleaseEnv, run_kopf: Any, tries: int = 3, backoff: float = 0.05) -> None:
        self.env, self.run_kopf, self.tries, self.backoff = env, run_kopf, tries, backoff
        self.deps: Any = None

    def start(self) -> None:
        deps = make_deps(self.env.ecs.url)
        deps.settings = replace(deps.settings, notify_tries=self.tries, notify_backoff_seconds=self.backoff)
        deps.notifier = build_notifier(deps.settings, deps.events, deps.metrics)
        self.deps = deps
        handle = self.run_kopf(build_registry(deps.settings), namespaces=(self.env.namespace,),
                               memo=kopf.Memo(deps=deps))
        self.env.operators.append(handle)

    def restart(self) -> None:
        self.env.stop_operators()
        self.start()

    def count(self, provider: str, trigger: str, outcome: str, type: str) -> float:
        return self.deps.metrics.registry.get_sample_value("ecsbg_notifications_total", {
            "provider": provider, "type": type, "trigger": trigger, "outcome": outcome}) or 0.0


def _provider(env: ReleaseEnv, name: str, kind: str, url: str | None, *, cluster: bool = False) -> None:
    secret = f"{name}-webhook"
    if url is not None:
        env.kubectl("create", "secret", "generic", secret, "-n", env.namespace, f"--from-literal=address={url}")
    ref: dict[str, Any] = {"name": secret}
    meta: dict[str, Any] = {"name": name}
    if cluster:
        ref["namespace"] = env.namespace
    else:
        meta["namespace"] = env.namespace
    env.kubectl("apply", "-f", "-", input=_yaml({
        "apiVersion": GV, "kind": "ClusterEcsNotificationProvider" if cluster else "EcsNotificationProvider",
        "metadata": meta, "spec": {"type": kind, "secretRef": ref}}))


def _yaml(obj: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(obj)


def _deliveries(env: ReleaseEnv, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["id"], d["provider"]): d for e in env.status(name).get("notifications") or []
            for d in e.get("deliveries") or []}


def _settled(env: ReleaseEnv, name: str, count: int, timeout: float = 30.0) -> dict[tuple[str, str], dict[str, Any]]:
    env.wait_status(name, lambda s: sum(1 for e in s.get("notifications") or [] for d in e["deliveries"]
                                        if d["state"] != "Pending") >= count, timeout, f"{count} settled deliveries")
    return _deliveries(env, name)


def _events(env: ReleaseEnv, reason: str) -> list[dict[str, Any]]:
    return [e for e in env.cluster.list("v1", "events", env.namespace) if e.get("reason") == reason]


@pytest.fixture
def cluster_provider(release_env: ReleaseEnv):
    name = f"platform-{release_env.namespace}"[:60]
    yield name
    release_env.kubectl("delete", "clusterecsnotificationproviders", name, "--ignore-not-found")


def test_approval_and_ecs_rollback_notify_each_provider_once_across_restarts(
        release_env: ReleaseEnv, run_kopf, receivers, cluster_provider) -> None:
    env = release_env
    slack, teams, hook = receivers.add("slack"), receivers.add("msteams"), receivers.add("webhook")
    _provider(env, "team-slack", "slack", slack.url)
    _provider(env, "team-teams", "msteams", teams.url)
    _provider(env, cluster_provider, "webhook", hook.url, cluster=True)
    env.ecs.control.set_hook_behaviour(FUNCTION, {"kind": "fail"})
    wanted = ["AwaitingApproval", "RolledBack"]
    body = release_manifest("web", env.namespace, hooks=HOOKS, notifications=[
        {"providerRef": {"name": "team-slack"}, "triggers": wanted},
        {"providerRef": {"kind": "EcsNotificationProvider", "name": "team-teams"}, "triggers": wanted,
         "template": "${release} waits: ${approve}"}])
    body["metadata"]["annotations"] = {f"ecsbg.dev/notify-cluster.{cluster_provider}": ",".join(wanted)}
    operator = Operator(env, run_kopf)
    operator.start()
    env.apply(body)
    env.wait_phase("web", "AwaitingApproval")
    deliveries = _settled(env, "web", 3)
    assert {d["state"] for d in deliveries.values()} == {"Delivered"}, deliveries
    assert [len(r.accepted) for r in (slack, teams, hook)] == [1, 1, 1]
    assert "kubectl ecsrelease approve web -n " in slack.accepted[0]["text"]
    assert teams.accepted[0]["attachments"][0]["content"]["body"][1]["text"] == \
        f"{env.namespace}/web waits: kubectl ecsrelease approve web -n {env.namespace} --attempt 1"
    webhook = hook.accepted[0]
    assert webhook["trigger"] == "AwaitingApproval" and webhook["facts"]["expires"].endswith("Z")
    assert webhook["facts"]["approve (annotation)"] == \
        f"kubectl annotate ecsreleases/web -n {env.namespace} ecsbg.dev/approve=1 --overwrite"

    operator.restart()  # the transition is recorded as delivered: the new process sends nothing
    time.sleep(1.0)
    assert [len(r.accepted) for r in (slack, teams, hook)] == [1, 1, 1]

    env.annotate("web", "approve", "1")  # the Lambda after the production shift fails: ECS rolls back
    status = env.wait_phase("web", "RolledBack", timeout=60)
    deliveries = _settled(env, "web", 6)
    assert {d["state"] for d in deliveries.values()} == {"Delivered"}, deliveries
    assert [len(r.accepted) for r in (slack, teams, hook)] == [2, 2, 2]
    rolled = hook.accepted[1]
    assert (rolled["trigger"], rolled["reason"], rolled["attempt"]) == ("RolledBack", "hook", 1), rolled
    assert rolled["id"] == f"{env.namespace}/web/1/RolledBack" and status["attempt"] == 1
    assert "rolled back by ECS (reason: hook)" in slack.accepted[1]["text"]
    assert operator.count(f"ClusterEcsNotificationProvider/{cluster_provider}", "RolledBack", "delivered",
                          "webhook") == 1

    operator.restart()
    time.sleep(1.0)
    assert [len(r.accepted) for r in (slack, teams, hook)] == [2, 2, 2]
    assert [r["status"] for r in slack.requests] == [200, 200]  # no retries either


def test_a_delivery_pending_at_shutdown_is_sent_by_the_next_operator_once(release_env: ReleaseEnv, run_kopf,
                                                                          receivers) -> None:
    env = release_env
    hook = receivers.add("webhook")
    hook.fail(always=503)
    _provider(env, "ops", "webhook", hook.url)
    body = release_manifest("web", env.namespace, notifications=[
        {"providerRef": {"name": "ops"}, "triggers": ["Succeeded"]}])
    operator = Operator(env, run_kopf, tries=50, backoff=0.2)
    operator.start()
    env.apply(body)
    env.wait_phase("web", "Succeeded")
    env.wait_status("web", lambda s: bool(s.get("notifications")), what="the Succeeded notification recorded")
    deadline = time.monotonic() + 10
    while len(hook.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    env.stop_operators()  # mid-retry: the delivery is still Pending in status
    assert [d["state"] for d in _deliveries(env, "web").values()] == ["Pending"]
    assert hook.accepted == []
    hook.fail()  # the receiver recovers
    operator.start()
    deliveries = _settled(env, "web", 1)
    assert [d["state"] for d in deliveries.values()] == ["Delivered"]
    time.sleep(0.5)
    assert len(hook.accepted) == 1 and hook.accepted[0]["trigger"] == "Succeeded"


def test_failures_are_retried_counted_and_reported_and_never_block_the_release(
        release_env: ReleaseEnv, run_kopf, receivers) -> None:
    env = release_env
    flaky, broken = receivers.add("slack"), receivers.add("discord")
    flaky.fail(500, 502)  # then accepts
    broken.fail(always=500)
    _provider(env, "flaky", "slack", flaky.url)
    _provider(env, "broken", "discord", broken.url)
    _provider(env, "no-secret", "slack", None)
    body = release_manifest("web", env.namespace, notifications=[
        {"providerRef": {"name": name}, "triggers": ["Succeeded"]} for name in ("flaky", "broken", "no-secret",
                                                                                "missing")])
    body["metadata"]["annotations"] = {"ecsbg.dev/notify.flaky": "Succeded"}  # a typo: reported, not fatal
    operator = Operator(env, run_kopf, tries=3, backoff=0.05)
    operator.start()
    env.apply(body)
    env.wait_phase("web", "Succeeded")
    deliveries = {p.split("/")[1]: d for (_, p), d in _settled(env, "web", 4).items()}
    assert (deliveries["flaky"]["state"], deliveries["flaky"]["tries"]) == ("Delivered", 3)
    assert (deliveries["broken"]["state"], deliveries["broken"]["tries"]) == ("Failed", 3)
    assert "HTTP 500" in deliveries["broken"]["error"]
    assert deliveries["no-secret"]["state"] == "Failed" and "is missing or has no key 'address'" in \
        deliveries["no-secret"]["error"]
    assert deliveries["missing"]["state"] == "Failed" and "'missing' not found" in deliveries["missing"]["error"]
    assert len(flaky.accepted) == 1 and len(broken.requests) == 3 and broken.accepted == []
    prefix = f"EcsNotificationProvider/{env.namespace}/"
    assert operator.count(prefix + "flaky", "Succeeded", "retry", "slack") == 2
    assert operator.count(prefix + "flaky", "Succeeded", "delivered", "slack") == 1
    assert operator.count(prefix + "broken", "Succeeded", "failed", "discord") == 1
    assert operator.count(prefix + "missing", "Succeeded", "misconfigured", "unknown") == 1
    deadline = time.monotonic() + 10
    while len(_events(env, "NotificationFailed")) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    failed = sorted(e["message"] for e in _events(env, "NotificationFailed"))
    assert len(failed) == 3 and all(e["type"] == "Warning" for e in _events(env, "NotificationFailed")), failed
    assert any("EcsNotificationProvider/broken failed: HTTP 500" in m for m in failed)
    assert any("not found in namespace" in m for m in failed)
    (typo,) = _events(env, "InvalidNotification")
    assert "unknown trigger(s) Succeded" in typo["message"]
    assert env.status("web")["phase"] == "Succeeded"
