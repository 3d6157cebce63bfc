"""apply: every Action, against the real botocore model via Stubber (requests checked in order)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from botocore.stub import Stubber

from ecsbg.aws import translate
from ecsbg.aws.apply import Applier
from ecsbg.aws.calls import AwsCalls
from ecsbg.aws.taskdefs import TaskDefinitionTags
from ecsbg.domain.actions import (
    AdoptDeployment,
    ApplyResult,
    ContinueHooks,
    RecordIntent,
    StartDeployment,
    StopDeployment,
    Wait,
)
from ecsbg.domain.model import ContainerOverride, RequestKind, Target, TaskDefinitionSource
from ecsbg.domain.model import TestTrafficRule as TrafficRule
from ecsbg.domain.observation import Observation
from tests.unit.aws import samples
from tests.unit.aws.samples import (
    BASE_TASK_DEFINITION,
    DEPLOYMENT_ARN,
    TD_41,
    TD_42,
    containers_spec,
    service,
    spec,
)

NEW_DEPLOYMENT = "arn:aws:ecs:eu-west-1:111122223333:service-deployment/prod/web/new"
TD = "arn:aws:ecs:eu-west-1:111122223333:task-definition/"
OBSERVED = Observation(service=translate.observed_service(service()))
OVERRIDE = ContainerOverride(name="app", image="111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2")


@pytest.fixture
def ecs(metrics):
    client = samples.stubbable()
    with Stubber(client) as stub:
        calls = AwsCalls(client, metrics)
        yield Applier(lambda key: calls), stub
        stub.assert_no_pending_responses()


def expect_describe_service(stub, svc=None):
    stub.add_response("describe_services", {"services": [svc or service()], "failures": []},
                      {"cluster": "prod", "services": ["web"], "include": ["TAGS"]})


def expect_describe_td(stub, arn=TD_42, tags=()):
    stub.add_response("describe_task_definition", {"taskDefinition": {"taskDefinitionArn": arn, "family": "web"},
                                                   "tags": list(tags)}, {"taskDefinition": arn, "include": ["TAGS"]})


def expect_update(stub, release, task_definition, force_new, deployment_arn=NEW_DEPLOYMENT):
    params = translate.update_service_request(release, service(), task_definition, force_new)
    stub.add_response("update_service", {"service": service(taskDefinition=task_definition,
                                                            currentServiceDeployment=deployment_arn)}, params)


def tagged(arn, value, family="web"):
    tags = [{"key": "ecsbg.dev/taskdef-hash", "value": value}] if value else []
    return {"taskDefinition": {"taskDefinitionArn": arn, "family": family}, "tags": tags}


async def test_start_with_an_arn_updates_the_service(ecs, metrics):
    applier, stub = ecs
    release = spec()
    expect_describe_service(stub)
    expect_describe_td(stub, TD_42)
    expect_update(stub, release, TD_42, force_new=False)
    result = await applier.apply(StartDeployment(1, release, TD_41, None), OBSERVED)
    assert (result.deployment_arn, result.task_definition_arn, result.problem) == (NEW_DEPLOYMENT, TD_42, None)
    assert metrics.calls == [("ecs", "DescribeServices", None), ("ecs", "DescribeTaskDefinition", None),
                             ("ecs", "UpdateService", None)]


async def test_same_task_definition_forces_a_new_deployment(ecs):
    applier, stub = ecs
    release = spec(task_definition=TaskDefinitionSource(arn=TD_41))
    expect_describe_service(stub)
    expect_describe_td(stub, TD_41)
    expect_update(stub, release, TD_41, force_new=True)
    result = await applier.apply(StartDeployment(2, release, TD_41, None), OBSERVED)
    assert result.deployment_arn == NEW_DEPLOYMENT


async def test_containers_form_reuses_a_tagged_revision_of_the_exact_family(ecs, metrics):
    applier, stub = ecs
    release = containers_spec(OVERRIDE)
    expect_describe_service(stub)
    stub.add_response("list_task_definitions",
                      {"taskDefinitionArns": [f"{TD}web-worker:9", f"{TD}web:43", f"{TD}web:42"]},
                      {"familyPrefix": "web", "sort": "DESC", "maxResults": 100})
    stub.add_response("describe_task_definition", tagged(f"{TD}web:43", "other"),
                      {"taskDefinition": f"{TD}web:43", "include": ["TAGS"]})
    stub.add_response("describe_task_definition", tagged(f"{TD}web:42", "h1"),
                      {"taskDefinition": f"{TD}web:42", "include": ["TAGS"]})
    expect_update(stub, release, f"{TD}web:42", force_new=False)
    result = await applier.apply(StartDeployment(1, release, TD_41, "h1"), OBSERVED)
    assert result.task_definition_arn == f"{TD}web:42" and result.problem is None
    assert metrics.operations("RegisterTaskDefinition") == 0


async def test_containers_form_registers_once_then_reuses(ecs, metrics):
    applier, stub = ecs
    release = containers_spec(OVERRIDE)
    action = StartDeployment(1, release, TD_41, "h2")
    expect_describe_service(stub)
    stub.add_response("list_task_definitions", {"taskDefinitionArns": [TD_41]},
                      {"familyPrefix": "web", "sort": "DESC", "maxResults": 100})
    stub.add_response("describe_task_definition", BASE_TASK_DEFINITION,
                      {"taskDefinition": TD_41, "include": ["TAGS"]})
    registered = f"{TD}web:42"
    stub.add_response("register_task_definition", tagged(registered, "h2"),
                      translate.register_task_definition_request(BASE_TASK_DEFINITION, [OVERRIDE], "h2"))
    expect_update(stub, release, registered, force_new=False)
    first = await applier.apply(action, OBSERVED)
    assert first.task_definition_arn == registered
    # a restart between RegisterTaskDefinition and the record of the deployment: apply runs again
    expect_describe_service(stub)
    stub.add_response("list_task_definitions", {"taskDefinitionArns": [registered, TD_41]},
                      {"familyPrefix": "web", "sort": "DESC", "maxResults": 100})
    expect_update(stub, release, registered, force_new=False)
    second = await applier.apply(action, OBSERVED)
    assert second.task_definition_arn == registered
    assert metrics.operations("RegisterTaskDefinition") == 1
    assert metrics.operations("DescribeTaskDefinition") == 1  # the base; tags of ours are remembered


async def test_unknown_container_is_terminal_and_registers_nothing(ecs, metrics):
    applier, stub = ecs
    expect_describe_service(stub)
    stub.add_response("list_task_definitions", {"taskDefinitionArns": []},
                      {"familyPrefix": "web", "sort": "DESC", "maxResults": 100})
    stub.add_response("describe_task_definition", BASE_TASK_DEFINITION,
                      {"taskDefinition": TD_41, "include": ["TAGS"]})
    action = StartDeployment(1, containers_spec(ContainerOverride(name="worker", image="x:1")), TD_41, "h")
    result = await applier.apply(action, OBSERVED)
    assert result.problem.code == "InvalidTaskDefinitionOverride" and result.problem.terminal
    assert "worker" in result.problem.message
    assert metrics.operations("RegisterTaskDefinition") == 0 and metrics.operations("UpdateService") == 0


async def test_update_response_without_the_new_deployment_reads_the_service_again(ecs):
    applier, stub = ecs
    release = spec()
    expect_describe_service(stub)
    expect_describe_td(stub, TD_42)
    expect_update(stub, release, TD_42, force_new=False, deployment_arn=DEPLOYMENT_ARN)  # still the old one
    expect_describe_service(stub, service(currentServiceDeployment=NEW_DEPLOYMENT))
    result = await applier.apply(StartDeployment(1, release, TD_41, None), OBSERVED)
    assert result.deployment_arn == NEW_DEPLOYMENT


async def test_update_errors_come_back_classified(ecs):
    applier, stub = ecs
    expect_describe_service(stub)
    expect_describe_td(stub, TD_42)
    stub.add_client_error("update_service", "AccessDeniedException", "not authorized: ecs:UpdateService")
    result = await applier.apply(StartDeployment(1, spec(), TD_41, None), OBSERVED)
    assert result.problem.code == "AccessDeniedException" and result.problem.terminal
    assert result.problem.operation == "UpdateService" and result.deployment_arn is None


async def test_missing_service_at_start_is_terminal(ecs, metrics):
    applier, stub = ecs
    stub.add_response("describe_services", {"services": [], "failures": [{"arn": "x", "reason": "MISSING"}]},
                      {"cluster": "prod", "services": ["web"], "include": ["TAGS"]})
    result = await applier.apply(StartDeployment(1, spec(), TD_41, None), OBSERVED)
    assert result.problem.code == "ServiceNotFoundException" and metrics.operations("UpdateService") == 0


async def test_continue_hooks_calls_once_per_hook(ecs):
    applier, stub = ecs
    for hook in ("ecs-pause-1", "ecs-pause-2"):
        stub.add_response("continue_service_deployment", {"serviceDeploymentArn": DEPLOYMENT_ARN},
                          {"serviceDeploymentArn": DEPLOYMENT_ARN, "hookId": hook, "action": "ROLLBACK"})
    action = ContinueHooks(DEPLOYMENT_ARN, ("ecs-pause-1", "ecs-pause-2"), "ROLLBACK", RequestKind.REJECT)
    result = await applier.apply(action, OBSERVED, Target(region="eu-west-1", cluster="prod", service="web"))
    assert result.deployment_arn == DEPLOYMENT_ARN and result.problem is None


async def test_stop_rolls_back(ecs):
    applier, stub = ecs
    stub.add_response("stop_service_deployment", {"serviceDeploymentArn": DEPLOYMENT_ARN},
                      {"serviceDeploymentArn": DEPLOYMENT_ARN, "stopType": "ROLLBACK"})
    result = await applier.apply(StopDeployment(DEPLOYMENT_ARN), OBSERVED)
    assert result.deployment_arn == DEPLOYMENT_ARN


async def test_stop_race_is_retryable(ecs):
    applier, stub = ecs
    stub.add_client_error("stop_service_deployment", "ConflictException", "deployment is already stopping")
    result = await applier.apply(StopDeployment(DEPLOYMENT_ARN), OBSERVED)
    assert result.problem.code == "ConflictException" and not result.problem.terminal


async def test_actions_without_aws_writes_make_no_call(ecs, metrics):
    applier, _ = ecs
    assert await applier.apply(Wait("nothing"), OBSERVED) == ApplyResult()
    assert await applier.apply(RecordIntent(1, "h", TD_41), OBSERVED) == ApplyResult()
    adopted = await applier.apply(AdoptDeployment(1, NEW_DEPLOYMENT), OBSERVED)
    assert adopted.deployment_arn == NEW_DEPLOYMENT
    assert metrics.calls == []


def test_target_or_arn_region_selects_the_client():
    keys = []
    applier = Applier(lambda key: keys.append(key))
    applier._calls_for(NEW_DEPLOYMENT, None)
    applier._calls_for(NEW_DEPLOYMENT, Target(region="us-east-1", cluster="c", service="s", role_arn="r"))
    assert [(k.region, k.role_arn) for k in keys] == [("eu-west-1", None), ("us-east-1", "r")]


async def test_service_connect_rules_read_the_current_revision_when_describe_services_lacks_it(ecs):
    applier, stub = ecs
    rules = (TrafficRule(port_name="http", header_name="x-canary"),)
    release = spec(test_traffic_rules=rules)
    bare = service(deployments=[], currentServiceRevisions=[{"arn": samples.REV_BLUE}])
    current = {**samples.revision(samples.REV_BLUE, TD_41),
               "serviceConnectConfiguration": samples.SERVICE["deployments"][0]["serviceConnectConfiguration"]}
    expect_describe_service(stub, bare)
    stub.add_response("describe_service_revisions", {"serviceRevisions": [current], "failures": []},
                      {"serviceRevisionArns": [samples.REV_BLUE]})
    expect_describe_td(stub, TD_42)
    params = translate.update_service_request(release, bare, TD_42, False, [current])
    assert params["serviceConnectConfiguration"]["services"][0]["clientAliases"][0]["testTrafficRules"]
    stub.add_response("update_service", {"service": service(currentServiceDeployment=NEW_DEPLOYMENT)}, params)
    result = await applier.apply(StartDeployment(1, release, TD_41, None), OBSERVED)
    assert result.problem is None and result.deployment_arn == NEW_DEPLOYMENT


async def test_a_target_group_the_service_does_not_use_registers_nothing(ecs, metrics):
    from ecsbg.domain.model import LoadBalancerSpec

    applier, stub = ecs
    expect_describe_service(stub)
    foreign = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/other/0123456789abcdef"
    lb = LoadBalancerSpec(target_group_arn=foreign, alternate_target_group_arn=foreign,
                          production_listener_rule="arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/x",
                          role_arn="arn:aws:iam::111122223333:role/r")
    release = replace(containers_spec(OVERRIDE), load_balancers=(lb,))
    result = await applier.apply(StartDeployment(1, release, TD_41, "h"), OBSERVED)
    assert result.problem.code == "InvalidServiceConfiguration" and result.problem.terminal
    assert foreign in result.problem.message
    assert [c[1] for c in metrics.calls] == ["DescribeServices"], "checked before any task definition work"


async def test_an_unknown_task_definition_arn_is_refused_before_update_service(ecs, metrics):
    applier, stub = ecs
    expect_describe_service(stub)
    stub.add_client_error("describe_task_definition", "ClientException", "Unable to describe task definition.")
    result = await applier.apply(StartDeployment(1, spec(), TD_41, None), OBSERVED)
    assert result.problem.code == "TaskDefinitionNotFound" and result.problem.terminal
    assert TD_42 in result.problem.message
    assert metrics.operations("UpdateService") == 0


async def test_a_task_definition_over_the_size_quota_is_not_registered(ecs, metrics):
    applier, stub = ecs
    expect_describe_service(stub)
    stub.add_response("list_task_definitions", {"taskDefinitionArns": []},
                      {"familyPrefix": "web", "sort": "DESC", "maxResults": 100})
    stub.add_response("describe_task_definition", BASE_TASK_DEFINITION,
                      {"taskDefinition": TD_41, "include": ["TAGS"]})
    big = ContainerOverride(name="app", environment=tuple((f"V{i}", "x" * 1000) for i in range(70)))
    result = await applier.apply(StartDeployment(1, containers_spec(big), TD_41, "h"), OBSERVED)
    assert result.problem.code == "TaskDefinitionTooLarge" and result.problem.terminal
    assert "65536" in result.problem.message
    assert metrics.operations("RegisterTaskDefinition") == 0 and metrics.operations("UpdateService") == 0


async def test_a_start_renders_from_the_base_the_observer_already_described(metrics):
    """The observer describes the base of an attempt about to start (its content hash); the start a moment later
    renders the new revision from that same response: one DescribeTaskDefinition per start, not two."""
    client = samples.stubbable()
    tags = TaskDefinitionTags()
    with Stubber(client) as stub:
        calls = AwsCalls(client, metrics)
        applier = Applier(lambda key: calls, tags=tags)
        stub.add_response("describe_task_definition", BASE_TASK_DEFINITION,
                          {"taskDefinition": TD_41, "include": ["TAGS"]})
        tags.content(calls, TD_41)  # what the observer's pass did
        expect_describe_service(stub)
        stub.add_response("list_task_definitions", {"taskDefinitionArns": [TD_41]},
                          {"familyPrefix": "web", "sort": "DESC", "maxResults": 100})
        registered = f"{TD}web:42"
        stub.add_response("register_task_definition", tagged(registered, "h2"),
                          translate.register_task_definition_request(BASE_TASK_DEFINITION, [OVERRIDE], "h2"))
        expect_update(stub, containers_spec(OVERRIDE), registered, force_new=False)
        result = await applier.apply(StartDeployment(1, containers_spec(OVERRIDE), TD_41, "h2"), OBSERVED)
        stub.assert_no_pending_responses()
    assert result.task_definition_arn == registered and result.problem is None
    assert metrics.operations("DescribeTaskDefinition") == 1
