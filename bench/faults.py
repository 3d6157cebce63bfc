"""Issue 13's fault campaign: the operator as its own process (`ecsbg run`), killed and starved, with figures.

Every scenario starts an ECS emulator (in this process) and `ecsbg run` against a dev cluster, applies one release
(one attempt), breaks something, and counts from the emulator's request record and the release's status:

- double deploys: UpdateService requests ECS handled beyond the first (one spec = one deployment);
- duplicate revisions: RegisterTaskDefinition requests ECS handled beyond the first (one content = one revision);
- lost / invented transitions: the forward stages of ECS's deployment history (the emulator's record) against the
  release's `status.stages` (consecutive repeats collapsed): stages ECS walked that the history lacks, and stages
  it lists that ECS never walked. Nothing is inferred while ECS rolls back (design.md), so rollback stages are
  left out of the comparison;
- tracebacks: "Traceback" in the logs of every operator process of the scenario;
- final phase as expected; recovery: seconds from the new operator process (or the API's return) until the
  status mirrors ECS again (deployment ARN, status and, in flight, lifecycle stage).

Scenarios (`--only` takes name prefixes):
- `kill-<strategy>-<STAGE>`: SIGKILL when ECS enters each lifecycle stage of a BlueGreen, Linear and Canary
  release (the emulator's transition calls the kill: no polling race), then a new operator process;
- `kill-pause` (while a PAUSE waits; the approval is set while no operator runs), `kill-rollback` (during
  ROLLBACK_IN_PROGRESS after a reject);
- `kill-start-intent` (the intent is written and RegisterTaskDefinition arrives at ECS: killed, never handled),
  `kill-start-registered` (UpdateService arrives: killed, never handled), `kill-start-updated` (UpdateService
  handled by ECS, its answer never read), `kill-start-status-patch` (UpdateService answered, the status patch
  recording the ARN swallowed by a proxy in front of the Kubernetes API: killed with the patch in flight);
- `api-outage-<N>s`: the Kubernetes API unreachable for N s while a PAUSE waits, the dev cluster stopped and
  restarted on the same port in the middle, its watch history compacted (a watch resumed from an old
  resourceVersion would get 410 Gone; kopf lists again after a broken watch), the
  approval set during the outage: the same operator process must act on it;
- `storm-<kind>`: an emulator fault spec on every ECS call for 30 s (throttling 40 s, 120 s with `--full`)
  while the release deploys and its PAUSE is approved: 100 % throttling, 5xx bursts, 3 s answers, connection
  resets, lost answers on every write; ECS request rates and the largest backoff gauge go under the table.

    python -m bench.faults [--smoke] [--full] [--only kill-start,api-outage] [--speed 20] [--parallel 4]

    python -m bench.faults --soak [--minutes 30] [--releases 200] [--seed 13]   (bench/soak.py)

`--full` adds the 120 s API outage and makes the throttling storm 120 s. `--smoke` runs the few scenarios of tests/integration/test_fault_smoke.py.
"""

from __future__ import annotations

import argparse
import difflib
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.conftest import release_manifest
from tests.plugins.ecs import make_client, seed_service
from tests.plugins.process import OperatorProcess, TcpProxy, kubeconfig_via

ROOT = Path(__file__).resolve().parents[1]
GV, PLURAL = "ecsbg.dev/v1alpha1", "ecsbluegreenreleases"
PAUSE = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 1440, "action": "Rollback"}}]
STRATEGIES = {
    "bluegreen": {"type": "BlueGreen", "bakeTimeInMinutes": 1},
    "linear": {"type": "Linear", "bakeTimeInMinutes": 1, "linear": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 1}},
    "canary": {"type": "Canary", "bakeTimeInMinutes": 1,
               "canary": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}},
}
STAGES = ("PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
          "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME",
          "CLEAN_UP")
FORWARD = {"PENDING", "IN_PROGRESS", "SUCCESSFUL"}
TIMEOUT = 180.0


@dataclass
class Result:
    scenario: str
    double_deploys: int = 0
    duplicate_revisions: int = 0
    lost: int = 0
    invented: int = 0
    tracebacks: int = 0
    phase_ok: bool = False
    recovery: float | None = None
    note: str = ""
    figures: str = ""  # storms: request rates and the loop's backoff


