"""`ecsbg demo`: a complete release on this machine, with nothing but Python.

It starts the local ECS emulator and the local Kubernetes API, seeds two ECS services, runs the real operator
(kopf) against both, applies the releases in examples/ (a blue/green with a PAUSE approval, and a linear one),
prints every stage as the operator mirrors it, approves the pause the way `kubectl ecsrelease approve` does (an
annotation naming the attempt), lets a third release be promoted by automated analysis (a web probe against a
local HTTP endpoint standing in for the test listener, docs/analysis.md), and ends with a summary. Files it leaves in .demo/: the kubeconfig and the
emulator's request record.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from pathlib import Path
from typing import Any

DEMO_DIR = Path(".demo")
RELEASES = ("bluegreen-pause.yaml", "linear.yaml")
AUTO = "web-auto"  # a copy of the blue/green release whose pause an analysis decides: no approval
TERMINAL = {"Succeeded", "RolledBack", "Failed", "Invalid"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", action="store_true", help="keep everything running after the summary")
    parser.add_argument("--speed", type=float, default=10.0,
                        help="emulated ECS time runs this many times faster than real time (default 10: the "
                             "shortest ECS stage lasts 0.1 s, long enough to be seen)")
    parser.add_argument("--timeout", type=float, default=110.0, help="give up after this many seconds")
    parser.add_argument("--examples", default="examples", help="directory holding the example releases")


def run(args: argparse.Namespace) -> int:
    DEMO_DIR.mkdir(exist_ok=True)
    record = DEMO_DIR / "ecs-requests.jsonl"
    record.unlink(missing_ok=True)
    # the emulators are their own distribution (emulators/), found by name: the operator never imports them
    # statically (import-linter), and an operator install without them gets this message, not a traceback
    try:
        DevCluster = importlib.import_module("ecsbg_emulators.devcluster").DevCluster  # noqa: N806
        EmulatorServer = importlib.import_module("ecsbg_emulators.ecs").EmulatorServer  # noqa: N806
    except ModuleNotFoundError:
        _say("ecsbg demo needs the ecsbg-emulators distribution: pip install ./emulators (or make venv)")
        return 2
    with EmulatorServer(host="127.0.0.1", port=0, speed=args.speed, record_path=str(record)) as ecs, \
            DevCluster(host="127.0.0.1", port=0) as cluster:
        kubeconfig = (DEMO_DIR / "kubeconfig").resolve()
        cluster.write_kubeconfig(str(kubeconfig))
        _environment(str(kubeconfig), ecs.url)  # before kopf is imported: it reads KUBECONFIG at import
        for crd in sorted(Path("crds").glob("*.yaml")):
            cluster.apply(str(crd))
        _say(f"ECS emulator   {ecs.url} (x{args.speed:g} speed; requests recorded in {record})")
        _say(f"Kubernetes API {cluster.url} (KUBECONFIG={DEMO_DIR / 'kubeconfig'})")
        releases = [_load(Path(args.examples) / f) for f in RELEASES]
        probe = _probe()
        cluster.apply(_smoke_template())
        releases.append(_analysed(releases[0], probe.url))
        _say(f"test listener  {probe.url}/health (a local endpoint the {AUTO} analysis probes)")
        _seed_ecs(ecs.url, releases)
        operator = _start_operator()
        metrics_port = int(os.environ["ECSBG_METRICS_PORT"])
        _say(f"operator       metrics at http://127.0.0.1:{metrics_port}/metrics")
        try:
            names = [_apply_release(cluster, obj) for obj in releases]
            final, timelines = _watch(cluster, names, timeout=args.timeout)
            ok = _summary(final, timelines, args.speed, ecs.requests, metrics_port)
            if args.keep:
                _keep(kubeconfig)
            return 0 if ok else 1
        finally:
            operator.stop()
            probe.shutdown()


# ---------------------------------------------------------------------------------------------------- setup


def _environment(kubeconfig: str, ecs_url: str) -> None:
    os.environ.update({
        "KUBECONFIG": kubeconfig,
        "ECSBG_AWS_ENDPOINT_URL": ecs_url,
        # The emulator accepts any credentials; real ones must never be needed for the demo.
        "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": "us-east-1",
        "ECSBG_POLL_FAST_SECONDS": "0.02", "ECSBG_POLL_IDLE_SECONDS": "5", "ECSBG_METRICS_PORT": str(_free_port()),
        "ECSBG_HEALTH_PORT": "0",
    })


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load(path: Path) -> dict[str, Any]:
    import yaml

    obj = yaml.safe_load(path.read_text())
    obj["metadata"].setdefault("namespace", "default")
    return dict(obj)


def _seed_ecs(url: str, releases: list[dict[str, Any]]) -> None:
    """The services the releases target, as a platform team would have them before adopting ecsbg: Fargate,
    awsvpc, a rolling deployment behind the blue target group the release names."""
    import boto3

    for release in releases:
        target = release["spec"]["target"]
        ecs = boto3.client("ecs", endpoint_url=url, region_name=target["region"],
                           aws_access_key_id="demo", aws_secret_access_key="demo")
        clusters = ecs.describe_clusters(clusters=[target["cluster"]])["clusters"]
        if not clusters:
            ecs.create_cluster(clusterName=target["cluster"])
        groups = [lb["targetGroupArn"] for lb in release["spec"].get("loadBalancers") or []]
        _seed_service(ecs, target["cluster"], target["service"], groups)
        _say(f"seeded ECS service {target['cluster']}/{target['service']} "
             f"(task definition {target['service']}:1, 2 tasks, FARGATE)")


def _seed_service(ecs: Any, cluster: str, service: str, target_groups: list[str]) -> None:
    ecs.register_task_definition(
        family=service, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "app", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True,
                               "portMappings": [{"containerPort": 80}]}],
    )
    ecs.create_service(
        cluster=cluster, serviceName=service, taskDefinition=f"{service}:1", desiredCount=2,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0a1b2c3d"], "securityGroups": ["sg-0a1b2c3d"]}},
        deploymentController={"type": "ECS"},
        deploymentConfiguration={"strategy": "ROLLING"},
        loadBalancers=[{"targetGroupArn": arn, "containerName": "app", "containerPort": 80} for arn in target_groups],
    )


def _probe() -> Any:
    """A stand-in for the green revision's test listener: answers /health with {"ok": true}."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = json.dumps({"ok": True}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    server.url = f"http://127.0.0.1:{server.server_port}"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _smoke_template() -> dict[str, Any]:
    return {"apiVersion": "ecsbg.dev/v1alpha1", "kind": "EcsAnalysisTemplate",
            "metadata": {"name": "smoke", "namespace": "default"},
            "spec": {"args": [{"name": "test-url"}], "metrics": [{
                "name": "health", "interval": "1s", "count": 3,
                "successCondition": "result.status == 200 && result.value == true",
                "provider": {"web": {"url": "{{args.test-url}}/health", "jsonPath": "$.ok"}}}]}}


