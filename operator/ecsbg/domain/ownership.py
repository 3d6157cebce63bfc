"""One release per ECS service: the oldest release of a service owns it.

Two releases driving one service would supersede each other's deployments (a second deployment-triggering
UpdateService stops the first), so a newer release that names an owned service is refused like a bad spec: a
condition and a Warning naming the owner, and no AWS write. It takes over when the owner is deleted.

A service is identified by account, region, cluster and service. The account comes from `spec.target.roleArn`
(the operator acts in the role's account) or from a cluster/service ARN; a release naming neither acts in the
operator's own account, which is not known without asking AWS, so such a release is taken to be in *every*
account: it conflicts with a same-named service of any account (a false "owned elsewhere" is a clear, reversible
refusal; a missed one would let two releases fight over one service).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ecsbg.domain.arns import parse_arn
from ecsbg.domain.parsing import InvalidSpec
from ecsbg.domain.shape import mapping, text

# (creationTimestamp, "namespace/name", account or ""): RFC3339 UTC strings sort in time order
Claim = tuple[str, ...]


def target_key(target: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(region, cluster, service) with ARNs reduced to names, so `demo` and `arn:...:cluster/demo` collide.
    The account is not part of the key but of each claim (`claim_account`), see the module docstring."""
    region, cluster, service = (text(mapping(target).get(k)) for k in ("region", "cluster", "service"))
    if not (region and cluster and service):
        return None
    return region, cluster.rsplit("/", 1)[-1], service.rsplit("/", 1)[-1]


def claim_account(target: Mapping[str, Any]) -> str:
    """The account a release's target names: roleArn's, else the cluster or service ARN's; "" when none does."""
    for key in ("roleArn", "cluster", "service"):
        value = mapping(target).get(key)
        arn = parse_arn(value if isinstance(value, str) else None)
        if arn is not None and arn.account:
            return arn.account
    return ""


def _same_account(a: str, b: str) -> bool:
    return not a or not b or a == b


def conflict(me: str, claims: Iterable[Claim], account: str = "") -> str | None:
    """The owner's "namespace/name" when it is not `me`, else None. Claims of another known account than
    `account` are other services that happen to share the names."""
    ordered = sorted(c for c in claims if c[1] == me or _same_account(account, c[2] if len(c) > 2 else ""))
    if not ordered or ordered[0][1] == me:
        return None
    return ordered[0][1]


class ServiceOwnedElsewhere(InvalidSpec):
    """Raised for a release whose service another, older release owns."""


def check(namespace: str, name: str, target: Mapping[str, Any], claims: Iterable[Claim]) -> None:
    key = target_key(target)
    account = claim_account(target)
    owner = conflict(f"{namespace}/{name}", claims, account) if key else None
    if owner is not None and key is not None:
        region, cluster, service = key
        where = f"account {account}, {region}" if account else region
        raise ServiceOwnedElsewhere([
            f"spec.target: ECS service {cluster}/{service} in {where} is already released by {owner}; one "
            "release per service (the oldest owns it), this one takes over when that one is deleted"])


# ------------------------------------------------------------------------------ ownership recorded in AWS itself
# Releases are only compared among those one operator sees; another operator (another cluster, another install)
# pointed at the same service would not know. So before its first write to a service an operator tags it with
# AWS_OWNER_TAG = "<operator id>/<namespace>/<name>" (ecsbg.aws.apply), and a release whose service carries
# another owner's tag is refused before any write, until a person takes it over explicitly.

AWS_OWNER_TAG = "ecsbg.dev/owner"
TAKEOVER_ANNOTATION = "ecsbg.dev/take-over"
_TAG_VALUE_MAX = 256  # ECS tag values [doc: Tagging your Amazon ECS resources]


def owner_value(operator_id: str, namespace: str, name: str) -> str:
    """The tag value naming this release of this operator; "" when the operator has no id (ownership off)."""
    if not operator_id:
        return ""
    value = f"{operator_id}/{namespace}/{name}"
    if len(value) > _TAG_VALUE_MAX:  # keep it unique: a hash of the whole value replaces the tail
        import hashlib

        value = value[:_TAG_VALUE_MAX - 17] + "~" + hashlib.sha256(value.encode()).hexdigest()[:16]
    return value


def foreign_owner(tagged: str | None, mine: str, takeover: str | None) -> str | None:
    """The other owner holding the service, or None when it is free, ours, or being taken over from exactly it."""
    if not mine or not tagged or tagged == mine or takeover == tagged:
        return None
    return tagged


def owned_in_aws(owner: str, service: str) -> ServiceOwnedElsewhere:
    return ServiceOwnedElsewhere([
        f"spec.target: ECS service {service} is owned by {owner} (tag {AWS_OWNER_TAG}: another operator or "
        f"release deploys it); nothing is written. To take it over, annotate the release {TAKEOVER_ANNOTATION}="
        f"'{owner}' after stopping the other one"])
