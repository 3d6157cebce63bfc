"""Benchmark of the devcluster: 1,000 custom resources with watch streams and status patches, on one core.

`python -m bench.devcluster [--count N] [--watchers W] [--patches P] [--no-kopf]`. Server and client share one process pinned
to one CPU, as the operator's benchmark runs them. The baseline, measured in the same run, is the HTTP floor: a
GET /version through the same server and client (no store work), so the ratios show what the store, schema
enforcement (pruning, defaulting, validation, CEL) and watch fan-out cost on top of aiohttp.
A last round has a real kopf operator handle the same number of objects (create handler, status patch).
Exit 1 if a watcher missed an event or saw them out of order, or kopf did not handle every object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import aiohttp

from ecsbg_emulators.devcluster import DevCluster

ROOT = Path(__file__).resolve().parents[1]
PRODUCT_CRD = ROOT / "crds" / "ecsbluegreenreleases.ecsbg.dev.yaml"
TEST_CRD = ROOT / "tests" / "devcluster" / "widgets-crd.yaml"


def workload() -> tuple[Path, str, dict, dict]:
    """(CRD, collection path, spec, status patch) for the product CRD, or the test CRD if it is absent."""
    if PRODUCT_CRD.exists():
        spec = {"target": {"region": "eu-west-1", "cluster": "prod", "service": "web"},
                "taskDefinition": {"arn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7"},
                "strategy": {"type": "Linear", "linear": {"stepPercent": 10}}}
        status = {"phase": "Deploying", "stage": "PRODUCTION_TRAFFIC_SHIFT", "traffic": {"production": 0}}
        return PRODUCT_CRD, "/apis/ecsbg.dev/v1alpha1/namespaces/default/ecsbluegreenreleases", spec, status
    return TEST_CRD, "/apis/test.ecsbg.dev/v1/namespaces/default/widgets", {"size": 3}, {"phase": "Pending"}


def kind_of(crd: Path) -> tuple[str, str]:
    import yaml

    doc = yaml.safe_load(crd.read_text())
    return f"{doc['spec']['group']}/{doc['spec']['versions'][0]['name']}", doc["spec"]["names"]["kind"]


async def timed(calls, concurrency: int) -> list[float]:
    """Run the coroutine factories with bounded concurrency; return each call's latency in seconds."""
    latencies: list[float] = []
    queue = list(reversed(calls))

    async def worker():
        while queue:
            call = queue.pop()
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def watch(session, url: str, seen: list, ready: asyncio.Event) -> None:
    async with session.get(url, params={"watch": "1", "resourceVersion": "0"}, timeout=None) as resp:
        ready.set()
        async for line in resp.content:
            seen.append(json.loads(line)["object"]["metadata"]["resourceVersion"])


def report(name: str, latencies: list[float], wall: float, floor: float | None) -> None:
    rate = len(latencies) / wall
    p50, p99 = statistics.median(latencies), sorted(latencies)[int(len(latencies) * 0.99) - 1]
    ratio = f"  x{p50 / floor:5.1f} the HTTP floor (p50)" if floor else ""
    print(f"{name:<22} {len(latencies):6d} ops {rate:8.0f} ops/s  p50 {p50 * 1000:6.2f} ms  "
          f"p99 {p99 * 1000:6.2f} ms{ratio}", flush=True)


async def floor(session, cluster: DevCluster, args) -> float:
    async def get_version():
        async with session.get(cluster.url + "/version") as resp:
            await resp.read()

    latencies = await timed([get_version] * args.count, args.concurrency)
    report("GET /version (floor)", latencies, sum(latencies) / args.concurrency, None)
    return statistics.median(latencies)


