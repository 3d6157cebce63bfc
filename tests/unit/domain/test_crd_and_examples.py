"""The CRD is structurally sound, matches docs/design.md's names, and every example validates and parses."""

from __future__ import annotations

import pytest
import yaml

from ecsbg.domain import validation
from ecsbg.domain.parsing import InvalidSpec, parse_release
from tests.unit.domain import builders as b
from tests.unit.domain.crd import EXAMPLES, crd, open_api_schema, schema_errors


def test_names_and_version():
    spec = crd()["spec"]
    assert crd()["metadata"]["name"] == "ecsbluegreenreleases.ecsbg.dev"
    assert spec["group"] == "ecsbg.dev" and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "EcsBlueGreenRelease"
    assert spec["names"]["plural"] == "ecsbluegreenreleases"
    assert spec["names"]["singular"] == "ecsbluegreenrelease"
    assert spec["names"]["shortNames"] == ["ecsrelease", "ecsreleases"]
    assert spec["names"]["categories"] == ["ecsbg"]
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns():
    columns = {c["name"]: c for c in crd()["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert list(columns) == ["Phase", "Stage", "Traffic", "Revision", "Target", "Attempt", "Age"]
    assert columns["Traffic"]["jsonPath"] == ".status.traffic.summary" and columns["Traffic"]["type"] == "string"
    assert columns["Revision"]["jsonPath"] == ".status.revision"
    assert columns["Target"] == {"name": "Target", "type": "string", "jsonPath": ".status.targetRevision",
                                 "priority": 1, "description": columns["Target"]["description"]}
    assert columns["Age"] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    assert columns["Attempt"]["priority"] == 1


def test_status_defaults_to_observed_generation_minus_one():
    assert open_api_schema()["properties"]["status"]["default"] == {"observedGeneration": -1}


def _walk(node, path="$"):
    yield path, node
    for key, sub in (node.get("properties") or {}).items():
        yield from _walk(sub, f"{path}.{key}")
    if "items" in node:
        yield from _walk(node["items"], f"{path}[]")


def test_schema_is_structural_and_described():
    for path, node in _walk(open_api_schema()["properties"]["spec"]):
        assert "type" in node, path
        assert node.get("description"), f"{path} has no description"
    for path, node in _walk(open_api_schema()["properties"]["status"]):
        assert "type" in node, path
        assert node.get("description"), f"{path} has no description"
    preserved = [p for p, n in _walk(open_api_schema()) if n.get("x-kubernetes-preserve-unknown-fields")]
    # hookDetails is free-form by ECS's API; status.plan.updateService is botocore's UpdateService request, as sent
    # spec.taskDefinition.template is the RegisterTaskDefinition shape, checked against botocore's model instead
    assert preserved == ["$.spec.taskDefinition.sidecars[]",
                         "$.spec.taskDefinition.template", "$.spec.taskDefinition.template.containerDefinitions[]",
                         "$.spec.lifecycleHooks[].hookDetails", "$.status.plan.updateService"]


def test_hook_stage_enum_is_botocores():
    botocore_loaders = pytest.importorskip("botocore.loaders")
    model = botocore_loaders.Loader().load_service_model("ecs", "service-2")
    hook = open_api_schema()["properties"]["spec"]["properties"]["lifecycleHooks"]["items"]
    assert hook["properties"]["stages"]["items"]["enum"] == model["shapes"]["DeploymentLifecycleHookStage"]["enum"]
    assert list(validation.HOOK_STAGES) == model["shapes"]["DeploymentLifecycleHookStage"]["enum"]
    actions = [a.upper() for a in hook["properties"]["timeout"]["properties"]["action"]["enum"]]
    assert actions == model["shapes"]["DeploymentLifecycleHookAction"]["enum"]


def test_parser_patterns_are_the_crds():
    schema = open_api_schema()
    crd_patterns = {n.get("pattern") for _, n in _walk(schema)}
    cel_rules = [r["rule"] for _, n in _walk(schema) for r in n.get("x-kubernetes-validations", ())]
    for name, pattern in validation.PATTERNS.items():
        if name == "image":  # a CEL rule, so the message can say why
            assert f"self.matches('{pattern}')" in cel_rules
        else:
            assert pattern in crd_patterns, name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_against_crd_and_parses(path):
    doc = yaml.safe_load(path.read_text())
    assert schema_errors(doc) == []
    assert doc["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "SkipDryRunOnMissingResource=true"
    release = parse_release(doc)
    assert release.target.cluster == "demo" and release.target.service.startswith("web")
    assert [c.name for c in release.task_definition.containers] == ["app"]


def test_examples_cover_the_three_strategies():
    kinds = {yaml.safe_load(p.read_text())["spec"]["strategy"]["type"] for p in EXAMPLES}
    assert kinds == {"BlueGreen", "Canary", "Linear"}


def test_full_spec_is_valid_for_both():
    doc = b.body(b.full_spec())
    assert schema_errors(doc) == []
    parse_release(doc)


def test_hook_timeout_ceilings_are_ecs_ones():
    """Lambda hooks up to 1,440 minutes [doc: Lambda hooks ...], Pause hooks up to 20,160 [doc: Pause hooks ...]."""
    spec = b.full_spec()
    spec["lifecycleHooks"][0]["timeout"]["minutes"] = 1440
    spec["lifecycleHooks"][1]["timeout"] = {"minutes": 20160, "action": "Continue"}
    assert schema_errors(b.body(spec)) == []
    lam, pause = parse_release(b.body(spec)).hooks
    assert (lam.timeout_minutes, pause.timeout_minutes) == (1440, 20160)


# Each invalid input: a fragment of the message the CRD (schema or CEL) gives, and one parse_release gives.
def _spec(mutate):
    spec = b.full_spec()
    mutate(spec)
    return spec


INVALID = [
    ("both-arn-and-containers", lambda s: s["taskDefinition"].update(arn=b.TD_ARN),
     "exactly one of taskDefinition.arn, taskDefinition.containers or taskDefinition.template",
     "spec.taskDefinition: exactly one"),
    ("containers-and-template", lambda s: s["taskDefinition"].update(template={
        "family": "web", "containerDefinitions": [{"name": "app", "image": "repo/web:1.4.2"}]}),
     "exactly one of taskDefinition.arn", "spec.taskDefinition: exactly one"),
    ("secret-by-value", lambda s: s["taskDefinition"]["containers"][0].update(secrets=[
        {"name": "DB_PASSWORD", "valueFrom": "hunter2"}]),
     "does not match", "spec.taskDefinition.containers[0].secrets[0].valueFrom: must be the ARN"),
    ("template-without-family", lambda s: s.update(taskDefinition={"template": {
        "containerDefinitions": [{"name": "app", "image": "repo/web:1.4.2"}]}}),
     "family", "spec.taskDefinition.template.family: required"),
    ("template-latest-image", lambda s: s.update(taskDefinition={"template": {
        "family": "web", "containerDefinitions": [{"name": "app", "image": "repo/web:latest"}]}}),
     "latest", "spec.taskDefinition.template.containerDefinitions[0].image: image 'repo/web:latest' must not use"),
    ("neither-arn-nor-containers", lambda s: s.update(taskDefinition={}),
     "exactly one of taskDefinition.arn", "spec.taskDefinition: exactly one"),
    ("latest-image", lambda s: s["taskDefinition"]["containers"][0].update(image="repo/web:latest"),
     "must not use the latest tag", "spec.taskDefinition.containers[0].image: image 'repo/web:latest' must not use"),
    ("untagged-image", lambda s: s["taskDefinition"]["containers"][0].update(image="localhost:5000/web"),
     "explicit tag or digest", "spec.taskDefinition.containers[0].image: image 'localhost:5000/web' has no tag"),
    ("linear-with-canary-type", lambda s: s["strategy"].update(type="Canary"),
     "strategy.linear is only allowed with strategy.type Linear", "spec.strategy.linear: is only allowed"),
    ("canary-with-bluegreen", lambda s: s.update(strategy={"type": "BlueGreen", "canary": {}}),
     "strategy.canary is only allowed", "spec.strategy.canary: is only allowed"),
    ("pause-at-test-traffic-shift", lambda s: s["lifecycleHooks"][1].update(stages=["TEST_TRAFFIC_SHIFT"]),
     "Pause hooks cannot run at TEST_TRAFFIC_SHIFT",
     "spec.lifecycleHooks[1].stages: Pause hooks cannot run at TEST_TRAFFIC_SHIFT"),
    ("pause-with-function", lambda s: s["lifecycleHooks"][1].update(functionArn=b.FUNCTION),
     "only allowed on Lambda hooks", "spec.lifecycleHooks[1].functionArn: is only allowed on Lambda hooks"),
    ("lambda-without-function", lambda s: s["lifecycleHooks"][0].pop("functionArn"),
     "Lambda hooks need functionArn", "spec.lifecycleHooks[0].functionArn: is required for Lambda hooks"),
    ("unknown-stage", lambda s: s["lifecycleHooks"][0].update(stages=["BAKE_TIME"]),
     "is not one of", "spec.lifecycleHooks[0].stages[0]: must be one of"),
    ("step-percent-too-small", lambda s: s["strategy"]["linear"].update(stepPercent=2),
     "less than the minimum", "spec.strategy.linear.stepPercent: must be between 3.0 and 100.0"),
    ("bake-too-long", lambda s: s["strategy"].update(bakeTimeInMinutes=1441),
     "greater than the maximum", "spec.strategy.bakeTimeInMinutes: must be between 0 and 1440"),
    ("lambda-timeout-over-a-day", lambda s: s["lifecycleHooks"][0]["timeout"].update(minutes=1441),
     "a Lambda hook's timeout.minutes must be 1-1440",
     "spec.lifecycleHooks[0].timeout.minutes: must be between 1 and 1440"),
    ("pause-timeout-over-14-days", lambda s: s["lifecycleHooks"][1].update(timeout={"minutes": 20161}),
     "greater than the maximum", "spec.lifecycleHooks[1].timeout.minutes: must be between 1 and 20160"),
    ("bad-region", lambda s: s["target"].update(region="Europe"),
     "does not match", "spec.target.region: 'Europe' is not a valid region"),
    ("missing-service", lambda s: s["target"].pop("service"),
     "'service' is a required property", "spec.target.service: is required"),
    ("bad-role-arn", lambda s: s["target"].update(roleArn="role/deployer"),
     "does not match", "spec.target.roleArn: 'role/deployer' is not a valid role"),
    ("bad-strategy-type", lambda s: s["strategy"].update(type="Rolling"),
     "is not one of", "spec.strategy.type: must be one of BlueGreen, Linear, Canary"),
]


def test_bad_spec_request_is_refused_by_the_crd_and_only_reported_by_the_parser():
    """The CRD refuses it at admission; a CR that skipped admission gets a request problem, never Invalid."""
    doc = b.body(_spec(lambda s: s["requests"].update(approve=0)))
    assert any("less than the minimum" in e for e in schema_errors(doc))
    [problem] = parse_release(doc).requests.problems
    assert problem.message.startswith("spec.requests.approve: must be between 1 and None")


@pytest.mark.parametrize(("mutate", "crd_says", "parser_says"), [row[1:] for row in INVALID],
                         ids=[row[0] for row in INVALID])
def test_invalid_input_is_rejected_by_crd_and_parser(mutate, crd_says, parser_says):
    doc = b.body(_spec(mutate))
    crd_errors = schema_errors(doc)
    assert any(crd_says in e for e in crd_errors), crd_errors
    with pytest.raises(InvalidSpec) as caught:
        parse_release(doc)
    assert any(e.startswith(parser_says) for e in caught.value.errors), caught.value.errors
    assert parser_says in str(caught.value)


def test_each_example_owns_its_own_service():
    """`make demo` applies several examples at once: two releases on one service would fight over it."""
    targets = [tuple(yaml.safe_load(p.read_text())["spec"]["target"][k] for k in ("region", "cluster", "service"))
               for p in EXAMPLES]
    assert len(set(targets)) == len(targets)


def test_crd_is_a_valid_kubernetes_object():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(crd(), kubernetes_validate.latest_version(), strict=True)