@dataclass
class Scenario:
    name: str
    strategy: str = "bluegreen"
    hooks: list[dict[str, Any]] | None = None
    expected: str = "Succeeded"
    # kill(run) arranges the kill and returns once the operator is dead (or raises); after(run) acts afterwards
    kill: Callable[[Run], None] | None = None
    outage: float = 0.0
    recovered: Callable[[Run], Any] | None = None  # besides mirroring ECS (e.g. the approval reached ECS)
    storm: str = ""  # an emulator --faults spec switched on from the release's start for `seconds`
    seconds: float = 0.0


@dataclass
class Run:
    campaign: Campaign
    scenario: Scenario
    ecs: Any
    namespace: str
    proxy: TcpProxy
    kubeconfig: Path
    seeded: int
    operators: list[OperatorProcess] = field(default_factory=list)
    result_figures: str = ""

    @property
    def op(self) -> OperatorProcess:
        return self.operators[-1]

    def start_operator(self) -> OperatorProcess:
        work = self.campaign.work
        env = {"ECSBG_AWS_ENDPOINT_URL": self.ecs.url, "ECSBG_COALESCE_MS": "0", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "ECSBG_POLL_FAST_SECONDS": "0.1",
               "ECSBG_POLL_IDLE_SECONDS": "1", "ECSBG_K8S_TIMEOUT_SECONDS": "5", "ECSBG_BACKOFF_MAX_SECONDS": "2"}
        op = OperatorProcess(kubeconfig=self.kubeconfig, namespace=self.namespace, env=env,
                             log_path=work / f"operator-{self.scenario.name}-{len(self.operators)}.log")
        self.operators.append(op)
        return op

    def kill(self) -> None:
        os.kill(self.op.proc.pid, signal.SIGKILL)

    def status(self) -> dict[str, Any]:
        obj = self.campaign.cluster.get(GV, PLURAL, self.namespace, "web") or {}
        return dict(obj.get("status") or {})

    def requests(self, operation: str) -> list[dict[str, Any]]:
        return [r for r in self.ecs.requests[self.seeded:] if r["operation"] == operation]

    def deployment(self) -> dict[str, Any] | None:
        """ECS's newest deployment of the service (the emulator's own view, with its stage history)."""
        services = [s for s in self.ecs.control.state()["services"] if s["service"] == "web"]
        deployments = services[0]["deployments"] if services else []
        return deployments[-1] if len(deployments) > 1 else None

    def annotate(self, key: str, value: str) -> None:
        self.campaign.cluster.patch(GV, PLURAL, self.namespace, "web",
                                    {"metadata": {"annotations": {f"ecsbg.dev/{key}": value}}})

    def wait(self, predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"{self.scenario.name}: {what}")

    def mirrored(self) -> bool:
        """The status shows ECS's newest deployment with ECS's status and lifecycle stage."""
        dep, status = self.deployment(), self.status()
        recorded = status.get("deployment") or {}
        in_flight = dep is not None and dep["status"] in ("PENDING", "IN_PROGRESS")
        return bool(dep) and recorded.get("arn") == dep["serviceDeploymentArn"] and \
            recorded.get("status") == dep["status"] and (not in_flight or status.get("stage") == dep["lifecycleStage"])


