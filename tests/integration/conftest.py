"""The operator, whole: the real kopf runtime against a Kubernetes API, real boto3 against the ECS emulator.

`release_env` gives a test an emulator, a namespace, the operator running in it, and helpers to apply a
release, read its status, wait for a condition and count what the operator asked of ECS.

Every test using `release_env` or `slow_release_env` runs on a Kubernetes backend (`k8s_backend`):
- `apiserver`: a real kube-apiserver + etcd (tests/plugins/apiserver.py), for every test. The operator runs there
  under the Helm chart's ServiceAccount and ClusterRole (a TokenRequest token), the test's helpers as the admin;
- `devcluster`: the project's own API (`ecsbg_emulators.devcluster`, or the current context under K8S_E2E=1), also for the
  modules in ALSO_ON_DEVCLUSTER (the split that keeps `make test` within its time budget).
ECSBG_K8S_BACKENDS=devcluster (or =apiserver) narrows the run to one backend: with `devcluster` alone every test
runs on the dev cluster (no Go tools needed).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import kopf
import pytest

from ecsbg.aws.gateway import AwsSettings, Boto3EcsGateway
from ecsbg.clock import SystemClock
from ecsbg.handlers import build_registry
from ecsbg.k8s.events import KubeEventSink
from ecsbg.k8s.status import KubeStatusWriter
from ecsbg.metrics.prometheus import PrometheusRecorder
from ecsbg.reconciler import Deps
from ecsbg.settings import Settings
from ecsbg_emulators.ecs import EmulatorServer
from tests.plugins.ecs import elb_arns, make_client, seed_service

GV, PLURAL = "ecsbg.dev/v1alpha1", "ecsbluegreenreleases"
IMAGE_V2 = "public.ecr.aws/nginx/nginx:1.28"


def release_manifest(name: str, namespace: str, *, strategy: dict[str, Any] | None = None,
                     hooks: list[dict[str, Any]] | None = None, image: str = IMAGE_V2,
                     service: str = "web", **spec: Any) -> dict[str, Any]:
    arns = elb_arns(service)
    body: dict[str, Any] = {
        "apiVersion": GV, "kind": "EcsBlueGreenRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "target": {"region": "us-east-1", "cluster": "demo", "service": service},
            "taskDefinition": {"containers": [{"name": "app", "image": image}]},
            "strategy": strategy or {"type": "BlueGreen", "bakeTimeInMinutes": 10},
            "loadBalancers": [{
                "targetGroupArn": arns["blue"], "alternateTargetGroupArn": arns["green"],
                "productionListenerRule": arns["prod_rule"], "testListenerRule": arns["test_rule"],
                "roleArn": arns["role"],
            }],
            **spec,
        },
    }
    if hooks:
        body["spec"]["lifecycleHooks"] = hooks
    return body


def one_target_wave(name: str, namespace: str, *, service: str, bake_minutes: int) -> dict[str, Any]:
    """An EcsReleaseWave with one target (`service` in us-east-1's demo cluster) in one wave."""
    return {"apiVersion": GV, "kind": "EcsReleaseWave", "metadata": {"name": name, "namespace": namespace},
            "spec": {"template": {"taskDefinition": {"containers": [{"name": "app", "image": IMAGE_V2}]},
                                  "strategy": {"type": "BlueGreen", "bakeTimeInMinutes": bake_minutes}},
                     "targets": [{"name": service, "region": "us-east-1", "cluster": "demo", "service": service}],
                     "waves": [{"name": "only", "targets": [service]}]}}


_RAISE = object()


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 30.0, *, default: Any = _RAISE) -> Any:
    """The first truthy value of `predicate`, polled every 50 ms; after `timeout`, `default` or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if value:
        return value
    if default is not _RAISE:
        return default
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class ReleaseEnv:
    ecs: EmulatorServer
    client: Any
    cluster: Any
    namespace: str
    kubectl: Callable[..., Any]
    start_operator: Callable[[], Any]
    operators: list[Any] = field(default_factory=list)
    seeded: int = 0  # requests made while seeding ECS, before any operator ran: not the operator's
    backend: str = "devcluster"  # "devcluster" or "apiserver" (see k8s_backend)
    kubeconfig: Any = None  # the operator's kubeconfig on this backend (for an operator run as a process)
    api_url: str = ""  # the backend's API server URL

    def apply(self, body: dict[str, Any]) -> None:
        self.cluster.apply(body)

    def obj(self, name: str) -> dict[str, Any]:
        return self.cluster.get(GV, PLURAL, self.namespace, name) or {}

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.obj(name).get("status") or {})

    def annotate(self, name: str, key: str, value: str) -> None:
        self.kubectl("annotate", "-n", self.namespace, f"{PLURAL}/{name}", f"ecsbg.dev/{key}={value}", "--overwrite")

    def wait_status(self, name: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0,
                    what: str = "") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.status(name)
            if predicate(status):
                return status
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what or predicate}: last status {status}")

    def wait_phase(self, name: str, *phases: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_status(name, lambda s: s.get("phase") in phases, timeout, f"phase in {phases}")

    def event_messages(self, name: str, reason: str, timeout: float = 10.0) -> list[str]:
        """Messages of the release's Events of `reason`, waiting up to `timeout` for one (Events are posted after
        the status patch that caused them)."""
        return wait_for(lambda: [e["message"] for e in self.cluster.list("v1", "events", self.namespace)
                                 if e["involvedObject"]["name"] == name and e["reason"] == reason],
                        f"a {reason} Event", timeout, default=[])

    def calls(self, operation: str) -> list[dict[str, Any]]:
        """Successful requests of `operation` made since the environment was seeded (i.e. by the operator)."""
        return [r for r in self.ecs.requests[self.seeded:] if r["operation"] == operation and r["statusCode"] == 200]

    def stop_operators(self) -> None:
        while self.operators:
            self.operators.pop().stop()


class KubeApi:
    """The few DevCluster calls the tests use, over the official client: for K8S_E2E=1 runs on a real cluster
    (the dev_cluster fixture is None there)."""

    def __init__(self) -> None:
        from kubernetes import client, config

        config.load_kube_config()
        self.custom, self.core = client.CustomObjectsApi(), client.CoreV1Api()

    def apply(self, body: dict[str, Any]) -> None:
        from kubernetes.client.exceptions import ApiException

        group, version = body["apiVersion"].split("/")
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        try:
            self.custom.create_namespaced_custom_object(group, version, ns, PLURAL, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.custom.patch_namespaced_custom_object(group, version, ns, PLURAL, name, {"spec": body["spec"]},
                                                       _content_type="application/merge-patch+json")

    def get(self, gv: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        group, version = gv.split("/")
        try:
            return dict(self.custom.get_namespaced_custom_object(group, version, namespace, plural, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, gv: str, plural: str, namespace: str) -> dict[str, Any]:
        assert (gv, plural) == ("v1", "events")
        return self.core.api_client.sanitize_for_serialization(self.core.list_namespaced_event(namespace))


def operator_settings(ecs_url: str, *, poll: float = 0.02) -> Settings:
    return Settings(poll_fast_seconds=poll, poll_idle_seconds=0.5, metrics_port=0, health_port=0,
                    aws_endpoint_url=ecs_url, coalesce_ms=0)


def make_deps(ecs_url: str, *, poll: float = 0.02, metrics: Any = None, max_attempts: int | None = None) -> Deps:
    """`max_attempts` overrides botocore's (standard mode) attempts per call, e.g. 1 to see every fault."""
    settings = operator_settings(ecs_url, poll=poll)
    metrics = metrics or PrometheusRecorder()
    clock = SystemClock()
    aws = AwsSettings()
    if max_attempts is not None:
        aws = replace(aws, clients=replace(aws.clients, max_attempts=max_attempts))
    gateway = Boto3EcsGateway(endpoint_url=ecs_url, coalesce_seconds=0, metrics=metrics, clock=clock, settings=aws)
    return Deps(ecs=gateway, clock=clock, events=KubeEventSink(), status=KubeStatusWriter(), metrics=metrics,
                settings=settings)


