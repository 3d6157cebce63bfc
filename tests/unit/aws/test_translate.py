"""translate: ECS dicts -> domain, and request builders validated against the real botocore model."""

from __future__ import annotations

import copy

import botocore.session
import pytest
from botocore.stub import Stubber

from ecsbg.aws import translate
from ecsbg.aws.translate import RequestBuildError
from ecsbg.domain.model import (
    AlarmSpec,
    CircuitBreakerSpec,
    ContainerOverride,
    HookSpec,
    LoadBalancerSpec,
    Strategy,
    StrategySpec,
)
from ecsbg.domain.model import (
    TestTrafficRule as TrafficRule,
)
from tests.unit.aws import samples
from tests.unit.aws.samples import (
    BASE_TASK_DEFINITION,
    BLUE_TG,
    GREEN_TG,
    LB_ROLE,
    OTHER_TG,
    PROD_RULE,
    REV_BLUE,
    REV_GREEN,
    TD_41,
    TD_42,
    TEST_RULE,
    containers_spec,
    deployment,
    revision,
    service,
    spec,
)

NEVER_SENT = {"capacityProviderStrategy", "networkConfiguration", "desiredCount", "placementStrategy",
              "placementConstraints", "platformVersion", "serviceRegistries", "propagateTags",
              "enableExecuteCommand", "healthCheckGracePeriodSeconds", "deploymentController"}
LB = LoadBalancerSpec(target_group_arn=BLUE_TG, alternate_target_group_arn=GREEN_TG,
                      production_listener_rule=PROD_RULE, role_arn=LB_ROLE, test_listener_rule=TEST_RULE)


def assert_valid(operation: str, params: dict) -> None:
    """Send params through a real client under Stubber: botocore validates names and types against the model."""
    client = samples.stubbable()
    with Stubber(client) as stub:
        stub.add_response(operation, {}, params)
        getattr(client, operation)(**params)


# ------------------------------------------------------------------------------------------------ responses


def test_observed_service():
    observed = translate.observed_service(service())
    assert observed.arn == samples.SERVICE_ARN and observed.task_definition_arn == TD_41
    assert observed.current_deployment_arn == samples.DEPLOYMENT_ARN
    assert (observed.status, observed.desired_count, observed.deployment_controller) == ("ACTIVE", 3, "ECS")


def test_observed_deployment_weights_hooks_and_revisions():
    revisions = {REV_GREEN: revision(REV_GREEN, TD_42), REV_BLUE: revision(REV_BLUE, TD_41)}
    observed = translate.observed_deployment(deployment(), revisions)
    assert observed.status == "IN_PROGRESS" and observed.lifecycle_stage == "POST_TEST_TRAFFIC_SHIFT"
    assert observed.target_revision.task_definition_arn == TD_42
    assert (observed.target_revision.test_weight, observed.target_revision.production_weight) == (100.0, 0.0)
    assert observed.target_revision.running_task_count == 2
    assert observed.source_revisions[0].task_definition_arn == TD_41
    hook = observed.hooks[0]
    assert (hook.hook_id, hook.status, hook.stage, hook.timeout_action) == (
        "ecs-pause-1", "AWAITING_ACTION", "POST_TEST_TRAFFIC_SHIFT", "ROLLBACK")
    assert observed.rollback_reason is None


def test_observed_deployment_rollback_and_unknown_revisions():
    rolled = deployment(status="ROLLBACK_SUCCESSFUL", finishedAt=samples.T0, lifecycleHookDetails=[],
                        rollback={"reason": "alarm web-5xx in ALARM", "startedAt": samples.T0,
                                  "serviceRevisionArn": REV_BLUE})
    observed = translate.observed_deployment(rolled, {})
    assert observed.rollback_reason == "alarm web-5xx in ALARM" and observed.finished_at == samples.T0
    assert observed.target_revision.task_definition_arn is None and observed.hooks == ()
    assert translate.revision_arns(rolled) == [REV_BLUE, REV_GREEN]


def test_taskdef_hash_tag():
    assert translate.taskdef_hash_tag([{"key": "team", "value": "x"},
                                       {"key": "ecsbg.dev/taskdef-hash", "value": "abc"}]) == "abc"
    assert translate.taskdef_hash_tag([]) is None


# --------------------------------------------------------------------------------------------- UpdateService


def test_update_service_sends_only_what_the_release_owns():
    request = translate.update_service_request(spec(load_balancers=(LB,)), service(), TD_42, force_new=False)
    assert_valid("update_service", request)
    assert set(request) == {"cluster", "service", "taskDefinition", "deploymentConfiguration", "loadBalancers"}
    assert not NEVER_SENT & set(request)
    assert (request["cluster"], request["service"], request["taskDefinition"]) == (
        samples.CLUSTER_ARN, samples.SERVICE_ARN, TD_42)


