"""What starting an attempt would do, found with reads only: the plugin's `plan` and status.plan under
spec.paused (docs/design.md "Plan and pause").

The same functions as a real start (ecsbg.aws.apply, ecsbg.aws.taskdefs) build the requests, so the plan is
what the operator would send: the task definition it would register (or the tagged revision it would reuse),
its difference from the one the service runs, and the UpdateService request. Nothing here writes to AWS:
only DescribeServices, DescribeServiceRevisions, DescribeTaskDefinition and ListTaskDefinitions are called.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecsbg.aws import translate
from ecsbg.aws.apply import current_revisions, describe_service, needs_revisions
from ecsbg.aws.calls import AwsCalls
from ecsbg.aws.preflight import findings as preflight_findings
from ecsbg.aws.taskdefs import (
    TaskDefinitionTags,
    check_images,
    find_tagged_revision,
    must_exist,
    template_request,
)
from ecsbg.domain import taskdefs
from ecsbg.domain.model import FINISHED_STATUSES, ReleaseSpec, Target
from ecsbg.domain.preflight import Finding, PreflightMode

READS = ("DescribeServices", "DescribeServiceRevisions", "DescribeTaskDefinition", "ListTaskDefinitions")

NEXT_REVISION = "(the next revision of {family})"


@dataclass(frozen=True)
class StartPlan:
    """`task_definition` is "Register" (a new revision), "Reuse" (a revision registered earlier for the same
    content, by its ecsbg.dev/taskdef-hash tag) or "Given" (spec.taskDefinition.arn)."""

    service: str
    running: str | None  # the task definition the service runs now
    task_definition: str
    task_definition_arn: str | None  # None when it would be registered
    register: dict[str, Any] | None  # the RegisterTaskDefinition request, when registering
    diff: tuple[str, ...]  # unified diff: running -> deployed (registrable fields, sorted JSON)
    update_service: dict[str, Any]
    notes: tuple[str, ...] = ()
    preflight: tuple[Finding, ...] | None = None  # spec.preflight's findings; None: Off, or no ELBv2 client

    def to_dict(self, *, max_diff_lines: int | None = None) -> dict[str, Any]:
        diff = list(self.diff)
        if max_diff_lines is not None and len(diff) > max_diff_lines:
            diff = diff[:max_diff_lines] + [f"... {len(self.diff) - max_diff_lines} more lines (kubectl ecsrelease plan)"]
        out: dict[str, Any] = {"service": self.service, "runningTaskDefinition": self.running,
                               "taskDefinition": {"action": self.task_definition}, "diff": "\n".join(diff),
                               "updateService": self.update_service}
        if self.task_definition_arn:
            out["taskDefinition"]["arn"] = self.task_definition_arn
        if self.notes:
            out["notes"] = list(self.notes)
        if self.preflight is not None:
            out["preflight"] = {"passed": not self.preflight,
                                "findings": [{"code": f.code, "message": f.message} for f in self.preflight]}
        return out


def plan_start(calls: AwsCalls, tags: TaskDefinitionTags, spec: ReleaseSpec, *, base: str | None = None,
               scan_limit: int = 10, elbv2: AwsCalls | None = None) -> StartPlan:
    """`base`: the task definition the `containers` form derives from (default: the one the service runs);
    `elbv2`: with spec.preflight Warn or Enforce, what the pre-flight would find now (reads only)."""
    described = describe_service(calls, spec.target)
    revisions = current_revisions(calls, described) if needs_revisions(spec, described) else []
    request = translate.update_service_request(spec, described, "", False, revisions)
    running = described.get("taskDefinition")
    kind, arn, register, content, notes = _task_definition(calls, tags, spec, base or running, scan_limit)
    template = spec.task_definition.template
    family = str(template.get("family")) if template else translate.task_definition_family(arn or base or running or "")
    request["taskDefinition"] = arn or NEXT_REVISION.format(family=family)
    if arn is not None and translate.same_task_definition(arn, running):
        request["forceNewDeployment"] = True
        notes.append("the service already runs this task definition: forceNewDeployment starts a deployment")
    before = tags.content(calls, running) if running else {}
    diff = _diff(before, content, running or "(none)", arn or request["taskDefinition"])
    found = None
    if elbv2 is not None and spec.preflight is not PreflightMode.OFF:
        current = describe_deployment(calls, described.get("currentServiceDeployment"))
        found = preflight_findings(calls, elbv2, request, described, settled=current in (None, *FINISHED_STATUSES))
    return StartPlan(service=str(described.get("serviceArn") or _name(spec.target)), running=running,
                     task_definition=kind, task_definition_arn=arn, register=register, diff=diff,
                     update_service=request, notes=tuple(notes), preflight=found)


def describe_deployment(calls: AwsCalls, arn: str | None) -> str | None:
    """The status of the service's current deployment (None: none)."""
    if not arn:
        return None
    found = calls.call("DescribeServiceDeployments", serviceDeploymentArns=[arn]).get("serviceDeployments", [])
    return found[0].get("status") if found else None


def _task_definition(calls: AwsCalls, tags: TaskDefinitionTags, spec: ReleaseSpec, base: str | None,
                     scan_limit: int) -> tuple[str, str | None, dict[str, Any] | None, dict[str, Any], list[str]]:
    source, rules, notes = spec.task_definition, spec.image_rules, []
    if source.arn is not None:
        must_exist(calls, tags, source.arn)
        if rules is not None:
            check_images(tags.describe(calls, source.arn)["taskDefinition"], rules, source.arn)
        return "Given", source.arn, None, tags.content(calls, source.arn), notes
    if source.template is not None:
        wanted = taskdefs.content_hash(source.template)
        request = template_request(source.template, wanted)
        if rules is not None:
            check_images(request, rules, "spec.taskDefinition.template")
        existing = find_tagged_revision(calls, tags, str(source.template.get("family")), wanted, scan_limit)
        if existing is not None:
            return "Reuse", existing, None, tags.content(calls, existing), notes
        return "Register", None, request, taskdefs.registrable(request), notes
    if base is None:
        raise translate.RequestBuildError("InvalidServiceConfiguration", "no base task definition to derive from")
    described = tags.describe(calls, base)
    wanted = taskdefs.content_hash(translate.register_task_definition_request(described, source, ""))
    request = translate.register_task_definition_request(described, source, wanted)
    if rules is not None:
        check_images(request, rules, f"the task definition rendered from {base}")
        if rules.resolve_digests:
            notes.append("EcsReleasePolicy images.resolveDigests: each image is pinned to its digest at the start")
    existing = find_tagged_revision(calls, tags, translate.task_definition_family(base), wanted, scan_limit)
    if existing is not None:
        return "Reuse", existing, None, tags.content(calls, existing), notes
    return "Register", None, request, taskdefs.registrable(request), notes


def _diff(before: Mapping[str, Any], after: Mapping[str, Any], old: str, new: str) -> tuple[str, ...]:
    def lines(content: Mapping[str, Any]) -> list[str]:
        return json.dumps(content, indent=2, sort_keys=True, default=str).splitlines()

    return tuple(difflib.unified_diff(lines(before), lines(after), fromfile=old, tofile=new, lineterm="", n=2))


def _name(target: Target) -> str:
    return f"{target.cluster}/{target.service}"
