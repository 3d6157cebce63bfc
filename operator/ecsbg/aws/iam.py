"""The operator's IAM policy, rendered from what the installer lists (`ecsbg iam-policy`, deploy/iam/README.md).

The actions come from `calls.OPERATIONS` (the AWS layer refuses anything else), the resources from the installer:
the accounts and role paths the operator may assume (`sts:AssumeRole`), and the role paths of the roles it may
pass to ECS (`iam:PassRole`): task and execution roles to ecs-tasks.amazonaws.com, load balancer infrastructure
and Lambda hook roles to ecs.amazonaws.com. Nothing is granted on `role/*` or on roles of any account.
deploy/iam/operator-policy.json is this rendering of deploy/iam/policy-inputs.yaml (`make generate`).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = re.compile(r"^[0-9]{12}$")
# IAM role paths: "/" or "/a/b/" ([doc: IAM identifiers, Friendly names and paths]); a name prefix may follow
PATH = re.compile(r"^/([\x21-\x7e]+/)?$")
NAME_PREFIX = re.compile(r"^[\w+=,.@-]*$")
ANY_ACCOUNT_OF_THE_CALLER = "${aws:PrincipalAccount}"
ECS = "arn:aws:ecs:*:${aws:PrincipalAccount}"


class PolicyInputError(ValueError):
    """The installer's list does not say which roles to allow."""


@dataclass(frozen=True)
class RoleScope:
    """Roles under an IAM path whose names start with a prefix ("" = every role under the path)."""

    path: str = "/"
    name_prefix: str = ""

    def arn(self, account: str) -> str:
        return f"arn:aws:iam::{account}:role{self.path}{self.name_prefix}*"


@dataclass(frozen=True)
class PolicyInputs:
    assume: tuple[tuple[str, RoleScope], ...]  # (account, roles) the operator may assume (spec.target.roleArn)
    task_roles: tuple[RoleScope, ...]  # task and execution roles kept from the base task definition
    ecs_roles: tuple[RoleScope, ...]  # loadBalancers[].roleArn and lifecycleHooks[].roleArn

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> PolicyInputs:
        assume = []
        for i, item in enumerate(raw.get("assumeRoles") or []):
            account = str(item.get("account", ""))
            if not ACCOUNT.match(account):
                raise PolicyInputError(f"assumeRoles[{i}].account: a 12-digit account ID, got {account!r}")
            assume.append((account, _scope(item, f"assumeRoles[{i}]")))
        passing = raw.get("passRoles") or {}
        tasks = tuple(_scope(s, f"passRoles.tasks[{i}]") for i, s in enumerate(passing.get("tasks") or []))
        ecs = tuple(_scope(s, f"passRoles.ecs[{i}]") for i, s in enumerate(passing.get("ecs") or []))
        if not assume or not tasks or not ecs:
            raise PolicyInputError("list at least one of each: assumeRoles, passRoles.tasks, passRoles.ecs")
        return cls(assume=tuple(assume), task_roles=tasks, ecs_roles=ecs)


def _scope(item: Mapping[str, Any], where: str) -> RoleScope:
    path, prefix = str(item.get("path", "/")), str(item.get("namePrefix", ""))
    if not PATH.match(path):
        raise PolicyInputError(f"{where}.path: an IAM path such as / or /ecsbg/, got {path!r}")
    if not NAME_PREFIX.match(prefix):
        raise PolicyInputError(f"{where}.namePrefix: letters, digits and +=,.@_- only, got {prefix!r}")
    if path == "/" and not prefix:
        raise PolicyInputError(f"{where}: path / without a namePrefix would allow every role of the account")
    return RoleScope(path=path, name_prefix=prefix)


