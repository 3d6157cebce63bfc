"""deploy/iam: the operator policy grants exactly what ecsbg.aws.calls.OPERATIONS needs, scoped by ARN.

The list of operations is read from the adapter (the one module that calls AWS refuses anything not in it),
never typed here, so a new call without a policy change fails this test.
"""

from __future__ import annotations

import json
import re

import botocore.session
import pytest
import yaml

from tests.delivery.conftest import ROOT

IAM = ROOT / "deploy" / "iam"
POLICY = json.loads((IAM / "operator-policy.json").read_text())
STATEMENTS = POLICY["Statement"]
calls = pytest.importorskip("ecsbg.aws.calls", reason="the AWS adapter is not written yet")

# Actions the operator needs beyond <service>:<Operation>, each for a documented reason:
# - iam:PassRole: UpdateService passes advancedConfiguration.roleArn and Lambda hook roles to
#   ecs.amazonaws.com, RegisterTaskDefinition passes the task and execution roles to ecs-tasks.amazonaws.com.
# - ecs:TagResource: RegisterTaskDefinition with `tags` is also authorised as ecs:TagResource
#   ([doc: Grant permission to tag resources on creation], condition ecs:CreateAction).
PASS_ROLE = "iam:PassRole"
TAG_ON_CREATE = "ecs:TagResource"
# ECS actions without resource-level permissions: the Service Authorization Reference lists no resource type
# for them, so "Resource": "*" is the only form that works.
# ...and CloudWatch's GetMetricData (automated analysis), which has no resource type either
NO_RESOURCE_LEVEL = {"ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions", "ecs:RegisterTaskDefinition",
                     "cloudwatch:GetMetricData", "elasticloadbalancing:DescribeRules",
                     "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTargetGroups",
                     "elasticloadbalancing:DescribeTargetHealth", "application-autoscaling:DescribeScalableTargets",
                     "application-autoscaling:DescribeScalingPolicies"}
# ECS resource type each scoped action is authorised on, and the ARN path depth of that type.
RESOURCE_TYPE = {
    "ecs:DescribeServices": "service", "ecs:UpdateService": "service",
    "ecs:DescribeServiceDeployments": "service-deployment", "ecs:StopServiceDeployment": "service-deployment",
    "ecs:ContinueServiceDeployment": "service-deployment",
    "ecs:DescribeServiceRevisions": "service-revision", "ecs:TagResource": ("task-definition", "service"),
}
PATH_DEPTH = {"service": 2, "service-deployment": 3, "service-revision": 3, "task-definition": 1}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def statements_for(action: str) -> list[dict]:
    return [s for s in STATEMENTS if action in as_list(s["Action"])]


def expected_actions() -> set[str]:
    wanted = {calls.IAM_ACTION_OF.get((service, operation), f"{service}:{operation}")
              for service, operation in calls.OPERATIONS}
    if any(service == "ecs" for service, _ in calls.OPERATIONS):
        wanted.add(PASS_ROLE)
    if ("ecs", "RegisterTaskDefinition") in calls.OPERATIONS:
        wanted.add(TAG_ON_CREATE)
    if ("sts", "AssumeRole") in calls.OPERATIONS:
        wanted.add("sts:TagSession")  # session tags naming the release (EcsReleasePolicy)
    return wanted


def test_policy_grants_every_operation_and_nothing_more():
    granted = {a for s in STATEMENTS for a in as_list(s["Action"])}
    assert granted == expected_actions()


def test_adapter_iam_actions_agree_with_this_test():
    if hasattr(calls, "iam_actions"):
        assert set(calls.iam_actions()) == expected_actions()


def test_operations_are_real_botocore_operations():
    session = botocore.session.get_session()
    for service, operation in calls.OPERATIONS:
        model = session.get_service_model(calls.BOTOCORE_NAMES.get(service, service))
        assert operation in model.operation_names, f"{service}:{operation}"


def test_statements_are_plain_allows_without_wildcard_actions():
    assert POLICY["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in STATEMENTS]
    assert len(sids) == len(set(sids))
    for statement in STATEMENTS:
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "Principal"} & statement.keys()
        for action in as_list(statement["Action"]):
            assert "*" not in action, action


@pytest.mark.parametrize("action", sorted(RESOURCE_TYPE))
def test_scoped_actions_name_their_resource_type(action: str):
    if action not in expected_actions():
        pytest.skip(f"{action} is not called by the operator")
    types = RESOURCE_TYPE[action] if isinstance(RESOURCE_TYPE[action], tuple) else (RESOURCE_TYPE[action],)
    for statement in statements_for(action):
        resources = as_list(statement["Resource"])
        assert "*" not in resources, f"{statement['Sid']}: {action} on every resource"
        arns = [re.compile(rf"arn:aws:ecs:\*:\$\{{aws:PrincipalAccount\}}:{t}(/\*){{{PATH_DEPTH[t]}}}") for t in types]
        assert any(a.fullmatch(r) for a in arns for r in resources), f"{statement['Sid']}: no {types} ARN"


def test_only_unscoped_ecs_actions_use_every_resource():
    for statement in STATEMENTS:
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= NO_RESOURCE_LEVEL, statement["Sid"]


def test_register_task_definition_requires_the_operator_tag():
    translate = pytest.importorskip("ecsbg.aws.translate")
    [statement] = statements_for("ecs:RegisterTaskDefinition")
    assert statement["Condition"] == {"Null": {f"aws:RequestTag/{translate.TASKDEF_HASH_TAG}": "false"}}
    on_create, owner = statements_for(TAG_ON_CREATE)
    assert on_create["Condition"] == {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    assert owner["Resource"].endswith(":service/*/*")  # the ecsbg.dev/owner tag (domain.ownership), only that key
    assert owner["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": ["ecsbg.dev/owner"]}}


