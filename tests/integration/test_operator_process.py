"""We test the operator as its own process (`ecsbg run`) where issue 18 found it failing as one:

- credentials never reach its logs, Events or status, even with `--verbose` while it assumes a role with an
  ExternalId (moto's server is the STS; the canary values must appear 0 times);
- a half-open connection to the Kubernetes API (a proxy that swallows bytes) no longer freezes a release loop:
  the status write times out, the liveness probe fails while the API is unreachable, and the release catches up
  once the connection works again;
- a Kubernetes API outage logs one line when the error starts and one when it ends (with the count), no
  traceback per poll, and the loop backs off (ecsbg_release_backoff_seconds).
Every JSON log line about the release carries its namespace and name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ReleaseEnv, release_manifest
from tests.integration.test_release import PAUSE_AFTER_TEST
from tests.plugins.k8s import E2E
from tests.plugins.process import OperatorProcess, TcpProxy, kubeconfig_via

pytestmark = pytest.mark.skipif(E2E, reason="needs the local dev cluster behind a proxy")

ROLE = "arn:aws:iam::123456789012:role/ecsbg-deployer"
CANARIES = {
    "access key id": "AKIACANARY7Q2W3E4R5T",
    "secret access key": "canarySecret/Zx81vB7nM2qL0pK9jH6gF5dS4aA3wE2rT1yU",
    "session token": "canarySessionToken+IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH",
    "external id": "canary-external-id-4f1c2e9d",
}


def _lines(log: str) -> list[dict[str, Any]]:
    out = []
    for raw in log.splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


def _events(env: ReleaseEnv) -> list[dict[str, Any]]:
    events = env.cluster.list("v1", "events", env.namespace)
    return list(events.get("items", []) if isinstance(events, dict) else events)


@pytest.fixture
def operator_process(release_env: ReleaseEnv, tmp_path: Path) -> Iterator[Any]:
    started: list[OperatorProcess] = []

    def start(*, kubeconfig: Path | None = None, verbose: bool = False, **env: str) -> OperatorProcess:
        process = OperatorProcess(kubeconfig=kubeconfig or release_env.kubeconfig, namespace=release_env.namespace,
                                  log_path=tmp_path / f"operator-{len(started)}.log", verbose=verbose,
                                  env={"ECSBG_AWS_ENDPOINT_URL": release_env.ecs.url, "ECSBG_COALESCE_MS": "0",
                                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                                       "AWS_SECRET_ACCESS_KEY": "testing", **env})
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def api_proxy(release_env: ReleaseEnv, tmp_path: Path) -> Iterator[tuple[TcpProxy, Path]]:
    """A TCP proxy in front of the test's API server (TLS passes through it to a real kube-apiserver)."""
    scheme, rest = release_env.api_url.split("//", 1)
    host, port = rest.rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    url = proxy.url.replace("http:", scheme, 1)
    yield proxy, kubeconfig_via(release_env.kubeconfig, url, tmp_path / "kubeconfig-proxy")
    proxy.close()


def test_canary_credentials_never_reach_logs_events_or_status(release_env: ReleaseEnv, operator_process) -> None:
    from moto.server import ThreadedMotoServer
    from moto.sts.models import sts_backends

    env = release_env
    sts = ThreadedMotoServer(port=0, verbose=False)
    sts.start()
    try:
        host, port = sts.get_host_and_port()
        process = operator_process(
            verbose=True, AWS_ENDPOINT_URL_STS=f"http://{host}:{port}", ECSBG_POLL_FAST_SECONDS="0.05",
            ECSBG_POLL_IDLE_SECONDS="0.3", AWS_ACCESS_KEY_ID=CANARIES["access key id"],
            AWS_SECRET_ACCESS_KEY=CANARIES["secret access key"], AWS_SESSION_TOKEN=CANARIES["session token"])
        body = release_manifest("web", env.namespace)
        body["spec"]["target"].update(roleArn=ROLE, externalId=CANARIES["external id"])
        env.apply(body)
        env.wait_phase("web", "Succeeded", timeout=90)
        polls = process.log().count("DescribeServices took")
        process.wait_for(lambda: process.log().count("DescribeServices took") >= polls + 3, "idle polls after success")
        process.stop()
        assumed = [role for regions in sts_backends.values() for backend in regions.values()
                   for role in backend.assumed_roles]
    finally:
        sts.stop()
    assert assumed, "the operator assumed the role through moto's STS"
    secrets = dict(CANARIES)
    for n, role in enumerate(assumed):
        secrets.update({f"assumed key id {n}": role.access_key_id, f"assumed secret {n}": role.secret_access_key,
                        f"assumed token {n}": role.session_token})
    log, events, status = process.log(), json.dumps(_events(env)), json.dumps(env.status("web"))
    assert '"level": "DEBUG"' in log, "--verbose logged at DEBUG"
    found = {what: (log.count(value), events.count(value), status.count(value)) for what, value in secrets.items()}
    assert found == {what: (0, 0, 0) for what in secrets}, found

    lines = _lines(log)
    passes = [e for e in lines if e["logger"] == "ecsbg.loop" and e["message"].startswith("pass of")]
    # kopf also logs about cluster-scoped objects it indexes (namespaces, EcsReleasePolicies): no namespace there
    kopf = [e for e in lines if e["logger"] == "kopf.objects" and e.get("namespace")]
    assert passes and kopf, "the release loop and kopf logged about the release"
    assert all((e.get("namespace"), e.get("name")) == (env.namespace, "web") for e in passes + kopf)