async def writes(session, base: str, args, spec: dict, status: dict, kind: tuple[str, str], floor_p50: float) -> None:
    api_version, kind_name = kind

    def create(i):
        async def call():
            body = {"apiVersion": api_version, "kind": kind_name, "metadata": {"name": f"r{i:05d}"}, "spec": spec}
            async with session.post(base, json=body) as resp:
                assert resp.status == 201, await resp.text()
        return call

    def patch(i, n):
        async def call():
            body = {"status": {**status, "observedGeneration": 1, "message": f"step {n}"}}
            async with session.patch(f"{base}/r{i:05d}/status", data=json.dumps(body),
                                     headers={"Content-Type": "application/merge-patch+json"}) as resp:
                assert resp.status == 200, await resp.text()
        return call

    async def list_all():
        async with session.get(base) as resp:
            assert len((await resp.json())["items"]) == args.count

    started = time.perf_counter()
    lat = await timed([create(i) for i in range(args.count)], args.concurrency)
    report("create", lat, time.perf_counter() - started, floor_p50)
    started = time.perf_counter()
    lat = await timed([patch(i, n) for n in range(args.patches) for i in range(args.count)], args.concurrency)
    report("patch /status", lat, time.perf_counter() - started, floor_p50)
    lat = await timed([list_all] * 20, 1)
    report(f"list {args.count} items", lat, sum(lat), floor_p50)


async def run(cluster: DevCluster, args) -> int:
    crd, collection, spec, status = workload()
    cluster.apply(crd)
    base = cluster.url + collection
    async with aiohttp.ClientSession() as session:
        floor_p50 = await floor(session, cluster, args)
        seen: list[list] = [[] for _ in range(args.watchers)]
        readies = [asyncio.Event() for _ in range(args.watchers)]
        tasks = [asyncio.create_task(watch(session, base, seen[i], readies[i])) for i in range(args.watchers)]
        await asyncio.gather(*(r.wait() for r in readies))
        await writes(session, base, args, spec, status, kind_of(crd), floor_p50)
        expected = args.count * (1 + args.patches)
        deadline = time.perf_counter() + 30
        while any(len(s) < expected for s in seen) and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        for task in tasks:
            task.cancel()
    ok = all(len(s) == expected and [int(v) for v in s] == sorted(int(v) for v in s) for s in seen)
    print(f"watch streams: {args.watchers} x {expected} events expected, got "
          f"{[len(s) for s in seen]} -> {'OK' if ok else 'MISSED/REORDERED EVENTS'}", flush=True)
    return 0 if ok else 1


def kopf_round(cluster: DevCluster, args) -> int:
    """The same objects handled by a real kopf operator (a create handler writing status), on the same core."""
    import logging
    import tempfile
    import threading

    crd, collection, spec, status = workload()
    group_version, kind = kind_of(crd)
    plural = collection.rsplit("/", 1)[1]
    os.environ["KUBECONFIG"] = str(cluster.write_kubeconfig(Path(tempfile.mkdtemp()) / "kubeconfig"))
    import kopf  # after KUBECONFIG: kopf reads it at import

    logging.getLogger("kopf").setLevel(logging.ERROR)
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(kopf.login_with_kubeconfig)
    group, version = group_version.split("/")

    @kopf.on.create(group, version, plural, registry=registry)
    def created(patch, **_):
        patch.status.update(status)

    cluster.create("v1", "namespaces", None, {"metadata": {"name": "bench-kopf"}})
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(kopf.operator(
        registry=registry, standalone=True, namespaces=["bench-kopf"], stop_flag=stop, ready_flag=ready)), daemon=True)
    thread.start()
    ready.wait(30)
    started = time.perf_counter()
    for i in range(args.count):
        cluster.create(group_version, plural, "bench-kopf", {"apiVersion": group_version, "kind": kind,
                                                             "metadata": {"name": f"k{i:05d}"}, "spec": spec})
    done = 0
    while time.perf_counter() - started < 120:
        done = sum(1 for o in cluster.list(group_version, plural, "bench-kopf")
                   if (o.get("status") or {}).get("phase") == status["phase"])
        if done == args.count:
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join(30)
    print(f"kopf: {done}/{args.count} objects created and handled (create handler, status patch) in "
          f"{elapsed:.1f} s, {done / elapsed:.0f} objects/s", flush=True)
    return 0 if done == args.count else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--watchers", type=int, default=2)
    parser.add_argument("--patches", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-kopf", action="store_true", help="skip the round with a real kopf operator")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core for server and client
    started = time.perf_counter()
    with DevCluster() as cluster:
        code = asyncio.run(run(cluster, args))
        if not args.no_kopf:
            code = kopf_round(cluster, args) or code
    print(f"total {time.perf_counter() - started:.1f} s on one core", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