BACKENDS = tuple(b for b in os.environ.get("ECSBG_K8S_BACKENDS", "devcluster,apiserver").split(",") if b)
# The split that keeps `make test` in budget: every scenario runs on the real API server; these modules (the
# operator's whole release life) run on the dev cluster too, which `make demo` and the benchmarks use.
ALSO_ON_DEVCLUSTER = {"tests.integration.test_release"}


def pytest_generate_tests(metafunc) -> None:
    """Parametrize `k8s_backend` (unless a test chose its backend itself) by the split above."""
    if "k8s_backend" not in metafunc.fixturenames or any(
            "k8s_backend" in m.args[0] for m in metafunc.definition.iter_markers("parametrize")):
        return
    wanted = ["apiserver"]
    if metafunc.module.__name__ in ALSO_ON_DEVCLUSTER:
        wanted.insert(0, "devcluster")
    metafunc.parametrize("k8s_backend", [b for b in wanted if b in BACKENDS] or list(BACKENDS), indirect=True)


@dataclass
class Backend:
    """Where a test's releases live: the API helpers, an admin `kubectl` and a fresh namespace."""

    name: str
    cluster: Any
    kubectl: Callable[..., Any]
    namespace: str
    kubeconfig: Any = None  # the operator's kubeconfig (for an operator run as a process)
    api_url: str = ""