def _approve_in_ecs(env: ReleaseEnv) -> None:
    """Approve the pause directly in ECS, as a person with the AWS console would: the operator then has a status
    change to write while its API connection is broken."""
    status = env.status("web")
    for hook in status["hooks"]:
        env.client.continue_service_deployment(serviceDeploymentArn=status["deployment"]["arn"],
                                               hookId=hook["hookId"], action="CONTINUE")


def test_a_half_open_api_connection_is_bounded_and_fails_liveness(release_env: ReleaseEnv, operator_process,
                                                                 api_proxy) -> None:
    env = release_env
    proxy, kubeconfig = api_proxy
    process = operator_process(kubeconfig=kubeconfig, ECSBG_POLL_FAST_SECONDS="0.1", ECSBG_POLL_IDLE_SECONDS="0.5",
                               ECSBG_K8S_TIMEOUT_SECONDS="2", ECSBG_API_UNREACHABLE_SECONDS="3",
                               ECSBG_BACKOFF_MAX_SECONDS="1")
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST))
    env.wait_phase("web", "AwaitingApproval", timeout=90)
    process.wait_for(lambda: process.healthz() == 200, "a healthy liveness probe")
    proxy.swallow()
    _approve_in_ecs(env)
    failure = f"reconcile of {env.namespace}/web failed"
    process.wait_for(lambda: failure in process.log(), "the status write to time out instead of hanging")
    process.wait_for(lambda: process.healthz() == 500, "the liveness probe to fail while the API is unreachable")
    assert env.status("web")["phase"] == "AwaitingApproval", "nothing could be written meanwhile"
    proxy.forward()
    env.wait_phase("web", "Succeeded", timeout=90)
    process.wait_for(lambda: process.healthz() == 200, "liveness to recover")
    process.wait_for(lambda: "works again after" in process.log(), "the recovery line")
    probes = [e for e in _lines(process.log()) if e["logger"] in ("aiohttp.server", "kopf.activities.probe")]
    assert any("Kubernetes API unreachable" in e["message"] for e in probes), "the failing probe says why"
    assert not [e for e in probes if "exception" in e], "a failing probe logs no traceback"


def test_an_api_outage_logs_state_changes_not_a_traceback_per_poll(release_env: ReleaseEnv, operator_process,
                                                                   api_proxy, request) -> None:
    env = release_env
    proxy, kubeconfig = api_proxy
    process = operator_process(kubeconfig=kubeconfig, ECSBG_POLL_FAST_SECONDS="0.05", ECSBG_POLL_IDLE_SECONDS="0.5",
                               ECSBG_K8S_TIMEOUT_SECONDS="2", ECSBG_BACKOFF_MAX_SECONDS="0.8")
    env.apply(release_manifest("web", env.namespace, hooks=PAUSE_AFTER_TEST))
    env.wait_phase("web", "AwaitingApproval", timeout=90)
    proxy.refuse()
    _approve_in_ecs(env)
    backoff = re.compile(r'ecsbg_release_backoff_seconds\{name="web",namespace="[^"]+"\} 0\.8')
    process.wait_for(lambda: backoff.search(process.metrics()), "the loop's backoff to reach its ceiling")
    proxy.forward()
    env.wait_phase("web", "Succeeded", timeout=90)
    recovered = process.wait_for(
        lambda: re.search(r"works again after (\d+) failed passes", process.log()), "the recovery line")
    assert int(recovered.group(1)) >= 3, "several passes failed during the outage"
    reported = [e for e in _lines(process.log()) if e.get("logger") == "ecsbg.loop" and e["level"] != "DEBUG"]
    assert [e["level"] for e in reported] == ["ERROR", "WARNING"], [e["message"] for e in reported]
    assert "the Kubernetes API is unreachable" in reported[0]["message"]
    assert not [e for e in reported if "exception" in e], "no traceback for an unreachable API"
