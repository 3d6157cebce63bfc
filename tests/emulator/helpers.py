"""Polling helpers: deadlines, never fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

FINISHED = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
HOOK = "arn:aws:lambda:us-east-1:123456789012:function:"


def describe(client: Any, arn: str) -> dict[str, Any]:
    return client.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def wait_until(client: Any, arn: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        dep = describe(client, arn)
        if predicate(dep):
            return dep
        if time.monotonic() > deadline:
            raise AssertionError(f"deadline passed; last state {dep['status']} {dep.get('lifecycleStage')}")
        time.sleep(0.002)


def wait_finished(client: Any, arn: str, timeout: float = 20.0) -> dict[str, Any]:
    return wait_until(client, arn, lambda d: d["status"] in FINISHED, timeout)


def observe(client: Any, arn: str, timeout: float = 20.0) -> tuple[list[tuple], dict[str, Any]]:
    """Poll until finished; distinct (status, stage, prod weight, test weight) observations of the target."""
    seen: list[tuple] = []
    deadline = time.monotonic() + timeout
    while True:
        dep = describe(client, arn)
        target = dep["targetServiceRevision"]
        obs = (dep["status"], dep.get("lifecycleStage"), target.get("requestedProductionTrafficWeight"),
               target.get("requestedTestTrafficWeight"))
        if not seen or seen[-1] != obs:
            seen.append(obs)
        if dep["status"] in FINISHED:
            return seen, dep
        assert time.monotonic() < deadline, f"deployment did not finish; seen {seen}"
        time.sleep(0.001)


def history(srv: Any, arn: str) -> list[dict[str, Any]]:
    for service in srv.control.state()["services"]:
        for dep in service["deployments"]:
            if dep["serviceDeploymentArn"] == arn:
                return dep["history"]
    raise AssertionError(f"no deployment {arn}")


def hook_log(srv: Any, arn: str) -> list[dict[str, Any]]:
    """Every hook execution of the deployment, from the control API (ECS lists only the active ones)."""
    for service in srv.control.state()["services"]:
        for dep in service["deployments"]:
            if dep["serviceDeploymentArn"] == arn:
                return dep["hooks"]
    raise AssertionError(f"no deployment {arn}")


def stages_of(hist: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for entry in hist:
        if entry["stage"] and (not out or out[-1] != entry["stage"]):
            out.append(entry["stage"])
    return out


def prod_weights(hist: list[dict[str, Any]]) -> list[float]:
    out: list[float] = []
    for entry in hist:
        w = entry["productionWeight"]
        if w is not None and (not out or out[-1] != w):
            out.append(w)
    return out


def new_revision(client: Any, image: str = "public.ecr.aws/nginx/nginx:1.28") -> str:
    return client.register_task_definition(
        family="web", containerDefinitions=[{"name": "app", "image": image, "portMappings": [{"containerPort": 80}]}]
    )["taskDefinition"]["taskDefinitionArn"]


def deploy(client: Any, cluster: str = "demo", service: str = "web", **update: Any) -> str:
    """UpdateService with a new task definition revision; returns the new service deployment ARN."""
    update.setdefault("taskDefinition", new_revision(client))
    svc = client.update_service(cluster=cluster, service=service, **update)["service"]
    return svc["currentServiceDeployment"]


def is_subsequence(small: list, big: list) -> bool:
    it = iter(big)
    return all(x in it for x in small)
