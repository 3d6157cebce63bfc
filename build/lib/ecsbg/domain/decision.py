"""Who may deploy where, through which role, with which images: the EcsReleasePolicy decision. Pure.

Semantics (docs/api.md "EcsReleasePolicy"):
- no policy in the cluster: today's behaviour (NotRequired), unless the operator requires a policy
  (`--require-policy`): then every release is refused (NoPolicy);
- policies exist: only the ones whose namespaceSelector selects the release's namespace count; none: refused
  (NamespaceNotSelected);
- several match: the union of what they allow: the release is allowed when at least one of them allows its
  account, region, cluster, service, role and images together; the first such policy by name is the one used
  (its role, its ExternalId) and recorded in status;
- a release may omit `target.roleArn`: the policy's role is assumed. A release naming another role than its
  policy's is refused (RoleNotAllowed); a release naming a role is refused by a policy without one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ecsbg.domain.arns import parse_arn
from ecsbg.domain.images import ImageRules, image_problems
from ecsbg.domain.policy import Policy, SecretKeyRef, glob_match, role_account

# Most specific first: the reason reported when no policy allows a release is the one that got furthest.
# (_refusal checks the role, then the target, then the images)
REASONS = ("ImageNotAllowed", "TargetNotAllowed", "RoleNotAllowed", "NamespaceNotSelected", "NoPolicy")
SESSION_NAME_MAX = 64  # STS RoleSessionName: 2..64 characters of [\w+=,.@-]
_SESSION_CHARS = re.compile(r"[^\w+=,.@-]")
TAG_NAMESPACE, TAG_NAME = "ecsbg.dev/namespace", "ecsbg.dev/name"


class Verdict(enum.Enum):
    ALLOWED = "Allowed"
    REFUSED = "Refused"
    NOT_REQUIRED = "NotRequired"  # no policy exists and none is required: today's behaviour


@dataclass(frozen=True)
class ReleaseRequest:
    """What a release asks for, as the decision needs it."""

    namespace: str
    name: str
    region: str
    cluster: str
    service: str
    role_arn: str | None = None
    arn_account: str = ""  # the account a cluster/service ARN names, "" when they are names
    images: tuple[str, ...] = ()  # every image the release would deploy (when known)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    message: str
    policy: str | None = None
    role_arn: str | None = None
    external_id: SecretKeyRef | None = None
    session_name: str | None = None
    session_tags: tuple[tuple[str, str], ...] = ()
    considered: tuple[str, ...] = field(default=())
    images: ImageRules | None = None  # the allowing policy's image rules, checked again on the task definition
    promote_from: tuple[str, ...] = ()  # namespaces (globs) the allowing policy lets releases promote from
    registry_credentials: tuple[SecretKeyRef, ...] = ()  # the allowing policy's registry credential Secrets

    @property
    def allowed(self) -> bool:
        return self.verdict is not Verdict.REFUSED

    def to_status(self) -> dict[str, object]:
        """`status.policy` of the release."""
        out: dict[str, object] = {"decision": self.verdict.value, "reason": self.reason, "message": self.message}
        if self.policy:
            out["name"] = self.policy
        if self.role_arn:
            out["roleArn"] = self.role_arn
        return out


def session_name(namespace: str, name: str) -> str:
    """RoleSessionName naming the release, so CloudTrail's assumed-role ARN says who deployed."""
    return _SESSION_CHARS.sub("-", f"ecsbg@{namespace}.{name}")[:SESSION_NAME_MAX]


def decide(release: ReleaseRequest, namespace_labels: Mapping[str, str] | None, policies: Iterable[Policy], *,
           require_policy: bool) -> Decision:
    policies = sorted(policies, key=lambda p: p.name)
    if not policies:
        if require_policy:
            return _refused("NoPolicy", "no EcsReleasePolicy exists and the operator requires one (--require-policy)")
        return Decision(Verdict.NOT_REQUIRED, "NoPolicy", "no EcsReleasePolicy exists: not required by the operator",
                        role_arn=release.role_arn)
    matching = [p for p in policies if p.namespace_selector.selects(release.namespace, namespace_labels)]
    if not matching:
        return _refused("NamespaceNotSelected",
                        f"no EcsReleasePolicy selects namespace {release.namespace} "
                        f"({len(policies)} polic{'y' if len(policies) == 1 else 'ies'} exist)")
    refusals: list[tuple[str, str]] = []
    for policy in matching:
        why = _refusal(policy, release)
        if why is None:
            return _allowed(policy, release)
        refusals.append(why)
    reason = min((r for r, _ in refusals), key=REASONS.index)
    return _refused(reason, "; ".join(m for _, m in refusals), tuple(p.name for p in matching))


def _refusal(policy: Policy, release: ReleaseRequest) -> tuple[str, str] | None:
    """(reason, message) when `policy` does not allow `release`, else None."""
    role = release.role_arn or (policy.role.arn if policy.role else None)
    if release.role_arn and (policy.role is None or release.role_arn != policy.role.arn):
        allowed = policy.role.arn if policy.role else "none (the operator's own credentials)"
        return "RoleNotAllowed", f"policy {policy.name}: role {release.role_arn} is not allowed (allowed: {allowed})"
    named = release.arn_account or _arn_account(release.cluster, release.service)
    account = role_account(role) or named
    if named and account != named:  # the role acts in one account, the ARNs name another: never allowed
        return "TargetNotAllowed", (f"policy {policy.name}: the target's ARN names account {named}, the role "
                                    f"{role} is in account {account}")
    rules = policy.targets
    checks = (("account", account, rules.accounts), ("region", release.region, rules.regions),
              ("cluster", _name(release.cluster), rules.clusters), ("service", _name(release.service), rules.services))
    for what, value, allowed_values in checks:
        if not value and allowed_values is not None:
            return "TargetNotAllowed", (f"policy {policy.name}: the {what} is unknown (name a role or an ARN) and "
                                        f"the policy allows only {', '.join(allowed_values) or 'none'}")
        if value and not glob_match(value, allowed_values):
            return "TargetNotAllowed", (f"policy {policy.name}: {what} {value} is not allowed "
                                        f"(allowed: {', '.join(allowed_values or ()) or 'none'})")
    problems = [p for image in release.images for p in image_problems(image, policy.images)]
    if problems:
        return "ImageNotAllowed", f"policy {policy.name}: " + "; ".join(problems)
    return None


def _allowed(policy: Policy, release: ReleaseRequest) -> Decision:
    role = release.role_arn or (policy.role.arn if policy.role else None)
    tags = ((TAG_NAMESPACE, release.namespace), (TAG_NAME, release.name)) if role else ()
    return Decision(
        Verdict.ALLOWED, "PolicyAllows", f"allowed by EcsReleasePolicy {policy.name}", policy=policy.name,
        role_arn=role, external_id=policy.role.external_id if policy.role else None,
        session_name=session_name(release.namespace, release.name) if role else None, session_tags=tags,
        images=policy.images if policy.images != ImageRules() else None, promote_from=policy.promote_from,
        registry_credentials=policy.registry_credentials,
    )


def _refused(reason: str, message: str, considered: tuple[str, ...] = ()) -> Decision:
    return Decision(Verdict.REFUSED, reason, message, considered=considered)


def _arn_account(*values: str) -> str:
    accounts = [arn.account for arn in map(parse_arn, values) if arn is not None and arn.account]
    return accounts[0] if accounts else ""


def _name(value: str) -> str:
    return value.rsplit("/", 1)[-1]  # a cluster or service ARN's name: the policy lists names