class Campaign:
    def __init__(self, cluster: Any, kubeconfig: Path, work: Path, speed: float) -> None:
        self.cluster, self.kubeconfig, self.work, self.speed = cluster, kubeconfig, work, speed
        self.count = 0
        self._lock = threading.Lock()  # scenarios may run in threads (run_campaign's `parallel`)

    def run(self, scenario: Scenario) -> Result:
        from ecsbg_emulators.ecs import EmulatorServer

        with self._lock:
            self.count += 1
            count = self.count
        namespace = f"faults-{count}-{int(time.time()) % 100000}"
        self.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        host, port = self.cluster.url.split("//", 1)[1].rsplit(":", 1)
        proxy = TcpProxy((host, int(port)))
        kubeconfig = kubeconfig_via(self.kubeconfig, proxy.url, self.work / f"kubeconfig-{count}")
        with EmulatorServer(host="127.0.0.1", port=0, speed=self.speed) as ecs:
            seed_service(make_client(ecs.url), timeout=60.0)
            run = Run(self, scenario, ecs, namespace, proxy, kubeconfig, seeded=len(ecs.requests))
            try:
                return self._run(run)
            except Exception as exc:  # a scenario that breaks is a figure too
                result = self._count(run)
                result.note = f"error: {type(exc).__name__}: {exc}"
                return result
            finally:
                for op in run.operators:
                    op.stop()
                proxy.close()

    def _run(self, run: Run) -> Result:
        scenario = run.scenario
        run.start_operator()
        self.cluster.apply(release_manifest("web", run.namespace, strategy=STRATEGIES[scenario.strategy],
                                            hooks=scenario.hooks))
        recovery = None
        if scenario.kill is not None:
            scenario.kill(run)
            run.op.proc.wait(timeout=30)
            restarted = time.monotonic()
            run.start_operator()
            run.wait(lambda: run.mirrored() and (scenario.recovered is None or scenario.recovered(run)),
                     "the status to mirror ECS after the restart")
            recovery = time.monotonic() - restarted
        elif scenario.outage:
            recovery = api_outage(run, scenario.outage)
        elif scenario.storm:
            recovery = aws_storm(run, scenario.storm, scenario.seconds)
        run.wait(lambda: run.status().get("phase") in (scenario.expected, "Failed", "RolledBack", "Succeeded")
                 and run.deployment() and run.deployment()["status"] not in ("PENDING", "IN_PROGRESS")
                 and run.mirrored(), f"a final phase ({scenario.expected})")
        time.sleep(0.5)  # a last poll: anything late would show now
        result = self._count(run)
        result.recovery = recovery
        result.figures = run.result_figures
        if scenario.outage and len(run.operators) != 1 or run.op.proc.poll() is not None:
            result.note = "the operator process did not survive"
            result.phase_ok = False
        return result

    def _count(self, run: Run) -> Result:
        result = Result(run.scenario.name)
        updates = [r for r in run.requests("UpdateService") if r["statusCode"] == 200]
        registers = [r for r in run.requests("RegisterTaskDefinition") if r["statusCode"] == 200]
        result.double_deploys = max(len(updates) - 1, 0)
        result.duplicate_revisions = max(len(registers) - 1, 0)
        status = run.status()
        dep = run.deployment()
        if dep is not None:
            result.lost, result.invented = compare_stages(dep["history"], status.get("stages") or [])
        result.tracebacks = sum(op.log().count("Traceback (most recent call last)") for op in run.operators)
        result.phase_ok = status.get("phase") == run.scenario.expected
        return result


def _collapse(stages: list[str]) -> list[str]:
    return [s for i, s in enumerate(stages) if s and (i == 0 or stages[i - 1] != s)]


def compare_stages(history: list[dict[str, Any]], recorded: list[dict[str, Any]]) -> tuple[int, int]:
    """(lost, invented): ECS's forward stages missing from the release's history, and stages it has that ECS
    never walked."""
    ecs = _collapse([h.get("stage") for h in history if h.get("status") in FORWARD])
    ours = _collapse([s.get("stage") for s in recorded if not s.get("rollback")])
    lost = invented = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=ecs, b=ours, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            lost += i2 - i1
        if op in ("insert", "replace"):
            invented += j2 - j1
    return lost, invented


# -- kill points ------------------------------------------------------------------------------------------------
def on_transition(run: Run, predicate: Callable[[Any], bool]) -> threading.Event:
    """SIGKILL the operator from the emulator's own state transition that makes `predicate(deployment)` true."""
    engine = run.ecs.backend.engine
    original = engine._record
    fired = threading.Event()

    def record(dep: Any) -> None:
        original(dep)
        if not fired.is_set() and not dep.initial and predicate(dep):
            fired.set()
            run.kill()

    engine._record = record
    return fired


def kill_at_stage(stage: str) -> Callable[[Run], None]:
    def kill(run: Run) -> None:
        fired = on_transition(run, lambda d: d.status == "IN_PROGRESS" and d.stage == stage)
        run.wait(fired.is_set, f"ECS to enter {stage}")
    return kill


