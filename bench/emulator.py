"""Benchmark of the ECS emulator: read latency with 1,000 services, idle vs 100 deployments in flight.

`python -m bench.emulator [--services N] [--inflight D] [--calls C] [--speed S]`. Server and boto3 client share
one process pinned to one CPU, as the operator's benchmark runs them. The baseline, measured in the same run, is
the same calls against the same 1,000 services while no deployment is in flight; the ratios show what 100
concurrent deployments (blue/green, linear with Lambda hooks, canary) cost the server. The operator polls every
5 s, so the last column compares p99 with that interval. Exit 1 if a deployment failed to stay in flight through
the loaded measurement or if the loaded p99 reaches 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/emulator.py` from the repo root

from tests.plugins.ecs import make_client, seed_service  # noqa: E402

from ecsbg_emulators.ecs import EmulatorServer  # noqa: E402

POLL_INTERVAL = 5.0
HOOK = "arn:aws:lambda:us-east-1:123456789012:function:bench-check"
CONFIGS = (
    {"strategy": "BLUE_GREEN", "bake_time_in_minutes": 30},
    {"strategy": "LINEAR", "bake_time_in_minutes": 10, "linear_configuration": {"stepPercent": 10.0,
     "stepBakeTimeInMinutes": 1}, "lifecycle_hooks": [{"targetType": "AWS_LAMBDA", "hookTargetArn": HOOK,
     "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"]}]},
    {"strategy": "CANARY", "bake_time_in_minutes": 20, "canary_configuration": {"canaryPercent": 5.0,
     "canaryBakeTimeInMinutes": 10}},
)


def pin_one_cpu() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(client, services: list[str], deployments: list[str], calls: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"DescribeServices": [], "DescribeServiceDeployments": []}
    for i in range(calls):
        names = [services[(i * 10 + k) % len(services)] for k in range(10)]
        started = time.perf_counter()
        client.describe_services(cluster="bench", services=names)
        out["DescribeServices"].append(time.perf_counter() - started)
        arns = [deployments[(i * 20 + k) % len(deployments)] for k in range(20)]
        started = time.perf_counter()
        client.describe_service_deployments(serviceDeploymentArns=arns)
        out["DescribeServiceDeployments"].append(time.perf_counter() - started)
    return out


def in_flight(client, arns: list[str]) -> int:
    busy = 0
    for i in range(0, len(arns), 20):
        for dep in client.describe_service_deployments(serviceDeploymentArns=arns[i:i + 20])["serviceDeployments"]:
            busy += dep["status"] in ("PENDING", "IN_PROGRESS")
    return busy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--inflight", type=int, default=100)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--speed", type=float, default=100.0, help="time factor while loaded")
    args = parser.parse_args(argv)
    pin_one_cpu()
    with EmulatorServer(speed=1000.0) as srv:
        client = make_client(srv.url)
        started = time.perf_counter()
        names = [f"svc-{i:04d}" for i in range(args.services)]
        for i, name in enumerate(names):
            seed_service(client, cluster="bench", service=name, wait=False, **CONFIGS[i % len(CONFIGS)])
        setup = time.perf_counter() - started
        time.sleep(0.5)  # let the 1,000 first deployments finish (about 50 ms of emulated work at speed 1000)
        srv.control.set_speed(args.speed)
        current = [client.describe_services(cluster="bench", services=names[i:i + 10])["services"]
                   for i in range(0, len(names), 10)]
        steady = [s["currentServiceDeployment"] for batch in current for s in batch]
        idle = measure(client, names, steady, args.calls)

        srv.control.set_hook_behaviour(HOOK, {"kind": "in_progress", "times": 3, "callBackDelay": 20})
        targets = names[: args.inflight]
        loaded_arns = [client.update_service(cluster="bench", service=n, forceNewDeployment=True)["service"]
                       ["currentServiceDeployment"] for n in targets]
        busy_before = in_flight(client, loaded_arns)
        executed, started = srv.scheduler.executed, time.perf_counter()
        loaded = measure(client, names, loaded_arns + steady, args.calls)
        elapsed, executed = time.perf_counter() - started, srv.scheduler.executed - executed
        busy_after = in_flight(client, loaded_arns)
        stages = sorted({d["lifecycleStage"] for i in range(0, len(loaded_arns), 20) for d in
                         client.describe_service_deployments(serviceDeploymentArns=loaded_arns[i:i + 20])
                         ["serviceDeployments"] if d.get("lifecycleStage")})

    print(f"setup: {args.services} services in {setup:.1f} s ({args.services / setup:.0f} services/s)")
    print(f"in flight: {busy_before} when the loaded run started, {busy_after} when it ended (speed {args.speed:g}); "
          f"{executed} transitions in {elapsed:.1f} s ({executed / elapsed:.0f}/s); stages at the end: "
          f"{', '.join(stages)}")
    print(f"{'operation':28} {'idle p50':>9} {'idle p99':>9} {'load p50':>9} {'load p99':>9} "
          f"{'p50 ratio':>9} {'p99 ratio':>9} {'p99/poll':>9}")
    worst = 0.0
    for op in idle:
        i50, i99 = percentile(idle[op], 0.5), percentile(idle[op], 0.99)
        l50, l99 = percentile(loaded[op], 0.5), percentile(loaded[op], 0.99)
        worst = max(worst, l99)
        print(f"{op:28} {i50 * 1e3:7.2f}ms {i99 * 1e3:7.2f}ms {l50 * 1e3:7.2f}ms {l99 * 1e3:7.2f}ms "
              f"{l50 / i50:8.2f}x {l99 / i99:8.2f}x {l99 / POLL_INTERVAL:8.4f}")
    mean = statistics.mean(loaded["DescribeServices"]) * 1e3
    print(f"mean loaded DescribeServices: {mean:.2f} ms")
    ok = busy_after >= args.inflight * 0.9 and worst < 1.0
    if not ok:
        print("FAIL: deployments left flight early or p99 reached 1 s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