def test_deployment_configuration_is_merged_into_the_existing_one():
    config = translate.update_service_request(spec(), service(), TD_42, False)["deploymentConfiguration"]
    assert (config["minimumHealthyPercent"], config["maximumPercent"]) == (100, 200)
    assert (config["strategy"], config["bakeTimeInMinutes"]) == ("BLUE_GREEN", 10)
    assert "linearConfiguration" not in config  # only valid with LINEAR
    assert config["alarms"] == samples.SERVICE["deploymentConfiguration"]["alarms"]  # not in spec: kept
    assert config["deploymentCircuitBreaker"]["enable"] is False
    assert config["lifecycleHooks"] == []


def test_linear_canary_alarms_and_breaker_from_spec():
    linear = StrategySpec(type=Strategy.LINEAR, bake_time_minutes=5, step_percent=25.0, step_bake_time_minutes=2)
    request = translate.update_service_request(
        spec(strategy=linear, alarms=AlarmSpec(names=("web-5xx",), rollback=True, enable=True),
             circuit_breaker=CircuitBreakerSpec(enable=True, rollback=True)),
        service(), TD_42, False)
    assert_valid("update_service", request)
    config = request["deploymentConfiguration"]
    assert config["strategy"] == "LINEAR"
    assert config["linearConfiguration"] == {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}
    assert config["alarms"] == {"alarmNames": ["web-5xx"], "rollback": True, "enable": True}
    breaker = config["deploymentCircuitBreaker"]
    assert (breaker["enable"], breaker["rollback"]) == (True, True)
    assert breaker["thresholdConfiguration"] == {"type": "COUNT", "value": 5}  # kept

    canary = StrategySpec(type=Strategy.CANARY, bake_time_minutes=3, canary_percent=5.0, canary_bake_time_minutes=4)
    config = translate.update_service_request(spec(strategy=canary), service(), TD_42, False)[
        "deploymentConfiguration"]
    assert config["canaryConfiguration"] == {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 4}
    assert "linearConfiguration" not in config


def test_hooks_map_to_ecs_enums():
    hooks = (
        HookSpec(type="Pause", stages=("POST_TEST_TRAFFIC_SHIFT",), timeout_minutes=60, timeout_action="Rollback"),
        HookSpec(type="Lambda", stages=("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"),
                 function_arn="arn:aws:lambda:eu-west-1:111122223333:function:smoke",
                 role_arn="arn:aws:iam::111122223333:role/hook", hook_details={"url": "/health", "n": [1, 2]},
                 timeout_minutes=15, timeout_action="Continue"),
    )
    request = translate.update_service_request(spec(hooks=hooks), service(), TD_42, False)
    assert_valid("update_service", request)
    pause, lam = request["deploymentConfiguration"]["lifecycleHooks"]
    assert pause == {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                     "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"}}
    assert lam["targetType"] == "AWS_LAMBDA" and lam["hookTargetArn"].endswith(":smoke")
    assert lam["hookDetails"] == {"url": "/health", "n": [1, 2]}
    assert lam["timeoutConfiguration"] == {"timeoutInMinutes": 15, "action": "CONTINUE"}


def test_load_balancers_keep_every_entry_and_set_advanced_configuration():
    lbs = translate.update_service_request(spec(load_balancers=(LB,)), service(), TD_42, False)["loadBalancers"]
    assert lbs[0] == {"targetGroupArn": BLUE_TG, "containerName": "app", "containerPort": 8080,
                      "advancedConfiguration": {"alternateTargetGroupArn": GREEN_TG,
                                                "productionListenerRule": PROD_RULE,
                                                "testListenerRule": TEST_RULE, "roleArn": LB_ROLE}}
    assert lbs[1] == {"targetGroupArn": OTHER_TG, "containerName": "admin", "containerPort": 9090}


def test_unknown_target_group_fails_clearly():
    stranger = LoadBalancerSpec(target_group_arn="arn:tg/unknown", alternate_target_group_arn=GREEN_TG,
                                production_listener_rule=PROD_RULE, role_arn=LB_ROLE)
    with pytest.raises(RequestBuildError, match="arn:tg/unknown") as info:
        translate.update_service_request(spec(load_balancers=(stranger,)), service(), TD_42, False)
    assert info.value.code == "InvalidServiceConfiguration"


def test_force_new_deployment_only_when_asked():
    assert translate.update_service_request(spec(), service(), TD_41, True)["forceNewDeployment"] is True
    assert "forceNewDeployment" not in translate.update_service_request(spec(), service(), TD_42, False)


def test_service_connect_test_traffic_rules_on_the_current_configuration():
    rules = (TrafficRule(port_name="http", header_name="x-canary", header_exact="true"),
             TrafficRule(port_name="grpc", header_name="x-test"))
    request = translate.update_service_request(spec(test_traffic_rules=rules), service(), TD_42, False)
    assert_valid("update_service", request)
    config = request["serviceConnectConfiguration"]
    assert config["namespace"] == "prod.local" and config["enabled"] is True
    http, grpc = config["services"]
    assert http["clientAliases"] == [{"port": 80, "dnsName": "web", "testTrafficRules": {
        "header": {"name": "x-canary", "value": {"exact": "true"}}}}]
    assert grpc["clientAliases"][0]["testTrafficRules"] == {"header": {"name": "x-test"}}
    assert "serviceConnectConfiguration" not in translate.update_service_request(spec(), service(), TD_42, False)


