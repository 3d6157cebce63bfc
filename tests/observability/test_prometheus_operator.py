"""A real Prometheus scrapes the real operator during emulated releases; every shipped PromQL expression must find
data there too.

test_prometheus_scrape.py runs the same checks against a scripted recorder (it reaches every label value on
purpose); this module swaps the metrics source for the operator itself (kopf against the dev cluster, boto3
against the ECS emulator) running a blue/green approved release, a rejected one, a linear one and one left
awaiting approval, one held deploying by a Lambda hook, one failed, one changed out of band (drift), with a few
injected AWS errors, so a dashboard panel or alert that only the script could feed fails here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import kopf
import pytest
from prometheus_client import generate_latest

from ecsbg.clock import SystemClock
from ecsbg.embedded import OperatorThread
from ecsbg.handlers import build_registry
from ecsbg.metrics.prometheus import PrometheusRecorder
from ecsbg.metrics.server import start_metrics_server
from ecsbg.wiring import build_analysis
from ecsbg_emulators.ecs import EmulatorServer
from tests.analysis.apps import Probe
from tests.integration.conftest import GV, PLURAL, make_deps, one_target_wave, release_manifest
from tests.observability.test_prometheus_scrape import (  # noqa: F401  (the tests and fixture run again here)
    prometheus,
    test_expression_parses_and_returns_series,
    test_prometheus_loads_the_alert_rules,
)
from tests.plugins.ecs import make_client, seed_service
from tests.plugins.k8s import fast_settings

NAMESPACE = "prom-operator"
SLOW_HOOK = "arn:aws:lambda:us-east-1:123456789012:function:slow-smoke-test"
QUICK_HOOK = "arn:aws:lambda:us-east-1:123456789012:function:quick-check"
PAUSE = [{"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 1440, "action": "Rollback"}}]


class OperatorMetricsSource:
    def __init__(self, ecs: EmulatorServer, cluster: Any, recorder: PrometheusRecorder, target: str,
                 probe_url: str = "") -> None:
        self.ecs, self.cluster, self.recorder, self.target = ecs, cluster, recorder, target
        self.probe_url = probe_url

    def _describe_errors_share(self) -> float:
        calls = _total(self.recorder, "ecsbg_aws_api_calls_total")
        return _total(self.recorder, "ecsbg_aws_api_errors_total") / calls if calls else 0.0

    def status(self, name: str) -> dict[str, Any]:
        return dict((self.cluster.get(GV, PLURAL, NAMESPACE, name) or {}).get("status") or {})

    def wait(self, name: str, *phases: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(name)
            if status.get("phase") in phases:
                return status
            time.sleep(0.02)
        raise AssertionError(f"{name} never reached {phases}: {self.status(name)}")

    def request(self, name: str, kind: str, attempt: int) -> None:
        self.cluster.patch(GV, PLURAL, NAMESPACE, name, {"metadata": {"annotations": {f"ecsbg.dev/{kind}": str(attempt)}}})

    def run(self, between: Callable[[], None]) -> None:
        between()
        self.cluster.apply(release_manifest("approved", NAMESPACE, hooks=PAUSE, service="web"))
        self.cluster.apply(release_manifest("rejected", NAMESPACE, hooks=PAUSE, service="api"))
        self.cluster.apply(release_manifest("linear", NAMESPACE, service="lin", strategy={
            "type": "Linear", "bakeTimeInMinutes": 0, "linear": {"stepPercent": 50, "stepBakeTimeInMinutes": 10}}))
        self.cluster.apply(release_manifest("waiting", NAMESPACE, hooks=PAUSE, service="hold"))  # left waiting
        # left deploying: its smoke-test Lambda keeps answering IN_PROGRESS
        self.ecs.control.set_hook_behaviour(SLOW_HOOK, {"kind": "in_progress", "times": 10**6, "callBackDelay": 600})
        # ECS lists only the hooks of the stage in progress, so a finished hook is seen (and counted) while a
        # sibling of its stage still runs: the quick check beside the slow one
        self.cluster.apply(release_manifest("deploying", NAMESPACE, service="slow", hooks=[
            {"type": "Lambda", "functionArn": hook, "roleArn": "arn:aws:iam::123456789012:role/hooks",
             "stages": ["POST_TEST_TRAFFIC_SHIFT"]} for hook in (SLOW_HOOK, QUICK_HOOK)]))
        # promoted by a web analysis against a real local endpoint: the analysis panels have data
        self.cluster.apply({"apiVersion": GV, "kind": "EcsAnalysisTemplate",
                            "metadata": {"name": "smoke", "namespace": NAMESPACE},
                            "spec": {"metrics": [{"name": "health", "interval": "500ms", "count": 4,
                                                  "successCondition": "result.status == 200",
                                                  "provider": {"web": {"url": self.probe_url}}}]}})
        self.cluster.apply(release_manifest("analysed", NAMESPACE, service="auto", hooks=[
            {**PAUSE[0], "analysis": {"templateName": "smoke"}}]))
        # a release wave of one target: the wave panels have data
        self.cluster.apply(one_target_wave("wave", NAMESPACE, service="wv", bake_minutes=10))
        missing = release_manifest("failed", NAMESPACE, service="web")  # left failed: no such service
        missing["spec"]["target"]["service"] = "gone"
        self.cluster.apply(missing)
        self.wait("approved", "AwaitingApproval")
        self.wait("rejected", "AwaitingApproval")
        between()  # a person must act: the awaiting-approval panels and alert have data
        self.request("approved", "approve", 1)
        self.request("rejected", "reject", 1)
        self.request("approved", "retry", 7)  # stale: names an attempt that never existed
        for name, phase in (("approved", "Succeeded"), ("rejected", "RolledBack"), ("linear", "Succeeded"),
                            ("waiting", "AwaitingApproval"), ("deploying", "Deploying"), ("failed", "Failed"),
                            ("analysed", "Succeeded")):
            assert self.wait(name, phase, "Failed", "RolledBack", "Succeeded")["phase"] == phase, self.status(name)
        deadline = time.monotonic() + 30
        while (self.cluster.get(GV, "ecsreleasewaves", NAMESPACE, "wave") or {}).get("status", {}).get(
                "phase") != "Succeeded" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (self.cluster.get(GV, "ecsreleasewaves", NAMESPACE, "wave") or {}).get("status", {}).get(
            "phase") == "Succeeded", self.cluster.get(GV, "ecsreleasewaves", NAMESPACE, "wave")
        # someone runs `aws ecs update-service` on the approved release's service: drift
        make_client(self.ecs.url).update_service(cluster="demo", service="web", taskDefinition="web:1")
        deadline = time.monotonic() + 30
        while not self.status("approved").get("drift") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.status("approved").get("drift"), self.status("approved")
        between()  # hook outcomes, requests, finished and drifted releases exist from here on
        # a bad minute at AWS: 30 % of DescribeServices calls fail (one attempt per call in this operator),
        # scraped several times so rate() and increase() have two samples of every new series
        # On a loaded machine few calls fit in a second: the faults stay on until the failed share of all
        # DescribeServices calls so far is twice what EcsbgAwsApiErrorsRising fires on (0.05).
        self.ecs.control.set_faults("error:0.3@DescribeServices")
        deadline = time.monotonic() + 60
        for scrapes in range(1000):
            time.sleep(0.3)
            between()
            if scrapes >= 2 and (self._describe_errors_share() > 0.1 or time.monotonic() > deadline):
                break
        self.ecs.control.set_faults(None)
        errors = [line for line in generate_latest(self.recorder.registry).decode().splitlines()
                  if line.startswith("ecsbg_aws_api_errors_total{")]
        assert errors, "no AWS call failed for good"


def _total(recorder: PrometheusRecorder, name: str) -> float:
    return sum(sample.value for family in recorder.registry.collect() for sample in family.samples
               if sample.name == name and sample.labels.get("operation") == "DescribeServices")


@pytest.fixture(scope="module")
def metrics_source(dev_cluster) -> Iterator[OperatorMetricsSource]:
    if dev_cluster is None:
        pytest.skip("needs the dev cluster's in-process client")
    with pytest.MonkeyPatch.context() as env:  # the emulator takes any credentials; never real ones
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.setenv(key, "testing")
        yield from _operator_source(dev_cluster)


def _operator_source(dev_cluster: Any) -> Iterator[OperatorMetricsSource]:
    dev_cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    with EmulatorServer(host="127.0.0.1", port=0, speed=2000.0) as ecs:
        client = make_client(ecs.url)
        for service in ("web", "api", "lin", "hold", "slow", "auto", "wv"):
            seed_service(client, service=service)
        recorder = PrometheusRecorder()
        server = start_metrics_server(0, recorder, addr="127.0.0.1")
        deps = make_deps(ecs.url, metrics=recorder, max_attempts=1)  # an injected error is an error at once
        deps.analysis = build_analysis(SystemClock(), recorder)
        probe = Probe()
        registry = build_registry(deps.settings)
        handle = OperatorThread(registry, (NAMESPACE,), kopf.Memo(deps=deps), fast_settings()).start()
        try:
            yield OperatorMetricsSource(ecs, dev_cluster, recorder, f"127.0.0.1:{server.port}", probe.url)
        finally:
            handle.stop()
            server.stop()
            probe.stop()