def operator_identity(monkeypatch: Any, kubeconfig: Any) -> None:
    """Operators started from now on in this test authenticate with `kubeconfig`.

    kopf's kubeconfig login reads KUBECONFIG when the operator starts; the official client (the status writer's)
    read it once, at import, into KUBE_CONFIG_DEFAULT_LOCATION."""
    from kubernetes.config import kube_config

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))


@pytest.fixture
def k8s_backend(request, monkeypatch) -> Iterator[Backend]:
    if request.param == "devcluster":
        dev_cluster = request.getfixturevalue("dev_cluster")
        from tests.plugins.k8s import KUBECONFIG_PATH

        yield Backend("devcluster", dev_cluster or KubeApi(), request.getfixturevalue("kubectl"),
                      request.getfixturevalue("k8s_namespace"), KUBECONFIG_PATH,
                      dev_cluster.url if dev_cluster else "")
        return
    real = request.getfixturevalue("real_cluster")
    namespace = real.create_namespace()
    operator_identity(monkeypatch, real.operator_kubeconfig)
    try:
        yield Backend("apiserver", real.client, real.kubectl, namespace, real.operator_kubeconfig, real.plane.url)
    finally:
        real.delete_namespace(namespace)


def _env(ecs: EmulatorServer, backend: Backend, run_kopf: Any, monkeypatch: Any,
         poll: float) -> Iterator[ReleaseEnv]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    client = make_client(ecs.url)

    def start() -> Any:
        deps = make_deps(ecs.url, poll=poll)
        handle = run_kopf(build_registry(deps.settings), namespaces=(ns,), memo=kopf.Memo(deps=deps))
        env.operators.append(handle)
        return handle

    ns = backend.namespace
    env = ReleaseEnv(ecs=ecs, client=client, cluster=backend.cluster, namespace=ns, kubectl=backend.kubectl,
                     start_operator=start, seeded=len(ecs.requests), backend=backend.name,
                     kubeconfig=backend.kubeconfig, api_url=backend.api_url)
    yield env
    env.stop_operators()


@pytest.fixture
def release_env(ecs_emulator, k8s_backend, run_kopf, monkeypatch) -> Iterator[ReleaseEnv]:
    """Emulator at speed 2000 (a 10-minute bake takes 0.3 s), a seeded BLUE_GREEN-ready service, no operator yet."""
    seed_service(make_client(ecs_emulator.url))
    yield from _env(ecs_emulator, k8s_backend, run_kopf, monkeypatch, poll=0.02)


@pytest.fixture
def slow_release_env(k8s_backend, run_kopf, monkeypatch) -> Iterator[ReleaseEnv]:
    """Emulator at speed 10: the shortest stage lasts 0.1 s, five fast polls, so every stage is seen."""
    with EmulatorServer(host="127.0.0.1", port=0, speed=10.0) as ecs:
        seed_service(make_client(ecs.url), timeout=30.0)
        yield from _env(ecs, k8s_backend, run_kopf, monkeypatch, poll=0.02)
