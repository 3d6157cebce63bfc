"""Where a release acts: the region and account its ARNs name, checked before any AWS write.

An ARN is `arn:<partition>:<service>:<region>:<account>:<resource>` ([doc: Identify AWS resources with Amazon
Resource Names (ARNs)]); IAM ARNs have an empty region. ECS takes a cluster or service ARN at face value and
a boto3 client signs for one region, so a spec whose ARNs name another region or account than the one the
operator acts in would deploy to the wrong place, or leave half-done writes before AWS refuses. The account the
operator acts in is the account of `spec.target.roleArn` when set (it assumes that role); otherwise the one its
own credentials belong to, which only ECS can tell (the service ARN DescribeServices returns: `service_account`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ecsbg.domain.model import ReleaseSpec, Target


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(value: str | None) -> Arn | None:
    """The parts of an ARN, or None for anything else (a plain cluster or service name)."""
    if not value or not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    if len(parts) != 6:
        return None
    return Arn(partition=parts[1], service=parts[2], region=parts[3], account=parts[4], resource=parts[5])


def target_account(target: Target) -> str | None:
    """The account the release names for its service: the role's, else the cluster's or service's ARN's."""
    for value in (target.role_arn, target.cluster, target.service):
        arn = parse_arn(value)
        if arn is not None and arn.account:
            return arn.account
    return None


def _named_arns(spec: ReleaseSpec) -> list[tuple[str, str]]:
    """(field path, ARN) for every ARN of the spec that must live in the release's region and account."""
    named = [("spec.target.cluster", spec.target.cluster), ("spec.target.service", spec.target.service),
             ("spec.taskDefinition.arn", spec.task_definition.arn or "")]
    for i, lb in enumerate(spec.load_balancers):
        path = f"spec.loadBalancers[{i}]"
        named += [(f"{path}.targetGroupArn", lb.target_group_arn),
                  (f"{path}.alternateTargetGroupArn", lb.alternate_target_group_arn),
                  (f"{path}.productionListenerRule", lb.production_listener_rule),
                  (f"{path}.testListenerRule", lb.test_listener_rule or ""),
                  (f"{path}.roleArn", lb.role_arn)]
    for i, hook in enumerate(spec.hooks):
        named.append((f"spec.lifecycleHooks[{i}].roleArn", hook.role_arn or ""))
    return [(path, value) for path, value in named if parse_arn(value) is not None]


def placement_errors(spec: ReleaseSpec) -> list[str]:
    """One "<path>: <why>" per ARN whose region differs from spec.target.region or whose account differs from the
    account the release acts in (the role's; without a role, the first account an ARN names)."""
    errors: list[str] = []
    named = _named_arns(spec)
    account, source = _acting_account(spec, named)
    for path, value in named:
        arn = parse_arn(value)
        assert arn is not None
        if arn.region and arn.region != spec.target.region:
            errors.append(f"{path}: {value!r} is in region {arn.region}, the release deploys to "
                          f"spec.target.region {spec.target.region}")
        if arn.account != account:
            errors.append(f"{path}: {value!r} is in account {arn.account}, the release acts in account {account} "
                          f"(from {source}); ECS and IAM do not take another account's resources here")
    return errors


def _acting_account(spec: ReleaseSpec, named: list[tuple[str, str]]) -> tuple[str, str]:
    """(account, where it comes from): the role's; else the target's ARN's; else the one most ARNs name."""
    for path, value in (("spec.target.roleArn", spec.target.role_arn), *named[:2]):
        arn = parse_arn(value)
        if arn is not None and path.startswith("spec.target."):
            return arn.account, path
    accounts = [arn.account for _, value in named if (arn := parse_arn(value)) is not None and arn.account]
    if not accounts:
        return "", ""
    account = max(accounts, key=accounts.count)  # ties: the first named
    return account, "most ARNs of the spec"


def service_account_errors(spec: ReleaseSpec, service_arn: str | None) -> list[str]:
    """Errors when the ARNs of the spec name another account than the one the operator acts in, which the
    service ARN ECS returned for spec.target tells (checked once ECS was read, before any write)."""
    actual = parse_arn(service_arn)
    if actual is None or not actual.account:
        return []
    arns = _named_arns(spec)
    role = parse_arn(spec.target.role_arn)
    named = [("spec.target.roleArn", role)] if role is not None else []
    named += [(path, parse_arn(value)) for path, value in arns]
    for path, arn in named:
        if arn is not None and arn.account and arn.account != actual.account:
            return [f"{path}: names account {arn.account}, but the operator acts in account {actual.account} "
                    f"(ECS reports service {service_arn}); check spec.target.roleArn and the ARNs"]
    return []
