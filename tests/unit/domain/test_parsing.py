"""parse_release: valid forms become the model; requests come from spec and annotations."""

from __future__ import annotations

import pytest

from ecsbg.domain.model import ContainerOverride, RequestKind, Strategy
from ecsbg.domain.parsing import InvalidSpec, parse_release
from tests.unit.domain import builders as b


def test_full_spec_maps_every_field():
    release = parse_release(b.body(b.full_spec()))
    assert release.target.region == "us-east-1"
    assert release.target.role_arn.endswith("role/ecsbg-deployer") and release.target.external_id == "ext-123"
    assert release.task_definition.derived
    assert release.task_definition.containers[0] == ContainerOverride(
        name="app", image="repo/web:1.4.2", environment=(("LOG_LEVEL", "info"),), command=("./serve", "--port=8080"))
    assert release.task_definition.containers[1].environment is None
    s = release.strategy
    assert (s.type, s.bake_time_minutes, s.step_percent, s.step_bake_time_minutes) == (Strategy.LINEAR, 15, 12.5, 3)
    [lb] = release.load_balancers
    assert (lb.target_group_arn, lb.alternate_target_group_arn, lb.test_listener_rule) == (b.TG_BLUE, b.TG_GREEN, b.RULE)
    assert [(r.port_name, r.header_name, r.header_exact) for r in release.test_traffic_rules] == [
        ("http", "x-canary", "true"), ("grpc", "x-test", None)]
    lam, pause = release.hooks
    assert (lam.type, lam.function_arn, lam.timeout_minutes, lam.timeout_action) == ("Lambda", b.FUNCTION, 30, "Continue")
    assert lam.stages == ("POST_SCALE_UP", "TEST_TRAFFIC_SHIFT") and lam.hook_details == {"suite": "smoke", "n": [1, 2]}
    assert (pause.type, pause.function_arn, pause.timeout_minutes) == ("Pause", None, None)
    assert release.alarms.names == ("web-5xx", "web-latency")
    assert (release.circuit_breaker.enable, release.circuit_breaker.rollback) == (True, False)
    assert release.requests.approve == frozenset({3}) and release.requests.retry == frozenset({2})
    assert release.requests.reject == frozenset()
    assert len(release.spec_hash) == 16


def test_arn_form():
    release = parse_release(b.body(b.arn_spec()))
    assert release.task_definition.arn == b.TD_ARN and not release.task_definition.derived
    assert release.task_definition.containers == ()


@pytest.mark.parametrize(("strategy", "expected"), [
    ({"type": "BlueGreen"}, (Strategy.BLUE_GREEN, 10, None, None, None, None)),
    ({"type": "Linear"}, (Strategy.LINEAR, 10, 10.0, 6, None, None)),
    ({"type": "Canary", "bakeTimeInMinutes": 0}, (Strategy.CANARY, 0, None, None, 5.0, 10)),
    ({"type": "Canary", "canary": {"canaryPercent": 0.1, "canaryBakeTimeInMinutes": 1440}},
     (Strategy.CANARY, 10, None, None, 0.1, 1440)),
], ids=["bluegreen-defaults", "linear-ecs-defaults", "canary-no-bake", "canary-bounds"])
def test_strategy_defaults(strategy, expected):
    s = parse_release(b.body(b.containers_spec(strategy=strategy))).strategy
    assert (s.type, s.bake_time_minutes, s.step_percent, s.step_bake_time_minutes, s.canary_percent,
            s.canary_bake_time_minutes) == expected


@pytest.mark.parametrize(("spec_requests", "annotations", "expected"), [
    (None, {}, {}),
    ({"approve": 3}, {}, {"approve": {3}}),
    (None, {"ecsbg.dev/approve": "3"}, {"approve": {3}}),
    ({"approve": 2}, {"ecsbg.dev/approve": " 3 "}, {"approve": {2, 3}}),
    ({"reject": None, "abort": 1}, {"ecsbg.dev/retry": "4", "other.io/approve": "x"}, {"abort": {1}, "retry": {4}}),
], ids=["none", "spec-field", "annotation", "both-forms-union", "nulls-and-foreign-annotations"])
def test_requests(spec_requests, annotations, expected):
    spec = b.containers_spec(**({"requests": spec_requests} if spec_requests is not None else {}))
    requests = parse_release(b.body(spec, annotations)).requests
    for kind in RequestKind:
        assert getattr(requests, kind.value) == frozenset(expected.get(kind.value, set())), kind


