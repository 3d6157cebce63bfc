"""Issue 13's long soak: many releases cycling for minutes with faults switched on at random; memory and fds flat.

`python -m bench.faults --soak [--minutes 30] [--releases 200]` runs ONE `ecsbg run` process against the ECS
emulator and the dev cluster (reached through a TcpProxy, so the Kubernetes API can be cut). A driver cycles
every release: a new spec (a new image tag) when it succeeded, approve (3 in 4) or reject its PAUSE, `retry` or
a new spec after a rollback. Every `--fault-every` seconds a fault is switched on at random for a while: ECS
throttling, 5xx, slow answers, connection resets, lost answers on writes, or the Kubernetes API refusing
connections. The operator's RSS (VmRSS) and open file descriptors are sampled from /proc every few seconds.

At the end the faults stop, every release is left to finish, and the figures are counted from the emulator's
request record and the releases' statuses:
- double deploys: UpdateService requests ECS handled for a service beyond the release's attempts (each attempt of
  a soak release deploys once: every new spec has a new image, a retry follows a rollback);
- duplicate revisions: RegisterTaskDefinition requests ECS handled beyond the distinct specs the driver wrote (a
  retry reuses its revision);
- lost / invented transitions: each finished attempt's `status.stages` against ECS's own stage history, checked
  by the driver before it starts the next attempt (bench.faults.compare_stages);
- tracebacks in the operator's log; final phases as expected (Succeeded or RolledBack, nothing in flight);
- memory and fds: first and last sample, maximum, and the least-squares slope per 10 minutes over the samples
  after the warm-up (the first quarter, at most 5 minutes): "flat" when RSS grows less than FLAT_RSS_MIB and fds
  less than FLAT_FDS per 10 minutes.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.conftest import release_manifest
from tests.plugins.ecs import make_client, seed_service
from tests.plugins.process import OperatorProcess, TcpProxy, kubeconfig_via

ROOT = Path(__file__).resolve().parents[1]
GV, PLURAL = "ecsbg.dev/v1alpha1", "ecsbluegreenreleases"
NAMESPACE = "soak"
PAUSE = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 1440, "action": "Rollback"}}]
STRATEGY = {"type": "BlueGreen", "bakeTimeInMinutes": 1}
WRITES = "RegisterTaskDefinition|UpdateService|ContinueServiceDeployment|StopServiceDeployment|TagResource"
# (name, emulator fault spec or "k8s-outage"): what the soak switches on at random
FAULTS = (
    ("throttling", "throttle:0.5"),
    ("5xx", "error:0.2,unavailable:0.1"),
    ("slow answers", "latency:1s"),
    ("resets", "drop:0.2"),
    ("lost writes", f"lost:0.5@{WRITES}"),
    ("kubernetes api outage", "k8s-outage"),
)
FLAT_RSS_MIB, FLAT_FDS = 5.0, 5.0  # growth per 10 minutes still called flat
FINISHED = ("Succeeded", "RolledBack")


@dataclass
class Sample:
    at: float
    rss_mib: float
    fds: int


def sample(pid: int, at: float) -> Sample | None:
    """VmRSS and the open file descriptors of `pid` (None once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    rss_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return Sample(at, rss_kib / 1024.0, fds)


def slope_per_10min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per 600 s (0 with fewer than two distinct instants)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 600.0 * sum((t - mean_t) * (v - mean_v) for t, v in points) / var


@dataclass
class Verdict:
    start: float
    end: float
    peak: float
    slope: float
    flat: bool


def verdict(samples: list[Sample], attr: str, threshold: float) -> Verdict:
    """The figures of one series; the slope (and so "flat") uses only the samples after the warm-up."""
    values = [(s.at, float(getattr(s, attr))) for s in samples]
    if not values:
        return Verdict(0.0, 0.0, 0.0, 0.0, False)
    span = values[-1][0] - values[0][0]
    warm = values[0][0] + min(span / 4, 300.0)
    slope = slope_per_10min([p for p in values if p[0] >= warm])
    return Verdict(values[0][1], values[-1][1], max(v for _, v in values), slope, slope < threshold)


@dataclass
class Track:
    """What the driver did to one release."""

    name: str
    specs: int = 1  # distinct specs written (the first included)
    tag: int = 0
    lost: int = 0
    invented: int = 0
    cycles: int = 0
    acted_attempt: int = 0  # the attempt the driver last approved or rejected (once per attempt)
    done_attempt: int = 0  # the last finished attempt the driver counted and followed with a new one
    next_at: float = 0.0


@dataclass
class Soak:
    cluster: Any
    ecs: Any
    op: OperatorProcess
    proxy: TcpProxy
    seeded: int
    tracks: dict[str, Track]
    rng: random.Random
    samples: list[Sample] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    # -- the driver ------------------------------------------------------------------------------------------
    def drive(self, until: float, stop: threading.Event) -> None:
        while time.monotonic() < until and not stop.is_set():
            try:
                releases = self.cluster.list(GV, PLURAL, NAMESPACE)
            except Exception as exc:  # the dev cluster is reached directly, not through the proxy
                self.errors.append(f"list: {exc}")
                time.sleep(1)
                continue
            deployments = self._deployments()
            for obj in releases:
                self._step(obj, deployments)
            time.sleep(0.5)

    def _step(self, obj: dict[str, Any], deployments: dict[str, dict[str, Any]]) -> None:
        name = obj["metadata"]["name"]
        track, status = self.tracks[name], obj.get("status") or {}
        attempt, phase = int(status.get("attempt") or 0), status.get("phase")
        dep = deployments.get(name)
        if attempt == 0 or time.monotonic() < track.next_at:
            return
        if phase == "AwaitingApproval" and track.acted_attempt != attempt:
            track.acted_attempt = attempt
            self._annotate(name, "approve" if self.rng.random() < 0.75 else "reject", attempt)
        elif phase in FINISHED and track.done_attempt != attempt and _mirrors(status, dep):
            track.done_attempt = attempt
            lost, invented = _compare(dep, status)
            track.lost, track.invented, track.cycles = track.lost + lost, track.invented + invented, track.cycles + 1
            if phase == "RolledBack" and self.rng.random() < 0.5:
                self._annotate(name, "retry", attempt)
            else:
                track.tag, track.specs = track.tag + 1, track.specs + 1
                self.cluster.patch(GV, PLURAL, NAMESPACE, name, {"spec": {"taskDefinition": {"containers": [
                    {"name": "app", "image": f"public.ecr.aws/nginx/nginx:soak-{track.tag}"}]}}})
            track.next_at = time.monotonic() + self.rng.uniform(1.0, 10.0)

    def _annotate(self, name: str, key: str, attempt: int) -> None:
        self.cluster.patch(GV, PLURAL, NAMESPACE, name,
                           {"metadata": {"annotations": {f"ecsbg.dev/{key}": str(attempt)}}})

    def _deployments(self) -> dict[str, dict[str, Any]]:
        """ECS's newest deployment per service (the emulator's own view), only once it started from a release."""
        out = {}
        for service in self.ecs.control.state()["services"]:
            if len(service["deployments"]) > 1:
                out[service["service"]] = service["deployments"][-1]
        return out

    # -- faults and samples ---------------------------------------------------------------------------------------
    def chaos(self, until: float, every: float, lasting: float, stop: threading.Event) -> None:
        while not stop.wait(every) and time.monotonic() + lasting < until:
            name, spec = self.rng.choice(FAULTS)
            self.faults.append(name)
            if spec == "k8s-outage":
                self.proxy.refuse()
            else:
                self.ecs.control.set_faults(f"{spec},seed:{self.rng.randrange(1 << 30)}")
            stop.wait(lasting)
            self.proxy.forward()
            self.ecs.control.set_faults(None)

    def sampler(self, every: float, stop: threading.Event) -> None:
        started = time.monotonic()
        while not stop.wait(every):
            point = sample(self.op.proc.pid, time.monotonic() - started)
            if point is None:
                return
            self.samples.append(point)


def _mirrors(status: dict[str, Any], dep: dict[str, Any] | None) -> bool:
    """ECS's newest deployment of the service finished and is the one the release's status records."""
    return bool(dep) and dep["status"] not in ("PENDING", "IN_PROGRESS") \
        and (status.get("deployment") or {}).get("arn") == dep["serviceDeploymentArn"]


def _compare(dep: dict[str, Any], status: dict[str, Any]) -> tuple[int, int]:
    from bench.faults import compare_stages

    return compare_stages(dep["history"], status.get("stages") or [])


@dataclass
class SoakResult:
    releases: int
    minutes: float
    cycles: int
    double_deploys: int
    duplicate_revisions: int
    lost: int
    invented: int
    tracebacks: int
    phases_ok: int
    faults: dict[str, int]
    rss: Verdict
    fds: Verdict
    alive: bool
    notes: list[str]


def count(soak: Soak) -> SoakResult:
    requests = soak.ecs.requests[soak.seeded:]
    updates: dict[str, int] = {}
    registers = 0
    for r in requests:
        if r["statusCode"] != 200:
            continue
        if r["operation"] == "UpdateService":
            service = str(r["parameters"].get("service")).rsplit("/", 1)[-1]  # a name or an ARN
            updates[service] = updates.get(service, 0) + 1
        elif r["operation"] == "RegisterTaskDefinition":
            registers += 1
    statuses = {o["metadata"]["name"]: o.get("status") or {} for o in soak.cluster.list(GV, PLURAL, NAMESPACE)}
    double = sum(max(updates.get(name, 0) - int(st.get("attempt") or 0), 0) for name, st in statuses.items())
    notes = [f"{name}: attempt {st.get('attempt')} but {updates.get(name, 0)} deployments"
             for name, st in statuses.items() if updates.get(name, 0) < int(st.get("attempt") or 0)]
    tracks = soak.tracks.values()
    faults: dict[str, int] = {}
    for name in soak.faults:
        faults[name] = faults.get(name, 0) + 1
    return SoakResult(
        releases=len(statuses), minutes=(soak.samples[-1].at / 60.0 if soak.samples else 0.0),
        cycles=sum(t.cycles for t in tracks), double_deploys=double,
        duplicate_revisions=max(registers - sum(t.specs for t in tracks), 0),
        lost=sum(t.lost for t in tracks), invented=sum(t.invented for t in tracks),
        tracebacks=soak.op.log().count("Traceback (most recent call last)"),
        phases_ok=sum(st.get("phase") in FINISHED for st in statuses.values()), faults=faults,
        rss=verdict(soak.samples, "rss_mib", FLAT_RSS_MIB), fds=verdict(soak.samples, "fds", FLAT_FDS),
        alive=soak.op.proc.poll() is None, notes=notes[:10] + soak.errors[:5])


def run_soak(*, minutes: float, releases: int, speed: float, work: Path, seed: int = 13,
             fault_every: float = 45.0, fault_lasting: float = 15.0, sample_every: float = 5.0,
             progress: Any = print, operator_env: dict[str, str] | None = None) -> SoakResult:
    from ecsbg_emulators.devcluster import DevCluster
    from ecsbg_emulators.ecs import EmulatorServer

    rng = random.Random(seed)
    cluster = DevCluster(host="127.0.0.1", port=0)
    cluster.start()
    try:
        kubeconfig = prepare_cluster(cluster, work / "kubeconfig", (NAMESPACE,))
        host, port = cluster.url.split("//", 1)[1].rsplit(":", 1)
        proxy = TcpProxy((host, int(port)))
        with EmulatorServer(host="127.0.0.1", port=0, speed=speed) as ecs:
            names = seed_services(ecs, releases)
            seeded = len(ecs.requests)
            env = {"ECSBG_AWS_ENDPOINT_URL": ecs.url, "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": "soak", "AWS_SECRET_ACCESS_KEY": "soak", "ECSBG_POLL_FAST_SECONDS": "1",
                   "ECSBG_POLL_IDLE_SECONDS": "20", "ECSBG_K8S_TIMEOUT_SECONDS": "5",
                   "ECSBG_BACKOFF_MAX_SECONDS": "10", **(operator_env or {})}
            op = OperatorProcess(kubeconfig=kubeconfig_via(kubeconfig, proxy.url, work / "kubeconfig-proxy"),
                                 namespace=NAMESPACE, env=env, log_path=work / "operator-soak.log")
            soak = Soak(cluster, ecs, op, proxy, seeded, {n: Track(n) for n in names}, rng)
            try:
                for name in names:
                    cluster.apply(release_manifest(name, NAMESPACE, strategy=STRATEGY, hooks=PAUSE, service=name,
                                                   image="public.ecr.aws/nginx/nginx:soak-0"))
                return _soak(soak, minutes * 60.0, fault_every, fault_lasting, sample_every, progress)
            finally:
                op.stop()
                proxy.close()
    finally:
        cluster.stop()


def prepare_cluster(cluster: Any, kubeconfig: Path, namespaces: tuple[str, ...]) -> Path:
    """The project's CRDs and `namespaces` in a started DevCluster; returns the kubeconfig written for it."""
    path = cluster.write_kubeconfig(kubeconfig)
    for crd in sorted((ROOT / "crds").glob("*.yaml")):
        cluster.apply(crd)
    for namespace in namespaces:
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    return path


def seed_services(ecs: Any, count: int) -> list[str]:
    """`count` blue/green-ready services svc-000... in the emulator, each past its first deployment."""
    client = make_client(ecs.url)
    names = [f"svc-{i:03d}" for i in range(count)]
    for name in names:
        seed_service(client, service=name, wait=False, family=name)  # a family per service, as in most estates
    _wait_steady(ecs, len(names))
    return names


def _wait_steady(ecs: Any, services: int, timeout: float = 300.0) -> None:
    """Every seeded service's first deployment finished (a release then starts from a steady service)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [s["deployments"][-1]["status"] for s in ecs.control.state()["services"] if s["deployments"]]
        if len(states) == services and all(st == "SUCCESSFUL" for st in states):
            return
        time.sleep(0.5)
    raise TimeoutError("the seeded services did not become steady")


def _soak(soak: Soak, seconds: float, fault_every: float, fault_lasting: float, sample_every: float,
          progress: Any) -> SoakResult:
    stop = threading.Event()
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=soak.chaos, args=(until, fault_every, fault_lasting, stop), daemon=True),
               threading.Thread(target=soak.sampler, args=(sample_every, stop), daemon=True)]
    for thread in threads:
        thread.start()
    mark = time.monotonic()
    while time.monotonic() < until:
        soak.drive(min(until, time.monotonic() + 60.0), stop)
        if soak.samples:
            last = soak.samples[-1]
            progress(f"  {(time.monotonic() - mark) / 60:5.1f} min: {sum(t.cycles for t in soak.tracks.values())} "
                     f"cycles, RSS {last.rss_mib:.1f} MiB, {last.fds} fds, faults so far {len(soak.faults)}")
        if soak.op.proc.poll() is not None:
            break
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    soak.ecs.control.set_faults(None)
    soak.proxy.forward()
    _settle(soak)
    return count(soak)


def _settle(soak: Soak, timeout: float = 300.0) -> None:
    """Answer every waiting PAUSE and let every release finish (nothing in flight, status mirrors ECS)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and soak.op.proc.poll() is None:
        deployments = soak._deployments()
        busy = 0
        for obj in soak.cluster.list(GV, PLURAL, NAMESPACE):
            name, status = obj["metadata"]["name"], obj.get("status") or {}
            dep = deployments.get(name)
            if status.get("phase") == "AwaitingApproval" and soak.tracks[name].acted_attempt != status["attempt"]:
                soak.tracks[name].acted_attempt = status["attempt"]
                soak._annotate(name, "approve", status["attempt"])
            busy += not (status.get("phase") in FINISHED and _mirrors(status, dep))
        if not busy:
            return
        time.sleep(1.0)


def report(result: SoakResult) -> str:
    faults = ", ".join(f"{k} x{v}" for k, v in sorted(result.faults.items())) or "none"
    lines = [
        f"soak: {result.releases} releases, {result.minutes:.1f} min, {result.cycles} finished attempts, "
        f"faults: {faults}",
        f"| soak ({result.releases} releases, {result.minutes:.0f} min) | {result.cycles} attempts | "
        f"{result.double_deploys} | {result.duplicate_revisions} | {result.lost} lost, {result.invented} invented | "
        f"{result.tracebacks} | {result.phases_ok}/{result.releases} | - |",
        f"  RSS MiB: start {result.rss.start:.1f}, end {result.rss.end:.1f}, max {result.rss.peak:.1f}, slope "
        f"{result.rss.slope:+.2f}/10 min after warm-up -> {'flat' if result.rss.flat else 'GROWING'} "
        f"(flat: < {FLAT_RSS_MIB:g} MiB/10 min)",
        f"  open fds: start {result.fds.start:.0f}, end {result.fds.end:.0f}, max {result.fds.peak:.0f}, slope "
        f"{result.fds.slope:+.2f}/10 min -> {'flat' if result.fds.flat else 'GROWING'} (flat: < {FLAT_FDS:g}/10 min)",
    ]
    if not result.alive:
        lines.append("  the operator process died")
    lines += [f"  note: {n}" for n in result.notes]
    return "\n".join(lines)


def ok(result: SoakResult) -> bool:
    return (result.alive and not (result.double_deploys or result.duplicate_revisions or result.lost
                                  or result.invented or result.tracebacks)
            and result.phases_ok == result.releases and result.rss.flat and result.fds.flat)
