"""spec.preflight end to end (real kopf, the Kubernetes API, real boto3, the ECS emulator, and moto's server for
ELBv2: the listener rules and target groups the service names are real ELBv2 resources there).

Enforce refuses each listener/target-group fault before any write (0 RegisterTaskDefinition, 0 UpdateService),
with the finding as the Failed phase's reason and a PreflightFailed Event; a healthy load balancer passes and the
release deploys; Warn lets a faulty one deploy with a PreflightWarning Event.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from ecsbg.plugin import cli
from ecsbg_emulators.ecs.elbv2 import Elbv2Sink
from tests.integration.conftest import ReleaseEnv, release_manifest
from tests.plugins.ecs import seed_service
from tests.plugins.moto import elbv2_world, forward, moto_server


@pytest.fixture(scope="module")
def elbv2_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def _world(env: ReleaseEnv, url: str, service: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], Any]:
    arns, elb = elbv2_world(url, service)
    # the emulator rewrites the rules in moto as it shifts traffic, as ECS does (ecsbg_emulators.ecs.elbv2)
    monkeypatch.setattr(env.ecs.backend.world, "elbv2", Elbv2Sink(url))
    seed_service(env.client, service=service, load_balancer=arns)
    env.seeded = len(env.ecs.requests)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", url)
    return arns, elb


def _manifest(env: ReleaseEnv, service: str, arns: dict[str, str], mode: str) -> dict[str, Any]:
    manifest = release_manifest(service, env.namespace, service=service, preflight=mode)
    manifest["spec"]["loadBalancers"] = [{
        "targetGroupArn": arns["blue"], "alternateTargetGroupArn": arns["green"],
        "productionListenerRule": arns["prod_rule"], "testListenerRule": arns["test_rule"], "roleArn": arns["role"]}]
    return manifest


def _weights(elb: Any, rule: str) -> dict[str, int]:
    action = elb.describe_rules(RuleArns=[rule])["Rules"][0]["Actions"][0]
    return {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}


def _writes(env: ReleaseEnv) -> list[str]:
    return [r["operation"] for r in env.ecs.requests[env.seeded:]
            if r["operation"] in ("RegisterTaskDefinition", "UpdateService")]


FAULTS: dict[str, Callable[[dict[str, str], Any], None]] = {
    # infrastructure as code pointed the rule at another target group
    "ProductionRuleNotForwardingToBlue": lambda arns, elb: elb.modify_rule(
        RuleArn=arns["prod_rule"], Actions=[forward(arns["other"], 100, arns["green"], 0)]),
    # someone (or a CDK/Terraform apply) left production half way
    "ProductionWeightsNotSettled": lambda arns, elb: elb.modify_rule(
        RuleArn=arns["prod_rule"], Actions=[forward(arns["blue"], 50, arns["green"], 50)]),
    # the serving target group has nothing healthy behind it
    "NoHealthyTargets": lambda arns, elb: elb.deregister_targets(TargetGroupArn=arns["blue"], Targets=[
        d["Target"] for d in elb.describe_target_health(TargetGroupArn=arns["blue"])["TargetHealthDescriptions"]]),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_enforce_refuses_each_fault_before_any_write(release_env: ReleaseEnv, elbv2_url: str, monkeypatch,
                                                     fault: str, tmp_path) -> None:
    env = release_env
    service = f"pf-{sorted(FAULTS).index(fault)}"
    arns, elb = _world(env, elbv2_url, service, monkeypatch)
    FAULTS[fault](arns, elb)
    env.start_operator()
    env.apply(_manifest(env, service, arns, "Enforce"))
    status = env.wait_phase(service, "Failed", "Succeeded", "RolledBack")
    assert status["phase"] == "Failed", status["message"]
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == fault, status["conditions"]
    assert "retry with ecsbg.dev/retry=1" in status["message"]
    assert _writes(env) == []
    assert any(fault in message for message in env.event_messages(service, "PreflightFailed"))

    # `kubectl ecsrelease plan` says the same before anything is applied (reads only)
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(_manifest(env, service, arns, "Enforce")))
    monkeypatch.setenv("ECSBG_AWS_ENDPOINT_URL", env.ecs.url)
    out = io.StringIO()
    assert cli.main(["plan", "-f", str(tmp_path / "r.yaml"), "--kubeconfig", str(tmp_path / "none")],
                    out=out, err=out) == 0, out.getvalue()
    assert f"pre-flight (Enforce) would refuse the attempt: {fault}" in out.getvalue()


def test_enforce_passes_a_healthy_load_balancer_and_warn_deploys_despite_a_fault(
        release_env: ReleaseEnv, elbv2_url: str, monkeypatch) -> None:
    env = release_env
    arns, elb = _world(env, elbv2_url, "pf-ok", monkeypatch)
    env.start_operator()
    env.apply(_manifest(env, "pf-ok", arns, "Enforce"))
    status = env.wait_phase("pf-ok", "Failed", "Succeeded", "RolledBack")
    assert status["phase"] == "Succeeded", status["message"]
    assert _writes(env) == ["RegisterTaskDefinition", "UpdateService"]
    assert env.event_messages("pf-ok", "PreflightFailed", timeout=0) == []
    # ECS (the emulator) moved production to green and rewrote the rule: the next attempt's pre-flight expects
    # all weight on green, the target group the serving revision now resolves to, and passes
    assert _weights(elb, arns["prod_rule"]) == {arns["blue"]: 0, arns["green"]: 100}
    manifest = _manifest(env, "pf-ok", arns, "Enforce")
    manifest["spec"]["taskDefinition"]["containers"][0]["image"] = "public.ecr.aws/nginx/nginx:1.30"
    env.apply(manifest)
    status = env.wait_status("pf-ok", lambda s: s.get("attempt") == 2 and s.get("phase") in (
        "Succeeded", "Failed", "RolledBack"))
    assert status["phase"] == "Succeeded", status["message"]
    assert _weights(elb, arns["prod_rule"]) == {arns["blue"]: 100, arns["green"]: 0}

    arns, elb = _world(env, elbv2_url, "pf-warn", monkeypatch)
    FAULTS["ProductionWeightsNotSettled"](arns, elb)
    env.apply(_manifest(env, "pf-warn", arns, "Warn"))
    status = env.wait_phase("pf-warn", "Failed", "Succeeded", "RolledBack")
    assert status["phase"] == "Succeeded", status["message"]
    warned = env.event_messages("pf-warn", "PreflightWarning")
    assert len(warned) == 1 and "ProductionWeightsNotSettled" in warned[0] and "pf-warn-blue=50" in warned[0]


def test_an_nlb_production_listener_is_read_from_its_default_actions(elbv2_url: str) -> None:
    """An NLB's productionListenerRule is a listener ARN [doc: Network Load Balancer resources for blue/green]:
    pre-flight reads its default actions (DescribeListeners), and a missing listener is a finding, not a crash."""
    import boto3

    from ecsbg.aws.calls import AwsCalls
    from ecsbg.aws.preflight import read_views
    from ecsbg.domain.preflight import check
    from ecsbg.metrics.recorder import NullRecorder

    kw = {"endpoint_url": elbv2_url, "region_name": "us-east-1", "aws_access_key_id": "moto",
          "aws_secret_access_key": "moto"}
    ec2, client = boto3.client("ec2", **kw), boto3.client("elbv2", **kw)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    nlb = client.create_load_balancer(Name="nlb-web", Subnets=[subnet], Type="network")["LoadBalancers"][0]
    blue, green = (client.create_target_group(Name=f"nlb-{c}", Protocol="TCP", Port=80, VpcId=vpc, TargetType="ip")[
        "TargetGroups"][0]["TargetGroupArn"] for c in ("blue", "green"))
    listener = client.create_listener(LoadBalancerArn=nlb["LoadBalancerArn"], Protocol="TCP", Port=80,
                                      DefaultActions=[forward(blue, 1, green, 0)])["Listeners"][0]["ListenerArn"]
    client.register_targets(TargetGroupArn=blue, Targets=[{"Id": "10.1.1.10", "Port": 80}])
    elb = AwsCalls(client, NullRecorder(), service="elasticloadbalancing")
    entry = {"targetGroupArn": blue, "advancedConfiguration": {"alternateTargetGroupArn": green,
                                                               "productionListenerRule": listener}}
    (found,) = read_views(elb, [entry], [], None)
    assert found.production is not None and dict(found.production.forwards) == {blue: 1, green: 0}
    assert found.healthy_targets == 1 and check((found,), settled=True) == ()
    gone = {**entry, "advancedConfiguration": {**entry["advancedConfiguration"],
                                               "productionListenerRule": listener[:-4] + "0000"}}
    assert [f.code for f in check(read_views(elb, [gone], [], None), settled=True)] == ["ListenerRuleNotFound"]
