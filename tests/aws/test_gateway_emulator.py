"""The AWS layer with real boto3 against the ECS emulator: what UpdateService sends, task definition reuse,
batched reads counted from the emulator's request record, error classification, hooks and stop."""

from __future__ import annotations

import asyncio

from ecsbg.domain.actions import ContinueHooks, StartDeployment, StopDeployment
from ecsbg.domain.model import (
    ContainerOverride,
    DeploymentRecord,
    HookSpec,
    LoadBalancerSpec,
    ReleaseSpec,
    ReleaseStatus,
    RequestKind,
    Strategy,
    StrategySpec,
    Target,
    TaskDefinitionSource,
)
from ecsbg.domain.model import TestTrafficRule as TrafficRule
from ecsbg.domain.taskdefs import content_hash, render
from tests.aws.conftest import count, observe_until, requests_of
from tests.plugins.ecs import IMAGE, REGION, elb_arns, seed_service

NEVER_SENT = ("capacityProviderStrategy", "networkConfiguration", "desiredCount", "placementStrategy",
              "placementConstraints", "platformVersion", "serviceRegistries", "healthCheckGracePeriodSeconds")


def release(service: str = "web", *, task_definition: TaskDefinitionSource, **changes) -> ReleaseSpec:
    arns = elb_arns(service)
    lb = LoadBalancerSpec(target_group_arn=arns["blue"], alternate_target_group_arn=arns["green"],
                          production_listener_rule=arns["prod_rule"], role_arn=arns["role"],
                          test_listener_rule=arns["test_rule"])
    fields = {"load_balancers": (lb,), "spec_hash": "0123456789abcdef",
              "strategy": StrategySpec(type=Strategy.BLUE_GREEN, bake_time_minutes=1), **changes}
    return ReleaseSpec(target=Target(region=REGION, cluster="demo", service=service),
                       task_definition=task_definition, **fields)


def register_v2(ecs_client) -> str:
    return ecs_client.register_task_definition(
        family="web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "app", "image": "public.ecr.aws/nginx/nginx:1.28", "essential": True,
                               "portMappings": [{"containerPort": 80, "protocol": "tcp"}]}],
    )["taskDefinition"]["taskDefinitionArn"]


def finished(observed) -> bool:
    return observed.current is not None and observed.current.status in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL")


async def test_update_service_keeps_every_setting_the_release_does_not_own(ecs_emulator, ecs_client, make_gateway):
    before = seed_service(ecs_client)
    v2 = register_v2(ecs_client)
    gateway = make_gateway()
    spec = release(task_definition=TaskDefinitionSource(arn=v2))
    observed = await gateway.observe(spec, None)
    result = await gateway.apply(StartDeployment(1, spec, before["taskDefinition"], None), observed)
    assert result.problem is None and result.task_definition_arn == v2

    after = ecs_client.describe_services(cluster="demo", services=["web"])["services"][0]
    assert after["currentServiceDeployment"] == result.deployment_arn != before["currentServiceDeployment"]
    assert after["taskDefinition"] == v2
    for owned_elsewhere in ("capacityProviderStrategy", "networkConfiguration", "desiredCount", "loadBalancers"):
        assert after[owned_elsewhere] == before[owned_elsewhere], owned_elsewhere
    (update,) = requests_of(ecs_emulator, "UpdateService")
    assert not set(NEVER_SENT) & set(update)
    assert update["loadBalancers"] == before["loadBalancers"]
    config = after["deploymentConfiguration"]
    assert (config["strategy"], config["bakeTimeInMinutes"]) == ("BLUE_GREEN", 1)

    done = await observe_until(gateway, spec, None, finished)
    assert done.current.status == "SUCCESSFUL"
    assert done.current.target_revision.task_definition_arn == v2
    assert done.current.source_revisions[0].task_definition_arn == before["taskDefinition"]