def _analysed(release: dict[str, Any], url: str) -> dict[str, Any]:
    import copy

    auto = copy.deepcopy(release)
    auto["metadata"]["name"] = AUTO
    auto["spec"]["target"]["service"] = AUTO
    for hook in auto["spec"].get("lifecycleHooks") or []:
        if hook.get("type") == "Pause":
            hook["analysis"] = {"templateName": "smoke", "args": [{"name": "test-url", "value": url}]}
    return auto


def _start_operator() -> Any:
    from ecsbg.k8s.login import keep_other_clients_out

    keep_other_clients_out()  # what `ecsbg run` does, before kopf's first import
    from ecsbg.embedded import OperatorThread
    from ecsbg.handlers import build_registry
    from ecsbg.logs import configure

    configure("plain", "ERROR")  # the demo prints what matters; kopf's thread notice is noise
    return OperatorThread(build_registry(), namespaces=["default"]).start()


def _apply_release(cluster: Any, obj: dict[str, Any]) -> str:
    cluster.apply(obj)
    _say(f"applied EcsBlueGreenRelease {obj['metadata']['name']} ({obj['spec']['strategy']['type']})")
    return str(obj["metadata"]["name"])


# ---------------------------------------------------------------------------------------------------- watching


Timeline = list[tuple[float, str]]  # (seconds since the releases were applied, phase/stage label)


def _watch(cluster: Any, names: list[str], *, timeout: float) -> tuple[dict[str, dict[str, Any]], dict[str, Timeline]]:
    started = time.monotonic()
    seen: dict[str, tuple[Any, ...]] = {}
    approved: set[tuple[str, int]] = set()
    latest: dict[str, dict[str, Any]] = {}
    timelines: dict[str, Timeline] = {name: [] for name in names}
    while time.monotonic() - started < timeout:
        for name in names:
            obj = cluster.get("ecsbg.dev/v1alpha1", "ecsbluegreenreleases", "default", name) or {}
            status = obj.get("status") or {}
            latest[name] = status
            _print_change(name, status, seen, time.monotonic() - started, timelines[name])
            if name != AUTO:  # its analysis decides
                _approve_if_waiting(name, status, approved)
        if latest and all(s.get("phase") in TERMINAL for s in latest.values()):
            break
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    for timeline in timelines.values():
        timeline.append((elapsed, "end"))
    return latest, timelines