def on_arrival(run: Run, operation: str, then: str) -> threading.Event:
    """When `operation` arrives at ECS: `drop` (kill, never handled), `lost` (kill, handled, no answer),
    `swallow` (the Kubernetes API proxy swallows from now on; handled and answered)."""
    from ecsbg_emulators.ecs.faults import Outcome

    faults = run.ecs.faults
    original = faults.decide
    fired = threading.Event()

    def decide(op: str) -> Outcome:
        if op != operation or fired.is_set():
            return original(op)
        fired.set()
        if then == "swallow":
            run.proxy.swallow()
            return Outcome()
        run.kill()
        return Outcome(drop=then == "drop", lost=then == "lost")

    faults.decide = decide
    return fired


def kill_on_arrival(operation: str, then: str) -> Callable[[Run], None]:
    def kill(run: Run) -> None:
        fired = on_arrival(run, operation, then)
        run.wait(fired.is_set, f"{operation} to arrive")
        if then == "swallow":
            run.wait(lambda: [r for r in run.requests(operation) if r["statusCode"] == 200], f"{operation} handled")
            time.sleep(1.0)  # the answer is read and the status patch sent into the proxy, which swallows it
            assert not (run.status().get("deployment") or {}).get("arn"), "the ARN was recorded before the kill"
            run.kill()
            run.op.proc.wait(timeout=30)
            run.proxy.forward()
    return kill


def kill_while_paused(run: Run) -> None:
    run.wait(lambda: run.status().get("phase") == "AwaitingApproval", "AwaitingApproval")
    run.kill()
    run.op.proc.wait(timeout=30)
    run.annotate("approve", str(run.status()["attempt"]))  # set while no operator runs


def kill_in_rollback(run: Run) -> None:
    run.wait(lambda: run.status().get("phase") == "AwaitingApproval", "AwaitingApproval")
    fired = on_transition(run, lambda d: d.status == "ROLLBACK_IN_PROGRESS")
    run.annotate("reject", str(run.status()["attempt"]))
    run.wait(fired.is_set, "ECS to roll back")


def api_outage(run: Run, seconds: float) -> float:
    """The API unreachable for `seconds` (proxy refuses), the dev cluster restarted on its port in the middle
    with its watch history compacted (410 Gone on resume), the approval set meanwhile. Returns the seconds from
    the API's return until the status mirrors ECS (the approved deployment going on)."""
    cluster = run.campaign.cluster
    run.wait(lambda: run.status().get("phase") == "AwaitingApproval", "AwaitingApproval")
    attempt = str(run.status()["attempt"])
    run.proxy.refuse()
    cluster.stop()
    time.sleep(seconds / 2)
    cluster.start()
    run.annotate("approve", attempt)
    cluster.call(_compact, cluster.store)
    time.sleep(seconds / 2)
    run.proxy.forward()
    back = time.monotonic()
    run.wait(lambda: run.requests("ContinueServiceDeployment"), "the approval to reach ECS")
    run.wait(run.mirrored, "the status to mirror ECS after the outage")
    return time.monotonic() - back


def aws_storm(run: Run, spec: str, seconds: float) -> float:
    """`spec` on every ECS call for `seconds` while the release deploys (its PAUSE approved in the storm); the
    ECS request rate in the storm's first and last 10 s and the largest backoff gauge seen go to the figures.
    Returns the seconds from the storm's end until the status mirrors ECS."""
    run.wait(lambda: run.status().get("attempt"), "the attempt's intent")
    run.ecs.control.set_faults(spec)
    started, first, backoff = time.monotonic(), len(run.ecs.requests), 0.0
    approved = last_mark = first_mark = None
    while time.monotonic() - started < seconds:
        if approved is None and run.status().get("phase") == "AwaitingApproval":
            approved = run.annotate("approve", str(run.status()["attempt"])) or True
        if first_mark is None and time.monotonic() - started >= 10:
            first_mark = len(run.ecs.requests)
        if last_mark is None and time.monotonic() - started >= seconds - 10:
            last_mark = len(run.ecs.requests)
        backoff = max(backoff, _gauge(run.op.metrics(), "ecsbg_release_backoff_seconds"))
        time.sleep(0.5)
    total = len(run.ecs.requests) - first
    last = len(run.ecs.requests) - (last_mark or first)
    run.ecs.control.set_faults(None)
    ended = time.monotonic()
    if approved is None:
        run.wait(lambda: run.status().get("phase") == "AwaitingApproval", "AwaitingApproval after the storm")
        run.annotate("approve", str(run.status()["attempt"]))
    run.wait(lambda: run.mirrored() and run.requests("ContinueServiceDeployment"), "the status to mirror ECS")
    run.result_figures = (f"{total} ECS requests in {seconds:.0f} s (first 10 s {((first_mark or first) - first) / 10:.1f}/s, "
                          f"last 10 s {last / 10:.1f}/s), backoff gauge max {backoff:g} s")
    return time.monotonic() - ended