async def test_task_definition_is_registered_once_and_reused_after_a_restart(ecs_emulator, ecs_client, make_gateway):
    before = seed_service(ecs_client)
    override = ContainerOverride(name="app", image="public.ecr.aws/nginx/nginx:1.28",
                                 environment=(("LOG_LEVEL", "info"),))
    spec = release(task_definition=TaskDefinitionSource(containers=(override,)))
    base = ecs_client.describe_task_definition(taskDefinition=before["taskDefinition"])["taskDefinition"]
    wanted = content_hash(render(base, [override]))  # what the planner computes from the base it is handed
    action = StartDeployment(1, spec, before["taskDefinition"], wanted)
    first = await make_gateway().apply(action, await make_gateway().observe(spec, None))
    await observe_until(make_gateway(), spec, None, finished)
    # a restarted operator (fresh gateway, empty caches) applying the same start again
    restarted = make_gateway()
    second = await restarted.apply(action, await restarted.observe(spec, None))
    assert first.problem is None and second.problem is None
    assert second.task_definition_arn == first.task_definition_arn
    assert count(ecs_emulator, "RegisterTaskDefinition") == 2  # seed_service's base + ours, no duplicate
    described = ecs_client.describe_task_definition(taskDefinition=first.task_definition_arn, include=["TAGS"])
    assert {"key": "ecsbg.dev/taskdef-hash", "value": wanted} in described["tags"]
    assert content_hash(described["taskDefinition"]) == wanted, "ECS describes what was rendered: same content hash"
    app = described["taskDefinition"]["containerDefinitions"][0]
    assert app["image"].endswith("nginx:1.28") and {"name": "LOG_LEVEL", "value": "info"} in app["environment"]
    assert described["taskDefinition"]["cpu"] == "256"  # copied from the base
    (update_same,) = requests_of(ecs_emulator, "UpdateService")[1:]
    assert update_same.get("forceNewDeployment") is True  # the service already runs that task definition
    # an attempt about to start (the hash's only reader) sees that ECS's deployment targets what it wants
    observed = await observe_until(restarted, spec, ReleaseStatus(attempt=2), finished)
    assert observed.current_target_taskdef_hash == wanted
    assert IMAGE not in app["image"]


