"""The EcsReleasePolicy gate of a reconcile pass: decides before any AWS call whether a release may deploy.

Inputs come from kopf indexes (ecsbg.handlers): every policy body and every namespace's labels; the ExternalId is
read from the Secret the matching policy names. The decision itself is domain.decision.decide (pure). A refused
release raises PolicyRefused (an InvalidSpec carrying a specific reason): the reconciler makes no AWS call, sets
the Stalled condition with that reason, emits a `PolicyDenied` Warning and counts it by reason.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ecsbg.domain.arns import placement_errors
from ecsbg.domain.decision import Decision, ReleaseRequest, Verdict, decide
from ecsbg.domain.model import ContainerOverride, ReleaseSpec, RoleSession
from ecsbg.domain.ownership import claim_account
from ecsbg.domain.parsing import InvalidSpec
from ecsbg.domain.policy import InvalidPolicy, NamespaceSelector, Policy, glob_match, parse_policy
from ecsbg.domain.taskdef_template import template_images
from ecsbg.k8s.secrets import SecretReader, SecretUnavailable

logger = logging.getLogger(__name__)


class PromotionPending(InvalidSpec):
    """spec.promoteFrom names a release that is not Succeeded with pinned images (yet): nothing is deployed, the
    release is looked at again on its next poll."""

    reason = "PromotionSourceNotReady"

    def __init__(self, errors: list[str], decision: Decision) -> None:
        super().__init__(errors)
        self.decision = decision


class PolicyRefused(InvalidSpec):
    """Raised for a release no EcsReleasePolicy allows; `reason` is the Stalled condition's reason."""

    def __init__(self, decision: Decision) -> None:
        super().__init__([f"refused by policy ({decision.reason}): {decision.message}"])
        self.reason = decision.reason
        self.decision = decision


@dataclass
class PolicyContext:
    policies: Callable[[], Iterable[Mapping[str, Any]]]  # every EcsReleasePolicy body
    namespace_labels: Callable[[str], Mapping[str, str] | None]  # None: namespace not seen
    secrets: SecretReader
    require_policy: bool = False
    # (namespace, name) -> {phase, attempt, images} of a watched release (kopf index), for spec.promoteFrom
    release_status: Callable[[str, str], Mapping[str, Any] | None] = lambda namespace, name: None


def policies_of(bodies: Iterable[Mapping[str, Any]]) -> list[Policy]:
    """Parsed policies. A policy that cannot be parsed selects nothing but still exists, so a typo in a policy
    never turns "policies exist" into "no policy at all" (which would allow everything)."""
    out = []
    for body in bodies:
        try:
            out.append(parse_policy(body))
        except InvalidPolicy as exc:
            logger.warning("EcsReleasePolicy ignored (allows nothing): %s", exc)
            name = str((body.get("metadata") or {}).get("name"))
            out.append(Policy(name=name, namespace_selector=NamespaceSelector(names=())))
    return out


def release_request(body: Mapping[str, Any], spec: ReleaseSpec) -> ReleaseRequest:
    metadata = body.get("metadata") or {}
    target = dict((body.get("spec") or {}).get("target") or {})
    t = spec.target
    return ReleaseRequest(
        namespace=str(metadata.get("namespace") or ""), name=str(metadata.get("name") or ""),
        region=t.region, cluster=t.cluster, service=t.service, role_arn=t.role_arn,
        arn_account=claim_account({k: v for k, v in target.items() if k in ("cluster", "service")}),
        images=tuple(c.image for c in spec.task_definition.containers if c.image)
        + (template_images(spec.task_definition.template) if spec.task_definition.template else ()),
    )


async def admit(body: Mapping[str, Any], spec: ReleaseSpec, ctx: PolicyContext) -> tuple[ReleaseSpec, Decision]:
    """The spec to deploy (target with the policy's role and session) and the decision; raises PolicyRefused."""
    request = release_request(body, spec)
    decision = decide(request, ctx.namespace_labels(request.namespace), policies_of(ctx.policies()),
                      require_policy=ctx.require_policy)
    if decision.verdict is Verdict.REFUSED:
        raise PolicyRefused(decision)
    if decision.images is not None:
        spec = replace(spec, image_rules=decision.images)
    if decision.registry_credentials:
        spec = replace(spec, registry_credentials=await _registry_credentials(decision, ctx.secrets))
    if decision.verdict is Verdict.NOT_REQUIRED or decision.role_arn is None:
        return spec, decision
    external_id = None
    if decision.external_id is not None:
        ref = decision.external_id
        try:
            external_id = await ctx.secrets.read(namespace=ref.namespace, name=ref.name, key=ref.key)
        except SecretUnavailable as exc:
            refused = replace(decision, verdict=Verdict.REFUSED, reason="ExternalIdUnavailable",
                              message=f"policy {decision.policy}: the ExternalId cannot be read: {exc}")
            raise PolicyRefused(refused) from exc
    session = RoleSession(name=decision.session_name or "", tags=decision.session_tags, external_id=external_id)
    target = replace(spec.target, role_arn=decision.role_arn, session=session)
    admitted = replace(spec, target=target)
    # the parser checked the ARNs against the release's own role; with the policy's role they must agree too
    errors = placement_errors(admitted) if spec.target.role_arn is None else []
    if errors:
        raise InvalidSpec([f"with the role of EcsReleasePolicy {decision.policy} ({decision.role_arn}): {e}"
                           for e in errors])
    return admitted, decision