def _gauge(text: str, name: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{")]
    return max(values, default=0.0)


def _compact(store: Any) -> None:
    store.log.clear()
    store.log_floor = store.rv


# -- the scenario list -------------------------------------------------------------------------------------------
def scenarios(full: bool) -> list[Scenario]:
    out = [Scenario(f"kill-{name}-{stage}", strategy=name, kill=kill_at_stage(stage))
           for name in STRATEGIES for stage in STAGES]
    out += [
        Scenario("kill-pause", hooks=PAUSE, kill=kill_while_paused,
                 recovered=lambda run: run.requests("ContinueServiceDeployment")),
        Scenario("kill-rollback", hooks=PAUSE, expected="RolledBack", kill=kill_in_rollback),
        Scenario("kill-start-intent", kill=kill_on_arrival("RegisterTaskDefinition", "drop")),
        Scenario("kill-start-registered", kill=kill_on_arrival("UpdateService", "drop")),
        Scenario("kill-start-updated", kill=kill_on_arrival("UpdateService", "lost")),
        Scenario("kill-start-status-patch", kill=kill_on_arrival("UpdateService", "swallow")),
    ]
    out += [Scenario(f"api-outage-{n}s", hooks=PAUSE, outage=float(n)) for n in ((5, 30, 120) if full else (5, 30))]
    writes = "RegisterTaskDefinition|UpdateService|ContinueServiceDeployment|StopServiceDeployment|TagResource"
    storm = 120.0 if full else 40.0
    out += [Scenario(name, hooks=PAUSE, storm=spec, seconds=seconds) for name, spec, seconds in (
        ("storm-throttling", "throttle:1.0", storm),
        ("storm-5xx-bursts", "error:0.5,unavailable:0.3", 30.0),
        ("storm-slow-answers", "latency:3s", 30.0),
        ("storm-resets", "drop:0.5", 30.0),
        ("storm-lost-writes", f"lost@{writes}", 30.0),
    )]
    return out


SMOKE = ("kill-start-registered", "kill-start-status-patch", "kill-pause", "kill-linear-PRODUCTION_TRAFFIC_SHIFT")


def table(results: list[Result]) -> str:
    groups: dict[str, list[Result]] = {}
    for r in results:
        key = r.scenario if not r.scenario.startswith("kill-") or r.scenario.startswith(("kill-start", "kill-pause",
                                                                                            "kill-rollback")) \
            else "-".join(r.scenario.split("-")[:2]) + " at each stage"
        groups.setdefault(key, []).append(r)
    head = ("scenario", "runs", "double deploys", "duplicate revisions", "lost transitions", "tracebacks",
            "final phases as expected", "recovery time (s, max)")
    rows = [head]
    for key, rs in groups.items():
        recoveries = [r.recovery for r in rs if r.recovery is not None]
        rows.append((key, str(len(rs)), str(sum(r.double_deploys for r in rs)),
                     str(sum(r.duplicate_revisions for r in rs)),
                     f"{sum(r.lost for r in rs)} lost, {sum(r.invented for r in rs)} invented",
                     str(sum(r.tracebacks for r in rs)), f"{sum(r.phase_ok for r in rs)}/{len(rs)}",
                     f"{max(recoveries):.1f}" if recoveries else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"  {r.scenario}: {r.note}" for r in results if r.note]
    notes += [f"  {r.scenario}: {r.figures}" for r in results if r.figures]
    return "\n".join(lines + notes)


def run_campaign(names: list[Scenario], speed: float, work: Path,
                 report: Callable[[Result], None] = lambda r: None, parallel: int = 1) -> list[Result]:
    """`parallel`: how many scenarios run at once (each its own namespace, emulator, proxy and operator; the
    scenarios that stop the shared dev cluster or time the operator's back-off, the outages and storms, always
    run alone). A scenario mostly waits for ECS's stages, so the smoke runs its kills together: 63 s -> about 20 s
    on the 2-core machine. Results come back in the order given."""
    from ecsbg_emulators.devcluster import DevCluster

    cluster = DevCluster(host="127.0.0.1", port=0)
    cluster.start()
    try:
        kubeconfig = cluster.write_kubeconfig(work / "kubeconfig")
        for path in sorted((ROOT / "crds").glob("*.yaml")):
            cluster.apply(path)
        campaign = Campaign(cluster, kubeconfig, work, speed)
        together = [s for s in names if s.kill is not None] if parallel > 1 else []
        done: dict[str, Result] = {}

        def one(scenario: Scenario) -> None:
            done[scenario.name] = campaign.run(scenario)
            report(done[scenario.name])
        with ThreadPoolExecutor(max(parallel, 1)) as pool:
            list(pool.map(one, together))
        for scenario in names:
            if scenario.name not in done:
                one(scenario)
        return [done[s.name] for s in names]
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the few scenarios of the test suite's smoke")
    parser.add_argument("--full", action="store_true", help="add the 120 s API outage")
    parser.add_argument("--only", default="", help="comma-separated scenario name prefixes")
    parser.add_argument("--speed", type=float, default=20.0, help="the emulator's time factor")
    parser.add_argument("--parallel", type=int, default=1,
                        help="kill scenarios run this many at once (recovery figures then include the contention)")
    parser.add_argument("--keep", action="store_true", help="keep the operator logs (printed path)")
    parser.add_argument("--soak", action="store_true", help="the long soak instead (bench/soak.py)")
    parser.add_argument("--minutes", type=float, default=30.0, help="--soak: how long the releases cycle")
    parser.add_argument("--releases", type=int, default=200, help="--soak: how many releases cycle")
    parser.add_argument("--seed", type=int, default=13, help="--soak: the random choices' seed")
    args = parser.parse_args(argv)
    if args.soak:
        return soak_main(args)
    chosen = scenarios(args.full)
    if args.smoke:
        chosen = [s for s in chosen if s.name in SMOKE]
    if args.only:
        chosen = [s for s in chosen if s.name.startswith(tuple(args.only.split(",")))]
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="ecsbg-faults-"))

    def report(r: Result) -> None:
        print(f"{r.scenario:45} deploys+{r.double_deploys} revisions+{r.duplicate_revisions} lost {r.lost} "
              f"invented {r.invented} tracebacks {r.tracebacks} phase {'ok' if r.phase_ok else 'WRONG'} "
              f"recovery {'-' if r.recovery is None else f'{r.recovery:.1f} s'} {r.note}", flush=True)

    results = run_campaign(chosen, args.speed, work, report, parallel=args.parallel)
    print(f"\n{len(results)} runs in {time.monotonic() - started:.0f} s (emulator speed {args.speed:g}); "
          f"logs in {work}\n")
    print(table(results))
    bad = [r for r in results if r.double_deploys or r.duplicate_revisions or r.lost or r.invented or r.tracebacks
           or not r.phase_ok or r.note]
    return 1 if bad else 0


def soak_main(args: argparse.Namespace) -> int:
    from bench import soak

    work = Path(tempfile.mkdtemp(prefix="ecsbg-soak-"))
    started = time.monotonic()
    result = soak.run_soak(minutes=args.minutes, releases=args.releases, speed=args.speed, work=work,
                           seed=args.seed)
    print(f"\nsoak finished in {time.monotonic() - started:.0f} s (emulator speed {args.speed:g}); logs in {work}")
    print(soak.report(result))
    return 0 if soak.ok(result) else 1


if __name__ == "__main__":
    raise SystemExit(main())
