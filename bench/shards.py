"""Sharding by namespace (issue 12): does splitting the releases over two operator installs halve each one's load?

The same N releases, spread over two namespaces, against the same ECS emulator and dev cluster, run twice:
- baseline: ONE `ecsbg run` watching both namespaces (what a single install does);
- sharded: TWO `ecsbg run` processes, each watching one namespace (two installs with `watchNamespaces`).
Each run applies every release at once (a new image each), waits until all are Succeeded, then lets them idle
for `--idle` seconds. Per process it reports the CPU seconds (utime + stime from /proc) of the rollout and of the
idle window, and the peak RSS; the ratios are sharded per-pod / baseline, measured in the same run.

    python -m bench.shards [--releases 200] [--idle 30] [--speed 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.conftest import release_manifest
from tests.plugins.process import OperatorProcess

from bench.soak import prepare_cluster, seed_services

NAMESPACES = ("shard-a", "shard-b")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Usage:
    rollout_cpu: float
    idle_cpu: float
    rss_mib: float


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of proc(5))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(releases: int, idle: float, speed: float, shards: int, work: Path) -> list[Usage]:
    from ecsbg_emulators.devcluster import DevCluster
    from ecsbg_emulators.ecs import EmulatorServer

    cluster = DevCluster(host="127.0.0.1", port=0)
    cluster.start()
    try:
        kubeconfig = prepare_cluster(cluster, work / f"kubeconfig-{shards}", NAMESPACES)
        with EmulatorServer(host="127.0.0.1", port=0, speed=speed) as ecs:
            names = seed_services(ecs, releases)
            env = {"ECSBG_AWS_ENDPOINT_URL": ecs.url, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "b",
                   "AWS_SECRET_ACCESS_KEY": "b", "ECSBG_POLL_FAST_SECONDS": "1", "ECSBG_POLL_IDLE_SECONDS": "5"}
            # one install watches both namespaces (a kopf glob), or one install per namespace
            groups = ["shard-*"] if shards == 1 else list(NAMESPACES)
            ops = [OperatorProcess(kubeconfig=kubeconfig, namespace=group, env=env,
                                   log_path=work / f"op-{shards}-{i}.log") for i, group in enumerate(groups)]
            try:
                time.sleep(3.0)  # started and listed (nothing to do yet)
                before = [cpu_seconds(op.proc.pid) for op in ops]
                for i, name in enumerate(names):
                    cluster.apply(release_manifest(name, NAMESPACES[i % 2], service=name,
                                                   image="public.ecr.aws/nginx/nginx:shard-1"))
                _wait_succeeded(cluster, names)
                rolled = [cpu_seconds(op.proc.pid) for op in ops]
                time.sleep(idle)
                after = [cpu_seconds(op.proc.pid) for op in ops]
                return [Usage(rolled[i] - before[i], after[i] - rolled[i], rss_mib(op.proc.pid))
                        for i, op in enumerate(ops)]
            finally:
                for op in ops:
                    op.stop()
    finally:
        cluster.stop()


def _wait_succeeded(cluster: Any, names: list[str], timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(1 for i, name in enumerate(names) if ((cluster.get(
            "ecsbg.dev/v1alpha1", "ecsbluegreenreleases", NAMESPACES[i % 2], name) or {}).get("status") or {}).get(
            "phase") == "Succeeded")
        if done == len(names):
            return
        time.sleep(0.5)
    raise TimeoutError("not every release succeeded")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shards", description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=200)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--speed", type=float, default=200.0)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ecsbg-shards-"))
    one = run(args.releases, args.idle, args.speed, 1, work)[0]
    two = run(args.releases, args.idle, args.speed, 2, work)
    print(f"{args.releases} releases over {len(NAMESPACES)} namespaces, emulator speed {args.speed:g}, idle {args.idle:g} s")
    print("| install | rollout CPU s | idle CPU s | peak RSS MiB |")
    print("|---|---|---|---|")
    print(f"| one operator, both namespaces | {one.rollout_cpu:.1f} | {one.idle_cpu:.1f} | {one.rss_mib:.0f} |")
    for ns, usage in zip(NAMESPACES, two, strict=True):
        print(f"| shard {ns} | {usage.rollout_cpu:.1f} | {usage.idle_cpu:.1f} | {usage.rss_mib:.0f} |")
    worst = max(two, key=lambda u: u.rollout_cpu)
    print(f"per-pod ratio (busiest shard / one operator): rollout CPU {worst.rollout_cpu / one.rollout_cpu:.2f}, "
          f"idle CPU {max(u.idle_cpu for u in two) / max(one.idle_cpu, 0.01):.2f}, "
          f"RSS {max(u.rss_mib for u in two) / one.rss_mib:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