def test_update_service_is_conditioned_on_cluster():
    [statement] = statements_for("ecs:UpdateService")
    assert "ecs:cluster" in statement["Condition"]["ArnLike"]


def test_pass_role_only_to_ecs():
    passed_to = set()
    for statement in statements_for(PASS_ROLE):
        assert as_list(statement["Action"]) == [PASS_ROLE]
        assert all(r.startswith("arn:aws:iam::${aws:PrincipalAccount}:role/") for r in as_list(statement["Resource"]))
        assert "arn:aws:iam::${aws:PrincipalAccount}:role/*" not in as_list(statement["Resource"]), "any role"
        passed_to |= set(as_list(statement["Condition"]["StringEquals"]["iam:PassedToService"]))
    assert passed_to == {"ecs.amazonaws.com", "ecs-tasks.amazonaws.com"}


def test_assume_role_is_limited_to_listed_accounts_and_paths():
    inputs = yaml.safe_load((IAM / "policy-inputs.yaml").read_text())
    wanted = {f"arn:aws:iam::{a['account']}:role{a.get('path', '/')}{a.get('namePrefix', '')}*"
              for a in inputs["assumeRoles"]}
    [statement] = statements_for("sts:AssumeRole")
    assert set(as_list(statement["Resource"])) == wanted
    for resource in wanted:  # an account of its own, never `*`, and never every role of it
        assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]+\*?", resource), resource
        assert not resource.endswith(":role/*"), resource


def test_pass_role_is_limited_to_the_listed_paths():
    inputs = yaml.safe_load((IAM / "policy-inputs.yaml").read_text())["passRoles"]
    for sid, kind in (("PassTaskAndExecutionRolesToEcsTasks", "tasks"), ("PassInfrastructureAndHookRolesToEcs", "ecs")):
        [statement] = [s for s in STATEMENTS if s["Sid"] == sid]
        assert as_list(statement["Resource"]) == [
            f"arn:aws:iam::${{aws:PrincipalAccount}}:role{r.get('path', '/')}{r.get('namePrefix', '')}*"
            for r in inputs[kind]]


def test_the_policy_is_the_rendering_of_the_inputs():
    iam = pytest.importorskip("ecsbg.aws.iam")
    assert (IAM / "operator-policy.json").read_text() == iam.render_file(IAM / "policy-inputs.yaml")


@pytest.mark.parametrize(("inputs", "fragment"), [
    ({"assumeRoles": [{"account": "*", "path": "/ecsbg/"}], "passRoles": {"tasks": [{"path": "/t/"}],
                                                                          "ecs": [{"path": "/e/"}]}}, "12-digit"),
    ({"assumeRoles": [{"account": "111122223333", "path": "/"}], "passRoles": {"tasks": [{"path": "/t/"}],
                                                                              "ecs": [{"path": "/e/"}]}}, "every role"),
    ({"assumeRoles": [{"account": "111122223333", "path": "/ecsbg/"}], "passRoles": {"tasks": [{"path": "/t/"}]}},
     "at least one"),
], ids=["any-account", "every-role", "no-ecs-roles"])
def test_the_generator_refuses_inputs_that_grant_too_much(inputs, fragment):
    iam = pytest.importorskip("ecsbg.aws.iam")
    with pytest.raises(iam.PolicyInputError, match=fragment):
        iam.PolicyInputs.from_mapping(inputs)


def test_readme_makes_the_external_id_operator_configuration():
    readme = (IAM / "README.md").read_text()
    assert "spec.target.externalId" in readme and "ignored" in readme
    assert "Secret" in readme and "externalId.secretName" in readme


def test_cross_account_trust_policy_requires_the_external_id():
    trust = json.loads((IAM / "trust-policy-cross-account.json").read_text())
    [statement] = [s for s in trust["Statement"] if s["Action"] == "sts:AssumeRole"]
    [tagging] = [s for s in trust["Statement"] if s["Action"] == "sts:TagSession"]
    assert tagging["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == ["ecsbg.dev/namespace", "ecsbg.dev/name"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/.+", statement["Principal"]["AWS"])
    assert statement["Condition"]["StringEquals"]["sts:ExternalId"]


def _default_service_account() -> tuple[str, str]:
    objects = yaml.safe_load_all((ROOT / "deploy/manifests/operator.yaml").read_text())
    [account] = [o for o in objects if o and o["kind"] == "ServiceAccount"]
    return account["metadata"]["namespace"], account["metadata"]["name"]


def test_workload_identity_trust_examples_name_the_default_service_account():
    namespace, name = _default_service_account()
    irsa = json.loads((IAM / "trust-policy-irsa.json").read_text())["Statement"][0]
    assert irsa["Action"] == "sts:AssumeRoleWithWebIdentity"
    subs = [v for k, v in irsa["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subs == [f"system:serviceaccount:{namespace}:{name}"]
    pod_identity = json.loads((IAM / "trust-policy-pod-identity.json").read_text())["Statement"][0]
    assert pod_identity["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert set(pod_identity["Action"]) == {"sts:AssumeRole", "sts:TagSession"}
    tags = pod_identity["Condition"]["StringEquals"]
    assert (tags["aws:RequestTag/kubernetes-namespace"], tags["aws:RequestTag/kubernetes-service-account"]) == (
        namespace, name)


def test_readme_explains_every_statement():
    readme = (IAM / "README.md").read_text()
    for statement in STATEMENTS:
        assert f"`{statement['Sid']}`" in readme, statement["Sid"]