async def test_25_releases_share_batched_reads(ecs_emulator, ecs_client, make_gateway):
    for i in range(25):
        seed_service(ecs_client, service=f"web-{i}", wait=False)
    gateway = make_gateway()
    specs = [release(f"web-{i}", task_definition=TaskDefinitionSource(arn="web:1")) for i in range(25)]
    mark = len(ecs_emulator.requests)
    observations = await asyncio.gather(*(gateway.observe(s, None) for s in specs))
    assert all(o.problem is None and o.current is not None for o in observations)
    assert count(ecs_emulator, "DescribeServices", mark) == 3
    assert count(ecs_emulator, "DescribeServiceDeployments", mark) == 2
    revisions = {r.arn for o in observations for r in (o.current.target_revision, *o.current.source_revisions) if r}
    assert count(ecs_emulator, "DescribeServiceRevisions", mark) == -(-len(revisions) // 20)
    mark = len(ecs_emulator.requests)
    await asyncio.gather(*(gateway.observe(s, None) for s in specs))
    assert count(ecs_emulator, "DescribeServiceRevisions", mark) == 0  # immutable: cached


async def test_access_denied_is_terminal_and_throttling_retryable(ecs_emulator, ecs_client, make_gateway,
                                                                 aws_metrics):
    before = seed_service(ecs_client)
    gateway = make_gateway()
    spec = release(task_definition=TaskDefinitionSource(arn=register_v2(ecs_client)))
    observed = await gateway.observe(spec, None)
    ecs_emulator.control.set_faults("deny@UpdateService")
    result = await gateway.apply(StartDeployment(1, spec, before["taskDefinition"], None), observed)
    assert result.problem.code == "AccessDeniedException" and result.problem.terminal
    ecs_emulator.control.set_faults("throttle@DescribeServices")
    throttled = await gateway.observe(spec, None)
    assert throttled.problem.code == "ThrottlingException" and not throttled.problem.terminal
    assert aws_metrics.of("aws_call", operation="UpdateService", error_code="AccessDeniedException")
    assert aws_metrics.of("aws_call", operation="DescribeServices", error_code="ThrottlingException")
    ecs_emulator.control.set_faults(None)
    missing = await gateway.observe(release("nope", task_definition=TaskDefinitionSource(arn="web:1")), None)
    assert missing.service is None and missing.problem.code == "ServiceNotFoundException"


async def test_pause_hook_approved_then_a_stop_rolls_back(ecs_emulator, ecs_client, make_gateway):
    before = seed_service(ecs_client)
    gateway = make_gateway()
    target = Target(region=REGION, cluster="demo", service="web")
    pause = HookSpec(type="Pause", stages=("POST_TEST_TRAFFIC_SHIFT",), timeout_minutes=60,
                     timeout_action="Rollback")
    # a long bake (10 h = 18 s at the fixture's speed) so the stop lands in BAKE_TIME
    spec = release(task_definition=TaskDefinitionSource(arn=register_v2(ecs_client)), hooks=(pause,),
                   strategy=StrategySpec(type=Strategy.BLUE_GREEN, bake_time_minutes=600))
    started = await gateway.apply(StartDeployment(1, spec, before["taskDefinition"], None),
                                  await gateway.observe(spec, None))
    prior = ReleaseStatus(attempt=1, deployment=DeploymentRecord(attempt=1, arn=started.deployment_arn,
                                                                 status="PENDING"))

    def awaiting(o):
        return o.tracked is not None and any(h.status == "AWAITING_ACTION" for h in o.tracked.hooks)

    paused = await observe_until(gateway, spec, prior, awaiting)
    hook = next(h for h in paused.tracked.hooks if h.status == "AWAITING_ACTION")
    assert hook.stage == "POST_TEST_TRAFFIC_SHIFT" and hook.target_type == "PAUSE"
    assert paused.tracked.target_revision.test_weight == 100.0
    approve = ContinueHooks(started.deployment_arn, (hook.hook_id,), "CONTINUE", RequestKind.APPROVE)
    assert (await gateway.apply(approve, paused)).problem is None  # target learned from the observation
    baking = await observe_until(gateway, spec, prior, lambda o: o.tracked.lifecycle_stage == "BAKE_TIME"
                                 or o.tracked.status != "IN_PROGRESS")
    assert baking.tracked.status == "IN_PROGRESS", baking.tracked
    assert (await gateway.apply(StopDeployment(started.deployment_arn), baking, target)).problem is None
    rolled = await observe_until(gateway, spec, prior, lambda o: o.tracked.status in ("ROLLBACK_SUCCESSFUL",
                                                                                        "ROLLBACK_FAILED"))
    assert rolled.tracked.status == "ROLLBACK_SUCCESSFUL"
    assert requests_of(ecs_emulator, "StopServiceDeployment") == [
        {"serviceDeploymentArn": started.deployment_arn, "stopType": "ROLLBACK"}]


async def test_service_connect_test_traffic_rules_on_the_current_configuration(ecs_emulator, ecs_client,
                                                                               make_gateway):
    before = seed_service(ecs_client)
    connect = {"enabled": True, "namespace": "demo.local",
               "services": [{"portName": "http", "discoveryName": "web", "clientAliases": [{"port": 80}]}]}
    ecs_client.update_service(cluster="demo", service="web", serviceConnectConfiguration=connect)
    gateway = make_gateway()
    spec = release(task_definition=TaskDefinitionSource(arn=register_v2(ecs_client)), load_balancers=(),
                   test_traffic_rules=(TrafficRule(port_name="http", header_name="x-canary", header_exact="1"),))
    await observe_until(gateway, spec, None, finished)  # the Service Connect deployment is done
    result = await gateway.apply(StartDeployment(1, spec, before["taskDefinition"], None),
                                 await gateway.observe(spec, None))
    assert result.problem is None
    sent = requests_of(ecs_emulator, "UpdateService")[-1]["serviceConnectConfiguration"]
    assert sent["namespace"] == "demo.local" and sent["services"][0]["discoveryName"] == "web"
    assert sent["services"][0]["clientAliases"] == [
        {"port": 80, "testTrafficRules": {"header": {"name": "x-canary", "value": {"exact": "1"}}}}]
    assert "loadBalancers" not in requests_of(ecs_emulator, "UpdateService")[-1]