@pytest.mark.parametrize("value", ["yes", "3.0", "-1", "0", "", "٣"], ids=["word", "float", "negative", "zero",
                                                                            "empty", "non-ascii-digit"])
def test_non_integer_annotation_is_a_request_problem_not_an_invalid_spec(value):
    requests = parse_release(b.body(b.containers_spec(), {"ecsbg.dev/approve": value})).requests
    [problem] = requests.problems
    assert problem.kind is RequestKind.APPROVE and requests.approve == frozenset()
    assert problem.message.startswith("metadata.annotations[ecsbg.dev/approve]: must be the attempt number to approve")
    assert repr(value) in problem.message


@pytest.mark.parametrize(("requests", "kind", "fragment"), [
    ({"approve": "yes"}, RequestKind.APPROVE, "spec.requests.approve: must be an integer, got str 'yes'"),
    ({"retry": 0}, RequestKind.RETRY, "spec.requests.retry: must be between 1 and None, got 0"),
    ("approve", None, "spec.requests: must be an object"),
], ids=["word", "zero", "not-an-object"])
def test_bad_spec_requests_are_request_problems_too(requests, kind, fragment):
    """The CRD refuses these at admission; without admission they are reported like a bad annotation."""
    parsed = parse_release(b.body(b.containers_spec(requests=requests)))
    [problem] = parsed.requests.problems
    assert (problem.kind, problem.message[:len(fragment)]) == (kind, fragment)


def test_a_bad_request_does_not_change_the_spec_hash():
    assert b.release(annotations={"ecsbg.dev/approve": "yes"}).spec_hash == b.release().spec_hash


@pytest.mark.parametrize(("body", "expected"), [
    ({"metadata": {}}, ["spec: is required", "spec.target: is required", "spec.taskDefinition: is required",
                        "spec.strategy: is required"]),
    ({"spec": {"target": {}, "taskDefinition": {"arn": b.TD_ARN}, "strategy": {"type": "BlueGreen"}}},
     ["spec.target.region: is required", "spec.target.cluster: is required", "spec.target.service: is required"]),
    ({"spec": b.containers_spec(target="prod")},
     ["spec.target: must be an object, got str 'prod'"]),
    ({"spec": b.containers_spec(taskDefinition={"containers": [{"name": "app", "image": "a:1"},
                                                               {"name": "app", "image": "b:2"}]})},
     ["spec.taskDefinition.containers: duplicate name 'app'"]),
    ({"spec": b.containers_spec(taskDefinition={"containers": [{"name": "app", "environment": [
        {"name": "N", "value": 3}]}]})},
     ["spec.taskDefinition.containers[0].environment[0].value: is required and must be a string"]),
    ({"spec": b.containers_spec(strategy={"type": "Linear", "bakeTimeInMinutes": "10"})},
     ["spec.strategy.bakeTimeInMinutes: must be an integer, got str '10'"]),
    ({"spec": b.containers_spec(target={"region": "us-east-1", "cluster": "demo", "service": "web",
                                        "externalId": "abc"})},
     ["spec.target.externalId: is only used together with roleArn"]),
    ({"spec": b.containers_spec(lifecycleHooks=[{"type": "Pause", "stages": ["PRE_SCALE_UP", "PRE_SCALE_UP"]}])},
     ["spec.lifecycleHooks[0].stages: duplicate value 'PRE_SCALE_UP'"]),
    ({"spec": b.containers_spec(alarms={"names": []})},
     ["spec.alarms.names: must have at least 1 item(s)"]),
], ids=["no-spec", "empty-target", "target-not-object", "duplicate-container", "env-value-not-string",
        "bake-as-string", "external-id-without-role", "duplicate-stage", "no-alarm-names"])
