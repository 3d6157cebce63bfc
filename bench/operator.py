"""The operator's read path at scale: what one poll of N releases costs in AWS calls and time.

N release loops poll one cluster, each every `interval` seconds at its own random phase (as the operator's
per-release loops do), once with no coalescing window (the baseline: a read shares a call only with reads queued
at the very same instant) and once with the operator's default 50 ms window, against the same emulator holding
N services. The ratios are batched/baseline, both measured in this run. Each release's status says what it
deployed, so every poll also runs the drift comparison; `--drifted` makes that share of the services run another
task definition (changed out of band), and the DescribeTaskDefinition column shows what drift costs: one read per
task definition, then the cache.

    python -m bench.operator [--releases 1000] [--interval 5] [--duration 12] [--drifted 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from typing import Any

import boto3

from ecsbg.aws.gateway import Boto3EcsGateway
from ecsbg.domain.model import DeploymentRecord, ReleaseStatus, RevisionRecord
from ecsbg.domain.parsing import parse_release
from ecsbg.metrics.recorder import NullRecorder
from ecsbg_emulators.ecs import EmulatorServer

CLUSTER, REGION, IMAGE = "bench", "us-east-1", "public.ecr.aws/nginx/nginx:1.27"


def seed(url: str, count: int, drifted: float = 0.0) -> dict[str, tuple[str, str]]:
    """`count` services, each with a finished first deployment; returns service -> (deployment ARN, the task
    definition its release deployed). A `drifted` share then runs app:2, as after `aws ecs update-service`."""
    ecs = boto3.client("ecs", endpoint_url=url, region_name=REGION, aws_access_key_id="bench",
                       aws_secret_access_key="bench")
    ecs.create_cluster(clusterName=CLUSTER)
    app1 = ecs.register_task_definition(family="app", containerDefinitions=[{"name": "app", "image": IMAGE}])
    ecs.register_task_definition(family="app", containerDefinitions=[{"name": "app", "image": IMAGE + "-other"}])
    for i in range(count):
        ecs.create_service(cluster=CLUSTER, serviceName=f"svc-{i:04d}", taskDefinition="app:1", desiredCount=1,
                           deploymentController={"type": "ECS"}, deploymentConfiguration={"strategy": "ROLLING"})
    deployed = app1["taskDefinition"]["taskDefinitionArn"]
    arns: dict[str, tuple[str, str]] = {}
    names = [f"svc-{i:04d}" for i in range(count)]
    for chunk in (names[i:i + 10] for i in range(0, count, 10)):
        for service in ecs.describe_services(cluster=CLUSTER, services=chunk)["services"]:
            arns[service["serviceName"]] = (service["currentServiceDeployment"], deployed)
    for name in names[:int(count * drifted)]:  # forceNewDeployment off: only the desired task definition changes
        ecs.update_service(cluster=CLUSTER, service=name, taskDefinition="app:2")
    return arns


def release(service: str) -> dict[str, Any]:
    return {
        "apiVersion": "ecsbg.dev/v1alpha1", "kind": "EcsBlueGreenRelease",
        "metadata": {"name": service, "namespace": "bench", "generation": 1},
        "spec": {"target": {"region": REGION, "cluster": CLUSTER, "service": service},
                 "taskDefinition": {"containers": [{"name": "app", "image": IMAGE}]},
                 "strategy": {"type": "BlueGreen", "bakeTimeInMinutes": 10}},
    }


async def release_loop(gateway: Boto3EcsGateway, spec: Any, prior: ReleaseStatus, *, interval: float,
                       until: float, latencies: list[float]) -> None:
    """One release's polling, as ecsbg.loop.release_loop does it: a random phase, then every `interval`."""
    await asyncio.sleep(random.uniform(0, interval))
    while time.monotonic() < until:
        started = time.monotonic()
        observation = await gateway.observe(spec, prior)
        latencies.append(time.monotonic() - started)
        if observation.problem is not None or observation.service is None:  # measuring failures measures nothing
            raise SystemExit(f"an observation failed: {observation.problem}")
        await asyncio.sleep(interval)


def measure(srv: EmulatorServer, work: list[tuple[Any, ReleaseStatus]], window: float, *, interval: float,
            duration: float) -> dict[str, float]:
    gateway = Boto3EcsGateway(endpoint_url=srv.url, coalesce_seconds=window, metrics=NullRecorder())
    latencies: list[float] = []

    async def run() -> None:
        until = time.monotonic() + duration
        await asyncio.gather(*(release_loop(gateway, spec, prior, interval=interval, until=until,
                                            latencies=latencies) for spec, prior in work))

    random.seed(7)  # the same phases for both runs
    before, started = len(srv.requests), time.monotonic()
    asyncio.run(run())
    elapsed = time.monotonic() - started
    close = getattr(gateway, "close", None)
    if close:
        close()
    latencies.sort()
    taskdefs = sum(1 for r in srv.requests[before:] if r["operation"] == "DescribeTaskDefinition")
    return {"calls_per_s": (len(srv.requests) - before) / elapsed, "observes": len(latencies), "taskdefs": taskdefs,
            "p50": latencies[len(latencies) // 2], "p99": latencies[int(len(latencies) * 0.99)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=5.0, help="each release's poll interval (s)")
    parser.add_argument("--duration", type=float, default=12.0, help="seconds each run lasts")
    parser.add_argument("--window-ms", type=float, default=50.0, help="the batched run's coalescing window")
    parser.add_argument("--drifted", type=float, default=0.0, help="share of services changed out of band")
    args = parser.parse_args(argv)
    # the emulator accepts any credentials; never pick up real ones from the environment
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
    with EmulatorServer(host="127.0.0.1", port=0, speed=1.0) as srv:
        started = time.perf_counter()
        deployments = seed(srv.url, args.releases, args.drifted)
        print(f"seeded {args.releases} services in {time.perf_counter() - started:.1f} s")
        work = []
        for service, (arn, deployed) in deployments.items():
            prior = ReleaseStatus(attempt=1, deployment=DeploymentRecord(attempt=1, arn=arn, status="SUCCESSFUL"),
                                  target=RevisionRecord(None, deployed))
            work.append((parse_release(release(service)), prior))
        runs = {label: measure(srv, work, window, interval=args.interval, duration=args.duration)
                for label, window in (("0 ms", 0.0), (f"{args.window_ms:g} ms", args.window_ms / 1000.0))}
    print(f"{args.releases} releases, each polling every {args.interval:g} s at its own phase, {args.duration:g} s per run")
    print(f"{args.drifted:.0%} of the services drifted (run another task definition than their release deployed)")
    print(f"{'window':>8} {'observes':>9} {'AWS calls/s':>12} {'calls/observe':>14} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'DescribeTaskDefinition':>23}")
    for label, r in runs.items():
        print(f"{label:>8} {r['observes']:>9.0f} {r['calls_per_s']:>12.1f} "
              f"{r['calls_per_s'] * args.duration / r['observes']:>14.2f} {r['p50'] * 1000:>8.1f} {r['p99'] * 1000:>8.1f} "
              f"{r['taskdefs']:>23}")
    base, batched = runs["0 ms"], runs[f"{args.window_ms:g} ms"]
    print(f"ratio batched/baseline (0 ms window, same run): AWS calls/s {batched['calls_per_s'] / base['calls_per_s']:.3f}x, "
          f"p99 observe latency {batched['p99'] / base['p99']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
