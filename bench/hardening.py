"""Issue 18's runtime defects, measured on the operator as its own process: this tree against a baseline tree.

Each scenario starts `ecsbg run` (the baseline: the same command from another checkout's `operator/`) against an
in-process dev cluster and ECS emulator, and prints one figure:

- flaps: 11 idle Succeeded releases, one AccessDenied answer to each one's next DescribeServices: phase changes
  seen, Warning Events, and `ecsbg_releases_finished_total` (should stay 11 succeeded, 0 failed);
- stall: a release awaiting approval, the Kubernetes API behind a proxy that swallows bytes, the pause approved in
  ECS: how long the release loop stays blocked in its status write (capped), and what /healthz answers;
- canaries: `--verbose` while assuming a role with an ExternalId (moto's server is the STS): occurrences of the
  canary credentials and of the assumed role's credentials in the log, the Events and the status
  (canaries-unsafe: the same with ECSBG_UNSAFE_WIRE_LOGGING=true, the redaction filter alone);
- outage: the API refuses connections for `--outage` seconds while a release has a status to write, 0.5 s
  poll: tracebacks (and reconciler log lines) per minute;
- storm: every ECS call throttled for `--storm` seconds while a release is in flight, 0.5 s poll: ECS requests
  in the first and in the last 10 s of the storm.

    python -m bench.hardening [--baseline REF|DIR|none] [--only flaps,stall,...] [--storm 60] [--outage 30]

REF (default: the merge base of HEAD and main) is exported with `git archive` into a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.conftest import release_manifest
from tests.plugins.ecs import make_client, seed_service
from tests.plugins.process import OperatorProcess, TcpProxy, kubeconfig_via

ROOT = Path(__file__).resolve().parents[1]
PAUSE = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 1440, "action": "Rollback"}}]
ROLE = "arn:aws:iam::123456789012:role/ecsbg-deployer"
CANARIES = {"access key id": "AKIACANARY7Q2W3E4R5T", "secret access key": "canarySecret/Zx81vB7nM2qL0pK9jH6gF5dS4aA3",
            "session token": "canarySessionToken+IQoJb3JpZ2luX2VjEJr//////////wEaCXVz",
            "external id": "canary-external-id-4f1c2e9d"}
STALL_CAP = 60.0


class Bench:
    def __init__(self, cluster: Any, kubeconfig: Path, work: Path) -> None:
        self.cluster, self.kubeconfig, self.work = cluster, kubeconfig, work
        self.count = 0

    def namespace(self) -> str:
        self.count += 1
        name = f"bench-{self.count}-{int(time.time()) % 100000}"
        self.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name

    def operator(self, source: Path | None, namespace: str, ecs_url: str, *, kubeconfig: Path | None = None,
                 verbose: bool = False, **env: str) -> OperatorProcess:
        self.count += 1
        base = {"ECSBG_AWS_ENDPOINT_URL": ecs_url, "ECSBG_COALESCE_MS": "0", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "ECSBG_POLL_FAST_SECONDS": "0.5",
                "ECSBG_POLL_IDLE_SECONDS": "0.5"}
        return OperatorProcess(kubeconfig=kubeconfig or self.kubeconfig, namespace=namespace, verbose=verbose,
                               log_path=self.work / f"operator-{self.count}.log", env={**base, **env}, source=source)

    def status(self, namespace: str, name: str) -> dict[str, Any]:
        obj = self.cluster.get("ecsbg.dev/v1alpha1", "ecsbluegreenreleases", namespace, name) or {}
        return dict(obj.get("status") or {})

    def wait(self, predicate: Callable[[], Any], what: str, timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(what)

    def wait_phase(self, namespace: str, name: str, *phases: str) -> None:
        self.wait(lambda: self.status(namespace, name).get("phase") in phases, f"{name} in {phases}")

    def events(self, namespace: str) -> list[dict[str, Any]]:
        listed = self.cluster.list("v1", "events", namespace)
        return list(listed.get("items", []) if isinstance(listed, dict) else listed)


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _approve_in_ecs(client: Any, status: dict[str, Any]) -> None:
    for hook in status.get("hooks") or []:
        client.continue_service_deployment(serviceDeploymentArn=status["deployment"]["arn"], hookId=hook["hookId"],
                                           action="CONTINUE")


def flaps(bench: Bench, source: Path | None) -> str:
    from ecsbg_emulators.ecs import EmulatorServer

    services = [f"svc{i}" for i in range(11)]
    with EmulatorServer(host="127.0.0.1", port=0, speed=2000) as ecs:
        client = make_client(ecs.url)
        for service in services:
            seed_service(client, service=service)
        ns = bench.namespace()
        op = bench.operator(source, ns, ecs.url)
        try:
            for service in services:
                bench.cluster.apply(release_manifest(service, ns, service=service))
            for service in services:
                bench.wait_phase(ns, service, "Succeeded")
            time.sleep(2)
            warnings_before = sum(e.get("type") == "Warning" for e in bench.events(ns))
            ecs.control.set_faults(f"deny@DescribeServices#{len(services)}")
            changes, last = 0, {s: "Succeeded" for s in services}
            until = time.monotonic() + 10
            while time.monotonic() < until:
                for service in services:
                    phase = bench.status(ns, service).get("phase")
                    if phase != last[service]:
                        changes, last[service] = changes + 1, phase
                time.sleep(0.02)
            denied = sum(r["errorCode"] == "AccessDeniedException" for r in ecs.requests)
            warnings = [e.get("reason") for e in bench.events(ns) if e.get("type") == "Warning"][warnings_before:]
            metrics = op.metrics()
        finally:
            op.stop()
    succeeded = _metric(metrics, "ecsbg_releases_finished_total", result="succeeded")
    failed = _metric(metrics, "ecsbg_releases_finished_total", result="failed")
    return (f"{denied} AccessDenied answers to 11 Succeeded releases: {changes} phase changes seen, "
            f"{len(warnings)} Warning Events ({', '.join(sorted(set(warnings))) or '-'}), finished_total "
            f"succeeded={succeeded:g} failed={failed:g}")


def _paused_release(bench: Bench, source: Path | None, ecs: Any, kubeconfig: Path, **env: str) -> tuple[Any, str]:
    ns = bench.namespace()
    op = bench.operator(source, ns, ecs.url, kubeconfig=kubeconfig, **env)
    bench.cluster.apply(release_manifest("web", ns, hooks=PAUSE))
    bench.wait_phase(ns, "web", "AwaitingApproval")
    return op, ns


def stall(bench: Bench, source: Path | None) -> str:
    from ecsbg_emulators.ecs import EmulatorServer

    host, port = bench.cluster.url.split("//", 1)[1].rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    kubeconfig = kubeconfig_via(bench.kubeconfig, proxy.url, bench.work / f"kubeconfig-{time.time()}")
    with EmulatorServer(host="127.0.0.1", port=0, speed=2000) as ecs:
        seed_service(make_client(ecs.url))
        op, ns = _paused_release(bench, source, ecs, kubeconfig, ECSBG_API_UNREACHABLE_SECONDS="10")
        try:
            before = op.log().count(f"reconcile of {ns}/web")
            proxy.swallow()
            _approve_in_ecs(make_client(ecs.url), bench.status(ns, "web"))
            started, health = time.monotonic(), set()
            while time.monotonic() - started < STALL_CAP and op.log().count(f"reconcile of {ns}/web") == before:
                health.add(op.healthz())
                time.sleep(0.5)
            blocked = time.monotonic() - started
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and 500 not in health:
                health.add(op.healthz())
                time.sleep(1)
            proxy.forward()
            bench.wait_phase(ns, "web", "Succeeded")
            caught_up = time.monotonic() - started
        finally:
            op.stop()
            proxy.close()
    shown = f"{blocked:.1f} s" if blocked < STALL_CAP else f">= {STALL_CAP:.0f} s (cap; unbounded)"
    return (f"release loop blocked in its status write for {shown}; /healthz answered {sorted(health)} while the "
            f"API was unreachable; Succeeded {caught_up:.1f} s after the approval (connection restored at the end)")


def canaries(bench: Bench, source: Path | None, unsafe_wire: bool = False) -> str:
    """`unsafe_wire`: with ECSBG_UNSAFE_WIRE_LOGGING=true, so only the redaction filter stands in the way."""
    from moto.server import ThreadedMotoServer
    from moto.sts.models import sts_backends

    from ecsbg_emulators.ecs import EmulatorServer

    sts = ThreadedMotoServer(port=0, verbose=False)
    sts.start()
    try:
        host, port = sts.get_host_and_port()
        with EmulatorServer(host="127.0.0.1", port=0, speed=2000) as ecs:
            seed_service(make_client(ecs.url))
            ns = bench.namespace()
            op = bench.operator(source, ns, ecs.url, verbose=True, AWS_ENDPOINT_URL_STS=f"http://{host}:{port}",
                                AWS_ACCESS_KEY_ID=CANARIES["access key id"],
                                AWS_SECRET_ACCESS_KEY=CANARIES["secret access key"],
                                AWS_SESSION_TOKEN=CANARIES["session token"],
                                ECSBG_UNSAFE_WIRE_LOGGING="true" if unsafe_wire else "false")
            try:
                body = release_manifest("web", ns)
                body["spec"]["target"].update(roleArn=ROLE, externalId=CANARIES["external id"])
                bench.cluster.apply(body)
                bench.wait_phase(ns, "web", "Succeeded")
                time.sleep(3)
            finally:
                op.stop()
            secrets = dict(CANARIES)
            for role in (r for regions in sts_backends.values() for b in regions.values() for r in b.assumed_roles):
                secrets.update({"assumed key id": role.access_key_id, "assumed secret": role.secret_access_key,
                                "assumed session token": role.session_token})
            log, events, status = op.log(), json.dumps(bench.events(ns)), json.dumps(bench.status(ns, "web"))
    finally:
        sts.stop()
    counts = {what: (log.count(v), events.count(v), status.count(v)) for what, v in secrets.items()}
    debug_lines = log.count('"level": "DEBUG"')
    return f"{debug_lines} DEBUG lines; occurrences (log, Events, status): " + ", ".join(
        f"{what} {c}" for what, c in counts.items())


def outage(bench: Bench, source: Path | None, seconds: float) -> str:
    from ecsbg_emulators.ecs import EmulatorServer

    host, port = bench.cluster.url.split("//", 1)[1].rsplit(":", 1)
    proxy = TcpProxy((host, int(port)))
    kubeconfig = kubeconfig_via(bench.kubeconfig, proxy.url, bench.work / f"kubeconfig-{time.time()}")
    with EmulatorServer(host="127.0.0.1", port=0, speed=2000) as ecs:
        seed_service(make_client(ecs.url))
        op, ns = _paused_release(bench, source, ecs, kubeconfig)
        try:
            offset = len(op.log())
            proxy.refuse()
            _approve_in_ecs(make_client(ecs.url), bench.status(ns, "web"))
            time.sleep(seconds)
            window = op.log()[offset:]
            proxy.forward()
            bench.wait_phase(ns, "web", "Succeeded")
        finally:
            op.stop()
            proxy.close()
    per_minute = 60.0 / seconds
    tracebacks = window.count("Traceback (most recent call last)")
    reconciler = window.count('"logger": "ecsbg.reconciler"') - len(re.findall(r'"DEBUG", "logger": "ecsbg.reconciler"',
                                                                               window))
    return (f"{tracebacks * per_minute:.0f} tracebacks/min ({tracebacks} in {seconds:.0f} s), "
            f"{reconciler * per_minute:.0f} reconciler log lines/min, {len(window.splitlines()) * per_minute:.0f} "
            "log lines/min in all (kopf's own included)")


def storm(bench: Bench, source: Path | None, seconds: float) -> str:
    from ecsbg_emulators.ecs import EmulatorServer

    with EmulatorServer(host="127.0.0.1", port=0, speed=2000) as ecs:
        client = make_client(ecs.url)
        seed_service(client)
        ns = bench.namespace()
        op = bench.operator(source, ns, ecs.url)
        try:
            bench.cluster.apply(release_manifest("web", ns, hooks=PAUSE))
            bench.wait_phase(ns, "web", "AwaitingApproval")
            start_index = len(ecs.requests)
            ecs.control.set_faults("throttle:1.0")
            time.sleep(10)
            first = len(ecs.requests) - start_index
            time.sleep(max(seconds - 20, 0))
            before_last = len(ecs.requests)
            time.sleep(10)
            last = len(ecs.requests) - before_last
            total = len(ecs.requests) - start_index
            ecs.control.set_faults(None)
            backoff = _metric(op.metrics(), "ecsbg_release_backoff_seconds")
        finally:
            op.stop()
    return (f"{total} ECS requests in a {seconds:.0f} s storm; first 10 s: {first / 10:.1f} req/s, last 10 s: "
            f"{last / 10:.1f} req/s; backoff gauge at the end {backoff:g} s")


def _baseline(ref: str, work: Path) -> Path | None:
    if ref == "none":
        return None
    if Path(ref).is_dir():
        return Path(ref) / "operator"
    if ref == "auto":
        ref = subprocess.check_output(["git", "merge-base", "HEAD", "main"], cwd=ROOT, text=True).strip()
    archive = work / "baseline.tar"
    subprocess.check_call(["git", "archive", "-o", str(archive), ref, "operator"], cwd=ROOT)
    with tarfile.open(archive) as tar:
        tar.extractall(work / "baseline", filter="data")
    print(f"baseline: {ref}")
    return work / "baseline" / "operator"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="auto")
    parser.add_argument("--only", default="flaps,stall,canaries,outage,storm")
    parser.add_argument("--storm", type=float, default=60.0)
    parser.add_argument("--outage", type=float, default=30.0)
    args = parser.parse_args(argv)
    from ecsbg_emulators.devcluster import DevCluster

    with tempfile.TemporaryDirectory(prefix="ecsbg-hardening-") as tmp:
        work = Path(tmp)
        baseline = _baseline(args.baseline, work)
        cluster = DevCluster(host="127.0.0.1", port=0)
        cluster.start()
        try:
            kubeconfig = cluster.write_kubeconfig(work / "kubeconfig")
            for path in sorted((ROOT / "crds").glob("*.yaml")):
                cluster.apply(path)
            bench = Bench(cluster, kubeconfig, work)
            scenarios: dict[str, Callable[[Path | None], str]] = {
                "flaps": lambda s: flaps(bench, s), "stall": lambda s: stall(bench, s),
                "canaries": lambda s: canaries(bench, s), "outage": lambda s: outage(bench, s, args.outage),
                "canaries-unsafe": lambda s: canaries(bench, s, unsafe_wire=True),
                "storm": lambda s: storm(bench, s, args.storm),
            }
            for name in args.only.split(","):
                for label, source in (("before", baseline), ("after", None)):
                    if label == "before" and baseline is None:
                        continue
                    started = time.monotonic()
                    try:
                        figure = scenarios[name](source)
                    except Exception as exc:  # a scenario that breaks is a figure too
                        figure = f"error: {type(exc).__name__}: {exc}"
                    print(f"{name:9} {label:6} {figure} [{time.monotonic() - started:.0f} s]", flush=True)
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
