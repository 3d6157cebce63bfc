"""`kubectl ecsrelease plan`: what the next attempt of a release would send to ECS, without writing anything.

The release comes from a file (`-f`, what Git holds) or from the cluster (NAME). The plan is ecsbg.aws.plan's,
the operator's own request builders, run with the caller's AWS credentials (the release's target.roleArn is
assumed as the operator would, unless --no-assume-role). An EcsReleasePolicy (its role, image rules, digest
pinning) is applied by the operator, not here: status.plan under spec.paused shows the plan with the policy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import yaml

from ecsbg.plugin.kube import PluginError

KIND = "EcsBlueGreenRelease"


def release_from_file(path: Path, name: str | None) -> dict[str, Any]:
    """The file's EcsBlueGreenRelease (the one named `name` when it holds several)."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind") == KIND]
    except (OSError, yaml.YAMLError) as error:
        raise PluginError(f"reading {path}: {error}") from None
    if name is not None:
        documents = [d for d in documents if (d.get("metadata") or {}).get("name") == name]
    if len(documents) != 1:
        what = f" named {name}" if name else ""
        raise PluginError(f"{path}: expected one {KIND}{what}, found {len(documents)} (name one with NAME)")
    return documents[0]


def plan_release(body: Mapping[str, Any], *, assume_role: bool = True) -> tuple[Any, Any]:
    """(spec, StartPlan) for the release body; PluginError with every field error of an invalid spec."""
    from ecsbg.aws.calls import AwsError
    from ecsbg.aws.observer import client_key
    from ecsbg.aws.plan import plan_start
    from ecsbg.aws.session import ClientFactory, ClientKey, ClientSettings
    from ecsbg.aws.taskdefs import TaskDefinitionTags
    from ecsbg.aws.translate import RequestBuildError
    from ecsbg.domain.parsing import InvalidSpec, parse_release
    from ecsbg.metrics.recorder import NullRecorder

    try:
        spec = parse_release(body)
    except InvalidSpec as error:
        raise PluginError("invalid spec: " + "; ".join(error.errors)) from None
    key = client_key(spec.target) if assume_role else ClientKey(region=spec.target.region)
    # the operator's endpoint variable, so a plan can be taken against the local emulator like the demo
    factory = ClientFactory(NullRecorder(), ClientSettings(endpoint_url=os.environ.get("ECSBG_AWS_ENDPOINT_URL")))
    try:
        return spec, plan_start(factory.ecs(key), TaskDefinitionTags(), spec, elbv2=factory.elbv2(key))
    except AwsError as error:
        problem = error.problem
        raise PluginError(f"{problem.operation or 'AWS call'} failed with {problem.code}: {problem.message}") from None
    except RequestBuildError as error:
        raise PluginError(f"{error.code}: {error}") from None


def render_plan(body: Mapping[str, Any], spec: Any, plan: Any, out: TextIO, *, as_json: bool) -> None:
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    if as_json:
        out.write(json.dumps({"release": f"{meta.get('namespace', '')}/{meta.get('name', '')}".lstrip("/"),
                              "specHash": spec.spec_hash, "unchanged": status.get("specHash") == spec.spec_hash,
                              **plan.to_dict()}, indent=2) + "\n")
        return
    name = meta.get("name", "?")
    attempt = int(status.get("attempt") or 0)
    if not status:
        out.write(f"{name}: not in the cluster (or not read): its first attempt would start (spec "
                  f"{spec.spec_hash})\n")
    elif status.get("specHash") == spec.spec_hash:
        out.write(f"{name}: the spec is the one attempt {attempt} deployed: the operator starts no new attempt "
                  f"(a retry, ecsbg.dev/retry={attempt}, would do what follows)\n")
    else:
        out.write(f"{name}: attempt {attempt + 1} would start (spec {spec.spec_hash})\n")
    out.write(f"service: {plan.service}\nrunning task definition: {plan.running or '(none)'}\n")
    what = {"Register": "register a new revision", "Reuse": f"reuse {plan.task_definition_arn} (same content, "
            "registered earlier)", "Given": f"deploy {plan.task_definition_arn} (spec.taskDefinition.arn)"}
    out.write(f"task definition: {what[plan.task_definition]}\n")
    out.write("\n".join(plan.diff) + "\n" if plan.diff else "(no difference from the running task definition)\n")
    out.write("UpdateService request:\n" + json.dumps(plan.update_service, indent=2) + "\n")
    for note in plan.notes:
        out.write(f"note: {note}\n")
    if plan.preflight is not None:
        mode = spec.preflight.value
        if not plan.preflight:
            out.write(f"pre-flight ({mode}): passed\n")
        for finding in plan.preflight:
            verdict = "would refuse the attempt" if mode == "Enforce" else "would warn"
            out.write(f"pre-flight ({mode}) {verdict}: {finding.code}: {finding.message}\n")
    out.write("nothing was written to AWS (reads only: DescribeServices, DescribeTaskDefinition, "
              "ListTaskDefinitions)\n")
