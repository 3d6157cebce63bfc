"""moto's server mode on a loopback port: the real local AWS APIs other than ECS (STS, ECR, CloudWatch)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def moto_server() -> Iterator[str]:
    """A ThreadedMotoServer for the duration of the block; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def elbv2_world(url: str, name: str, *, region: str = "us-east-1") -> tuple[dict[str, str], Any]:
    """An ALB made for ECS blue/green in moto: a VPC, two `ip` target groups (blue, green), a listener on 80 whose
    production rule forwards blue=100/green=0 and one on 8080 whose test rule forwards to green
    ([doc: Application Load Balancer resources for blue/green, linear, and canary deployments]), and one healthy
    target in blue. Returns the ARNs under elb_arns' keys (plus `other`: a third target group) and the ELBv2 client."""
    import boto3

    kw = {"endpoint_url": url, "region_name": region, "aws_access_key_id": "moto", "aws_secret_access_key": "moto"}
    ec2, elb = boto3.client("ec2", **kw), boto3.client("elbv2", **kw)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{zone}")[
        "Subnet"]["SubnetId"] for i, zone in ((1, "a"), (2, "b"))]
    lb = elb.create_load_balancer(Name=f"{name}-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    groups = {role: elb.create_target_group(Name=f"{name}-{role}", Protocol="HTTP", Port=80, VpcId=vpc,
                                            TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
              for role in ("blue", "green", "other")}
    not_found = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]
    rules = {}
    for key, port, weights in (("prod_rule", 80, (100, 0)), ("test_rule", 8080, (0, 100))):
        listener = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                                       DefaultActions=not_found)["Listeners"][0]["ListenerArn"]
        rules[key] = elb.create_rule(ListenerArn=listener, Priority=1,
                                     Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
                                     Actions=[forward(groups["blue"], weights[0], groups["green"], weights[1])])[
            "Rules"][0]["RuleArn"]
    elb.register_targets(TargetGroupArn=groups["blue"], Targets=[{"Id": "10.0.1.10", "Port": 80}])
    return {**groups, **rules, "role": "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers"}, elb


def forward(*pairs: object) -> dict[str, object]:
    """A weighted forward action: forward(tg_a, 100, tg_b, 0)."""
    groups = [{"TargetGroupArn": pairs[i], "Weight": pairs[i + 1]} for i in range(0, len(pairs), 2)]
    return {"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}