def test_service_connect_rules_need_a_known_configuration_and_port():
    rules = (TrafficRule(port_name="http", header_name="x-canary"),)
    with pytest.raises(RequestBuildError, match="no Service Connect"):
        translate.update_service_request(spec(test_traffic_rules=rules), service(deployments=[]), TD_42, False)
    bad = (TrafficRule(port_name="metrics", header_name="x"),)
    with pytest.raises(RequestBuildError, match="metrics"):
        translate.update_service_request(spec(test_traffic_rules=bad), service(), TD_42, False)


# ------------------------------------------------------------------------------------ RegisterTaskDefinition


def test_registrable_fields_match_the_model():
    model = botocore.session.get_session().get_service_model("ecs")
    request_members = set(model.operation_model("RegisterTaskDefinition").input_shape.members) - {"tags"}
    described_members = set(model.shape_for("TaskDefinition").members)
    assert set(translate.REGISTRABLE_FIELDS) == request_members & described_members
    assert request_members <= described_members  # nothing registrable is missing from a description


def test_register_request_copies_the_base_and_applies_overrides():
    override = ContainerOverride(name="app", image="111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:1.4.2",
                                 environment=(("LOG_LEVEL", "info"), ("FEATURE_X", "on")),
                                 command=("./serve", "--port=8080"))
    request = translate.register_task_definition_request(BASE_TASK_DEFINITION, [override], "abc123")
    assert_valid("register_task_definition", request)
    for read_only in ("taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
                      "registeredAt", "registeredBy"):
        assert read_only not in request
    assert (request["family"], request["cpu"], request["networkMode"]) == ("web", "512", "awsvpc")
    assert request["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    app, sidecar = request["containerDefinitions"]
    assert app["image"].endswith("web:1.4.2") and app["command"] == ["./serve", "--port=8080"]
    assert app["environment"] == [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu-west-1"},
                                  {"name": "FEATURE_X", "value": "on"}]
    assert app["portMappings"] == BASE_TASK_DEFINITION["taskDefinition"]["containerDefinitions"][0]["portMappings"]
    assert sidecar == BASE_TASK_DEFINITION["taskDefinition"]["containerDefinitions"][1]
    assert request["tags"] == [{"key": "team", "value": "payments"},
                               {"key": "ecsbg.dev/taskdef-hash", "value": "abc123"}]
    # the base description is not modified
    assert BASE_TASK_DEFINITION["taskDefinition"]["containerDefinitions"][0]["image"].endswith("web:1.4.1")


def test_register_request_replaces_an_inherited_hash_tag():
    described = {**BASE_TASK_DEFINITION, "tags": [{"key": "ecsbg.dev/taskdef-hash", "value": "old"}]}
    request = translate.register_task_definition_request(described, [ContainerOverride(name="app", image="x:1")],
                                                         "new")
    assert request["tags"] == [{"key": "ecsbg.dev/taskdef-hash", "value": "new"}]


def test_register_request_rejects_an_unknown_container():
    with pytest.raises(RequestBuildError, match="'worker'.*app, sidecar") as info:
        translate.register_task_definition_request(BASE_TASK_DEFINITION, [ContainerOverride(name="worker")], "h")
    assert info.value.code == "InvalidTaskDefinitionOverride"


def test_task_definition_family():
    assert translate.task_definition_family(TD_42) == "web"
    assert translate.task_definition_family("web:42") == "web"
    assert translate.task_definition_family("web") == "web"


def test_containers_spec_helper_is_derived():
    assert containers_spec(ContainerOverride(name="app")).task_definition.derived


def test_same_task_definition():
    assert translate.same_task_definition(TD_42, TD_42)
    assert translate.same_task_definition("web:42", TD_42)
    assert not translate.same_task_definition("web:41", TD_42)
    assert not translate.same_task_definition("web", TD_42)  # a bare family: latest ACTIVE, unknown here
    assert not translate.same_task_definition(None, TD_42)


def test_service_connect_falls_back_to_the_revision_running_the_current_task_definition():
    sc = copy.deepcopy(samples.SERVICE["deployments"][0]["serviceConnectConfiguration"])
    old = {**revision(REV_BLUE, "web:40"), "serviceConnectConfiguration": {"enabled": True, "services": []}}
    current = {**revision(REV_GREEN, TD_41), "serviceConnectConfiguration": sc}
    rules = (TrafficRule(port_name="http", header_name="x-canary", header_exact="1"),)
    request = translate.update_service_request(spec(test_traffic_rules=rules), service(deployments=[]), TD_42,
                                               False, [old, current])
    assert_valid("update_service", request)
    alias = request["serviceConnectConfiguration"]["services"][0]["clientAliases"][0]
    assert alias["testTrafficRules"] == {"header": {"name": "x-canary", "value": {"exact": "1"}}}