def promote(body: Mapping[str, Any], spec: ReleaseSpec, decision: Decision, prior: Mapping[str, Any],
            ctx: PolicyContext) -> tuple[ReleaseSpec, dict[str, Any] | None]:
    """spec.promoteFrom: the containers take the source release's pinned images. Read when an attempt starts (the
    spec hash differs from the prior status'), then the images recorded in status.promotedFrom are reused, so a
    later attempt of the source changes nothing for this one. Returns the spec and status.promotedFrom."""
    ref = (body.get("spec") or {}).get("promoteFrom")
    if not isinstance(ref, Mapping) or not ref.get("name"):
        return spec, None
    own = str((body.get("metadata") or {}).get("namespace") or "")
    namespace, name = str(ref.get("namespace") or own), str(ref["name"])
    if namespace != own and not (decision.verdict is Verdict.ALLOWED
                                 and glob_match(namespace, decision.promote_from or ())):
        raise PolicyRefused(replace(decision, verdict=Verdict.REFUSED, reason="PromotionNotAllowed", message=(
            f"spec.promoteFrom names {namespace}/{name}: promoting from namespace {namespace} is not allowed "
            f"(EcsReleasePolicy promoteFrom.namespaces of {decision.policy or 'no policy'}: "
            f"{', '.join(decision.promote_from) or 'none'})")))
    if not spec.task_definition.derived:
        raise InvalidSpec(["spec.promoteFrom: needs spec.taskDefinition.containers (the images are overridden)"])
    recorded = prior.get("promotedFrom") or {}
    if (prior.get("specHash") == spec.spec_hash and recorded.get("namespace") == namespace
            and recorded.get("name") == name and recorded.get("images")):
        block = dict(recorded)
    else:
        source = ctx.release_status(namespace, name) or {}
        if source.get("phase") != "Succeeded" or not source.get("images"):
            raise PromotionPending([f"spec.promoteFrom: {namespace}/{name} has no succeeded attempt with pinned "
                                    f"images (phase {source.get('phase') or 'unknown'}); waiting for it"], decision)
        block = {"namespace": namespace, "name": name, "attempt": source.get("attempt"),
                 "images": [{"container": i["container"], "image": i["image"]} for i in source["images"]]}
    images = {i["container"]: i["image"] for i in block["images"]}
    containers = [replace(c, image=images.pop(c.name, c.image)) for c in spec.task_definition.containers]
    containers += [ContainerOverride(name=n, image=image) for n, image in images.items()]
    return replace(spec, task_definition=replace(spec.task_definition, containers=tuple(containers))), block


async def _registry_credentials(decision: Decision, secrets: SecretReader) -> tuple[tuple[str, str, str], ...]:
    """(registry, username, password) from the policy's kubernetes.io/dockerconfigjson Secrets (`auths` entries with
    username/password or `auth` = base64 of "user:password", the format of imagePullSecrets)."""
    found: list[tuple[str, str, str]] = []
    for ref in decision.registry_credentials:
        try:
            config = json.loads(await secrets.read(namespace=ref.namespace, name=ref.name, key=ref.key))
            for host, entry in (config.get("auths") or {}).items():
                user, password = entry.get("username"), entry.get("password")
                if not user and entry.get("auth"):
                    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                found.append((host.removeprefix("https://").removeprefix("http://").rstrip("/"), str(user),
                              str(password)))
        except (SecretUnavailable, ValueError, AttributeError) as exc:
            refused = replace(decision, verdict=Verdict.REFUSED, reason="RegistryCredentialsUnavailable",
                              message=f"policy {decision.policy}: registry credentials Secret {ref.namespace}/"
                                      f"{ref.name} cannot be used: {exc}")
            raise PolicyRefused(refused) from exc
    return tuple(found)