def _print_change(name: str, status: dict[str, Any], seen: dict[str, tuple[Any, ...]], elapsed: float,
                  timeline: Timeline) -> None:
    traffic = status.get("traffic") or {}
    key = (status.get("phase"), status.get("stage"), traffic.get("production"), traffic.get("test"))
    if seen.get(name) == key or status.get("phase") is None:
        return
    seen[name] = key
    label = status.get("stage") or status.get("phase") or ""
    if status.get("phase") == "AwaitingApproval":
        label = "AwaitingApproval"
    if status.get("phase") not in TERMINAL and (not timeline or timeline[-1][1] != label):
        timeline.append((elapsed, label))
    prod, test = _pct(traffic.get("production")), _pct(traffic.get("test"))
    _say(f"[{elapsed:6.1f}s] {name:<16} {status.get('phase', ''):<17} {status.get('stage') or '-':<30} "
         f"production {prod:>5}  test {test:>5}")


def _pct(value: Any) -> str:
    return "-" if value is None else f"{float(value):g}%"


def _approve_if_waiting(name: str, status: dict[str, Any], approved: set[tuple[str, int]]) -> None:
    attempt = int(status.get("attempt") or 0)
    if status.get("phase") != "AwaitingApproval" or (name, attempt) in approved:
        return
    approved.add((name, attempt))
    from ecsbg.k8s.rest import RestClient, custom_path

    api = RestClient.from_environment()  # KUBECONFIG: the demo's cluster
    try:
        api.patch(custom_path("ecsbg.dev", "v1alpha1", "ecsbluegreenreleases", "default", name),
                  {"metadata": {"annotations": {"ecsbg.dev/approve": str(attempt)}}})
    finally:
        api.close()
    _say(f"           {name:<16} approved attempt {attempt} "
         f"(what `kubectl ecsrelease approve {name}` does: annotation ecsbg.dev/approve={attempt})")


# ---------------------------------------------------------------------------------------------------- summary


def _summary(final: dict[str, dict[str, Any]], timelines: dict[str, Timeline], speed: float,
             requests: list[dict[str, Any]], metrics_port: int) -> bool:
    _say("")
    _say("summary")
    ok = True
    for name, status in final.items():
        ok = ok and status.get("phase") == "Succeeded"
        stages = status.get("stages") or []
        passed = sum(1 for s in stages if s.get("observed") is False)
        _say(f"  {name}: {status.get('phase')} (attempt {status.get('attempt')}, revision {status.get('revision')}, "
             f"{len(stages)} ECS stages in status, {passed} of them passed between two polls)")
        for run in status.get("analysisRuns") or []:
            measured = sum(m.get("count", 0) for m in run.get("metrics") or [])
            _say(f"    analysis {run.get('template')} {run.get('phase')} after {measured} measurement(s): "
                 f"{'ContinueServiceDeployment ' + run['action'] if run.get('action') else 'no call'}, no approval")
        timeline = timelines.get(name) or []
        for (at, label), (until, _) in zip(timeline, timeline[1:], strict=False):
            real = until - at
            _say(f"    {label:<30} {real:5.1f} s here, {real * speed / 60:5.1f} min of ECS time")
    updates = sum(1 for r in requests if r.get("operation") == "UpdateService")
    _say(f"  ECS API requests: {len(requests)} in all, {updates} UpdateService "
         f"(one per release: restarts and polls never redeploy)")
    _say(f"  metrics: http://127.0.0.1:{metrics_port}/metrics")
    _say("result: " + ("every release succeeded" if ok else "a release did not succeed"))
    return ok


def _keep(kubeconfig: Path) -> None:
    _say("")
    _say("still running (Ctrl-C to stop). In another terminal:")
    _say(f"  KUBECONFIG={kubeconfig} kubectl get ecsreleases -w")
    import signal

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Ctrl-C or a plain `kill` ends it cleanly, even where SIGINT was inherited as ignored (a background job)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        _say("stopping")


def _say(line: str) -> None:
    print(line, flush=True)
