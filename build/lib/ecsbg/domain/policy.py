"""The EcsReleasePolicy model and its parser (docs/api.md "EcsReleasePolicy").

A policy says which namespaces (who) may deploy to which accounts, regions, clusters and services (where), through
which role (how). It is shaped after ACK's IAMRoleSelector (`namespaceSelector: {names, labelSelector}` and a role
ARN), so AWS-on-Kubernetes users recognise it; the decision is domain.decision.decide.

Target lists hold exact names or shell-style globs (`team-a-*`); an absent list allows any value, an empty list
allows none. Pure: no Kubernetes or AWS here.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecsbg.domain.arns import parse_arn
from ecsbg.domain.images import ImageRules

KIND = "EcsReleasePolicy"
PLURAL = "ecsreleasepolicies"
LABEL_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


class InvalidPolicy(ValueError):
    """A policy that cannot be used: it allows nothing (a broken allow-list never widens access)."""


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # NotIn, as Kubernetes label selectors


@dataclass(frozen=True)
class NamespaceSelector:
    """Like ACK's: `names` and/or a label selector; both given = both must match; neither = every namespace."""

    names: tuple[str, ...] | None = None
    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[LabelRequirement, ...] = ()
    has_label_selector: bool = False

    def selects(self, namespace: str, labels: Mapping[str, str] | None) -> bool:
        if self.names is not None and not any(fnmatch.fnmatchcase(namespace, n) for n in self.names):
            return False
        if not self.has_label_selector:
            return True
        if labels is None:  # labels unknown (namespace not seen yet): a label selector cannot match
            return False
        return (all(labels.get(k) == v for k, v in self.match_labels)
                and all(r.matches(labels) for r in self.expressions))


@dataclass(frozen=True)
class SecretKeyRef:
    namespace: str
    name: str
    key: str


@dataclass(frozen=True)
class TargetRules:
    """None: any value; a tuple: exact names or globs."""

    accounts: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None
    clusters: tuple[str, ...] | None = None
    services: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RoleRule:
    arn: str
    external_id: SecretKeyRef | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    namespace_selector: NamespaceSelector
    targets: TargetRules = field(default_factory=TargetRules)
    role: RoleRule | None = None
    images: ImageRules = field(default_factory=ImageRules)
    promote_from: tuple[str, ...] = ()
    # Secrets of type kubernetes.io/dockerconfigjson with the credentials digest resolution uses for non-ECR registries
    registry_credentials: tuple[SecretKeyRef, ...] = ()  # namespaces whose releases this policy's releases may promote from


def glob_match(value: str, patterns: tuple[str, ...] | None) -> bool:
    return patterns is None or any(fnmatch.fnmatchcase(value, p) for p in patterns)


def parse_policy(body: Mapping[str, Any]) -> Policy:
    """Raises InvalidPolicy naming the field; the operator then ignores the policy (and reports it)."""
    name = str((body.get("metadata") or {}).get("name") or "")
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        raise InvalidPolicy(f"{name}: spec must be an object")
    selector = spec.get("namespaceSelector")
    if not isinstance(selector, Mapping):
        raise InvalidPolicy(f"{name}: spec.namespaceSelector is required")
    return Policy(
        name=name,
        namespace_selector=_selector(name, selector),
        targets=_targets(name, spec.get("targets") or {}),
        role=_role(name, spec.get("role")),
        images=_images(name, spec.get("images") or {}),
        promote_from=_strings(name, "spec.promoteFrom.namespaces", (spec.get("promoteFrom") or {}).get("namespaces"))
        or (),
        registry_credentials=_registry_credentials(name, (spec.get("images") or {}).get("registryCredentials")),
    )


def _strings(policy: str, path: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidPolicy(f"{policy}: {path} must be a list of non-empty strings")
    return tuple(value)


def _selector(policy: str, raw: Mapping[str, Any]) -> NamespaceSelector:
    labels = raw.get("labelSelector")
    if labels is not None and not isinstance(labels, Mapping):
        raise InvalidPolicy(f"{policy}: spec.namespaceSelector.labelSelector must be an object")
    labels = labels or {}
    match = labels.get("matchLabels") or {}
    if not isinstance(match, Mapping):
        raise InvalidPolicy(f"{policy}: matchLabels must be a map of strings")
    expressions = []
    for i, expr in enumerate(labels.get("matchExpressions") or []):
        op = expr.get("operator") if isinstance(expr, Mapping) else None
        if op not in LABEL_OPERATORS or not isinstance(expr.get("key"), str):
            raise InvalidPolicy(f"{policy}: matchExpressions[{i}] needs a key and an operator in {LABEL_OPERATORS}")
        values = _strings(policy, f"matchExpressions[{i}].values", expr.get("values")) or ()
        if (op in ("In", "NotIn")) != bool(values):
            raise InvalidPolicy(f"{policy}: matchExpressions[{i}]: In/NotIn need values, Exists/DoesNotExist none")
        expressions.append(LabelRequirement(expr["key"], op, values))
    return NamespaceSelector(
        names=_strings(policy, "spec.namespaceSelector.names", raw.get("names")),
        match_labels=tuple(sorted((str(k), str(v)) for k, v in match.items())),
        expressions=tuple(expressions),
        has_label_selector=bool(match or expressions),
    )


def _targets(policy: str, raw: Any) -> TargetRules:
    if not isinstance(raw, Mapping):
        raise InvalidPolicy(f"{policy}: spec.targets must be an object")
    return TargetRules(**{k: _strings(policy, f"spec.targets.{k}", raw.get(k))
                          for k in ("accounts", "regions", "clusters", "services")})


def _role(policy: str, raw: Any) -> RoleRule | None:
    if raw is None:
        return None
    arn = raw.get("arn") if isinstance(raw, Mapping) else None
    if not isinstance(arn, str) or not _ROLE_ARN.match(arn):
        raise InvalidPolicy(f"{policy}: spec.role.arn must be an IAM role ARN, got {arn!r}")
    ref = raw.get("externalIdSecretRef")
    if ref is None:
        return RoleRule(arn)
    if not isinstance(ref, Mapping) or not all(isinstance(ref.get(k), str) and ref.get(k) for k in ("namespace", "name")):
        raise InvalidPolicy(f"{policy}: spec.role.externalIdSecretRef needs namespace and name")
    return RoleRule(arn, SecretKeyRef(ref["namespace"], ref["name"], str(ref.get("key") or "externalId")))


def _images(policy: str, raw: Any) -> ImageRules:
    if not isinstance(raw, Mapping):
        raise InvalidPolicy(f"{policy}: spec.images must be an object")
    return ImageRules(
        require_digest=bool(raw.get("requireDigest", False)),
        forbidden_tags=_strings(policy, "spec.images.forbiddenTags", raw.get("forbiddenTags")) or (),
        registries=_strings(policy, "spec.images.registries", raw.get("registries")),
        resolve_digests=bool(raw.get("resolveDigests", False)),
    )


def _registry_credentials(policy: str, raw: Any) -> tuple[SecretKeyRef, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(r, Mapping) and r.get("namespace") and r.get("name")
                                            for r in raw):
        raise InvalidPolicy(f"{policy}: spec.images.registryCredentials must list {{namespace, name}} of Secrets")
    return tuple(SecretKeyRef(str(r["namespace"]), str(r["name"]), ".dockerconfigjson") for r in raw)


def role_account(role_arn: str | None) -> str:
    arn = parse_arn(role_arn)
    return arn.account if arn is not None and arn.account else ""
