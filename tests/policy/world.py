"""The world of the EcsReleasePolicy end-to-end tests (tests/policy/test_*.py; fixtures in conftest.py): the operator (real
kopf, dev cluster) assumes roles through moto's STS (server mode, real HTTP; moto's ECR too) and reaches the ECS
emulator, which partitions by the account of the caller's keys; policies, namespaces and Secrets it creates are
deleted afterwards (policies are cluster-scoped: none may outlive its test).
"""

from __future__ import annotations

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
from ecsbg.k8s.events import KubeEventSink
from ecsbg.k8s.status import KubeStatusWriter
from ecsbg.metrics.prometheus import PrometheusRecorder
from ecsbg.reconciler import Deps
from ecsbg.registry.oci import OciResolver
from tests.integration.conftest import operator_settings, release_manifest

A, B = "111111111111", "222222222222"
ROLES = {A: f"arn:aws:iam::{A}:role/ecsbg/team-a", B: f"arn:aws:iam::{B}:role/ecsbg/team-b"}
GV = "ecsbg.dev/v1alpha1"


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
        deps = Deps(ecs=gateway, clock=SystemClock(), events=KubeEventSink(), status=KubeStatusWriter(),
                    metrics=self.metrics, settings=settings, digests=gateway.digests)  # as ecsbg.wiring does
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


def registered_images(world: PolicyWorld, since: int) -> list[str]:
    return [c["image"] for r in world.ecs.requests[since:] if r["operation"] == "RegisterTaskDefinition"
            for c in r["parameters"].get("containerDefinitions", [])]