def test_invalid_messages(body, expected):
    with pytest.raises(InvalidSpec) as caught:
        parse_release(body)
    for line in expected:
        assert any(e.startswith(line) for e in caught.value.errors), (line, caught.value.errors)
    assert len(caught.value.errors) == len(expected), caught.value.errors


def test_every_problem_is_reported_at_once():
    spec = b.containers_spec(strategy={"type": "Canary", "linear": {}},
                             lifecycleHooks=[{"type": "Pause", "stages": ["PRODUCTION_TRAFFIC_SHIFT"]}])
    spec["taskDefinition"]["containers"][0]["image"] = "web"
    with pytest.raises(InvalidSpec) as caught:
        parse_release(b.body(spec))
    paths = [e.split(":")[0] for e in caught.value.errors]
    assert paths == ["spec.taskDefinition.containers[0].image", "spec.strategy.linear", "spec.lifecycleHooks[0].stages"]


@pytest.mark.parametrize(("strategy", "ok"), [
    ({"type": "Linear", "linear": {"stepPercent": 3.05}}, False),
    ({"type": "Linear", "linear": {"stepPercent": 3.3}}, True),  # 3.3 % 0.1 != 0 in binary floating point
    ({"type": "Linear", "linear": {"stepPercent": 33.3}}, True),
    ({"type": "Linear", "linear": {"stepPercent": 12.55}}, False),
    ({"type": "Canary", "canary": {"canaryPercent": 1.1}}, True),
    ({"type": "Canary", "canary": {"canaryPercent": 0.15}}, False),
    ({"type": "Canary", "canary": {"canaryPercent": 99.99}}, False),
], ids=["3.05", "3.3", "33.3", "12.55", "1.1", "0.15", "99.99"])
def test_percentages_are_multiples_of_a_tenth(strategy, ok):
    body = b.body(b.containers_spec(strategy=strategy))
    if ok:
        parse_release(body)
        return
    with pytest.raises(InvalidSpec) as caught:
        parse_release(body)
    [error] = caught.value.errors
    assert "must be a multiple of 0.1" in error and error.startswith("spec.strategy."), error


OTHER = "999999999999"


@pytest.mark.parametrize(("change", "path", "fragment"), [
    (lambda s: s["target"].update(cluster=f"arn:aws:ecs:eu-west-1:{b.ACCOUNT}:cluster/demo"),
     "spec.target.cluster", "in region eu-west-1"),
    (lambda s: s["target"].update(service=f"arn:aws:ecs:us-east-1:{OTHER}:service/demo/web",
                                  roleArn=f"arn:aws:iam::{b.ACCOUNT}:role/ecsbg-deployer"),
     "spec.target.service", f"in account {OTHER}"),
    (lambda s: s.update(taskDefinition={"arn": f"arn:aws:ecs:us-west-2:{b.ACCOUNT}:task-definition/web:3"}),
     "spec.taskDefinition.arn", "in region us-west-2"),
    (lambda s: s["loadBalancers"][0].update(targetGroupArn=b.TG_BLUE.replace(b.ACCOUNT, OTHER)),
     "spec.loadBalancers[0].targetGroupArn", f"in account {OTHER}"),
    (lambda s: s["loadBalancers"][0].update(roleArn=b.LB_ROLE.replace(b.ACCOUNT, OTHER)),
     "spec.loadBalancers[0].roleArn", f"in account {OTHER}"),
], ids=["cluster-region", "service-account-vs-role", "taskdef-region", "target-group-account", "lb-role-account"])
def test_arns_must_be_in_the_release_region_and_account(change, path, fragment):
    spec = b.containers_spec(loadBalancers=[{
        "targetGroupArn": b.TG_BLUE, "alternateTargetGroupArn": b.TG_GREEN, "productionListenerRule": b.RULE,
        "roleArn": b.LB_ROLE}])
    change(spec)
    with pytest.raises(InvalidSpec) as caught:
        parse_release(b.body(spec))
    [error] = caught.value.errors
    assert error.startswith(path) and fragment in error, error