def render_policy(inputs: PolicyInputs) -> dict[str, Any]:
    # imported here: `ecsbg <any subcommand>` imports this module for its arguments
    from ecsbg.aws.calls import iam_actions

    statements = _ecs_statements() + [
        _pass_role("PassInfrastructureAndHookRolesToEcs", inputs.ecs_roles, "ecs.amazonaws.com"),
        _pass_role("PassTaskAndExecutionRolesToEcsTasks", inputs.task_roles, "ecs-tasks.amazonaws.com"),
        {"Sid": "AssumeTargetRoles", "Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
         "Resource": [scope.arn(account) for account, scope in inputs.assume]},
        # EcsReleasePolicy images.resolveDigests: read-only, on repositories (the task execution role pulls them)
        {"Sid": "ResolveEcrImageDigests", "Effect": "Allow", "Action": "ecr:DescribeImages",
         "Resource": "arn:aws:ecr:*:*:repository/*"},
        # automated analysis (cloudWatch metrics); GetMetricData has no resource-level permissions
        # ([doc: Actions, resources, and condition keys for Amazon CloudWatch]): "*" is the only resource
        {"Sid": "ReadMetricsForAnalysis", "Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"},
        # spec.preflight: ELBv2's Describe* actions support no resource-level permissions
        # ([doc: Actions, resources, and condition keys for Elastic Load Balancing V2]): "*" is the only resource
        {"Sid": "ReadLoadBalancersForPreflight", "Effect": "Allow",
         "Action": ["elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"],
         "Resource": "*"},
        # spec.autoScaling: Describe* have no resource-level permissions; RegisterScalableTarget is scoped to
        # scalable targets of the caller's account ([doc: Actions, resources, and condition keys for Application
        # Auto Scaling]); updating SuspendedState of an ECS target is also authorised as ecs:DescribeServices and
        # ecs:UpdateService, which the operator has
        {"Sid": "ReadServiceAutoScaling", "Effect": "Allow",
         "Action": ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies"],
         "Resource": "*"},
        # ECSBG_EVENTS_QUEUE_URL: the SQS queue EventBridge delivers ECS events to, in the operator's account
        {"Sid": "ReadEcsEventsQueue", "Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
         "Resource": "arn:aws:sqs:*:${aws:PrincipalAccount}:*"},
        {"Sid": "SuspendServiceAutoScalingDuringDeployments", "Effect": "Allow",
         "Action": "application-autoscaling:RegisterScalableTarget",
         "Resource": "arn:aws:application-autoscaling:*:${aws:PrincipalAccount}:scalable-target/*"},
    ]
    granted = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert granted == set(iam_actions()), sorted(granted ^ set(iam_actions()))  # a new call needs a statement
    return {"Version": "2012-10-17", "Statement": statements}


def _pass_role(sid: str, scopes: Sequence[RoleScope], service: str) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": "iam:PassRole",
            "Resource": [scope.arn(ANY_ACCOUNT_OF_THE_CALLER) for scope in scopes],
            "Condition": {"StringEquals": {"iam:PassedToService": service}}}


def _ecs_statements() -> list[dict[str, Any]]:
    services, deployments = f"{ECS}:service/*/*", f"{ECS}:service-deployment/*/*/*"
    return [
        {"Sid": "ReadServicesDeploymentsRevisions", "Effect": "Allow",
         "Action": ["ecs:DescribeServices", "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions"],
         "Resource": [services, deployments, f"{ECS}:service-revision/*/*/*"]},
        {"Sid": "StartDeployments", "Effect": "Allow", "Action": "ecs:UpdateService", "Resource": services,
         "Condition": {"ArnLike": {"ecs:cluster": f"{ECS}:cluster/*"},
                       "ArnLikeIfExists": {"ecs:task-definition": f"{ECS}:task-definition/*"}}},
        {"Sid": "ApproveRejectAbortDeployments", "Effect": "Allow",
         "Action": ["ecs:ContinueServiceDeployment", "ecs:StopServiceDeployment"], "Resource": deployments},
        {"Sid": "ReadTaskDefinitions", "Effect": "Allow",
         "Action": ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"], "Resource": "*"},
        {"Sid": "RegisterTaggedTaskDefinitions", "Effect": "Allow", "Action": "ecs:RegisterTaskDefinition",
         "Resource": "*", "Condition": {"Null": {"aws:RequestTag/ecsbg.dev/taskdef-hash": "false"}}},
        {"Sid": "TagTaskDefinitionsOnCreate", "Effect": "Allow", "Action": "ecs:TagResource",
         "Resource": f"{ECS}:task-definition/*",
         "Condition": {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}},
        # the ecsbg.dev/owner tag on the services it deploys (domain.ownership), and no other tag
        {"Sid": "TagServicesWithTheirOwner", "Effect": "Allow", "Action": "ecs:TagResource",
         "Resource": f"{ECS}:service/*/*",
         "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["ecsbg.dev/owner"]}}},
    ]


def render_file(path: Path) -> str:
    """The policy for an inputs file (YAML or JSON), as written to deploy/iam/operator-policy.json."""
    import yaml

    return json.dumps(render_policy(PolicyInputs.from_mapping(yaml.safe_load(path.read_text()) or {})),
                      indent=2) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", type=Path, help="YAML listing assumeRoles and passRoles "
                        "(see deploy/iam/policy-inputs.yaml)")


def run(args: argparse.Namespace) -> int:
    try:
        print(render_file(args.inputs), end="")
    except PolicyInputError as exc:
        print(f"iam-policy: {exc}")
        return 2
    return 0
