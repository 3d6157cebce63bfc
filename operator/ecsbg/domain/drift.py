"""Drift: what ECS runs compared with what the release deployed (docs/design.md "Drift").

Pure comparisons of what the AWS layer read (Observation: the service's task definition, the members of its
deploymentConfiguration and loadBalancers the release owns, the revision serving production) with what the
spec renders. The same comparison answers two questions:
- `drift`: on an idle poll of a Succeeded release, does ECS still run what the last successful attempt deployed?
- `already_running`: before starting an attempt, does ECS already run exactly what the spec asks? (No surprise
  redeploys: a Git revert to what runs starts no deployment.)
Task definitions are equal when their ARNs name the same revision or their registrable content is the same
(domain.taskdefs.content_hash): `web:4` registered from a revert equals `web:2`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ecsbg.domain.hashing import canonical_json
from ecsbg.domain.model import Difference, HookSpec, LoadBalancerSpec, ReleaseSpec, ReleaseStatus
from ecsbg.domain.observation import Observation, ObservedDeployment, RevisionSummary, RunningConfig

TASK_DEFINITION = "taskDefinition"
PRIMARY_REVISION = "primaryRevision"
STRATEGY = "deploymentConfiguration.strategy"
BAKE_TIME = "deploymentConfiguration.bakeTimeInMinutes"
LINEAR = "deploymentConfiguration.linearConfiguration"
CANARY = "deploymentConfiguration.canaryConfiguration"
HOOKS = "deploymentConfiguration.lifecycleHooks"
ALARMS = "deploymentConfiguration.alarms"
CIRCUIT_BREAKER = "deploymentConfiguration.deploymentCircuitBreaker"
ADVANCED = "loadBalancers.advancedConfiguration"
FIELDS = (TASK_DEFINITION, PRIMARY_REVISION, STRATEGY, BAKE_TIME, LINEAR, CANARY, HOOKS, ALARMS, CIRCUIT_BREAKER,
          ADVANCED)  # the metric's `field` label values
FINISHED_BACK = frozenset({"ROLLBACK_SUCCESSFUL", "STOPPED", "ROLLBACK_FAILED"})


def drift(spec: ReleaseSpec, obs: Observation, status: ReleaseStatus) -> tuple[Difference, ...]:
    """Where ECS differs from what `status`'s attempt deployed. The caller asks only for an idle Succeeded
    release whose spec is the one deployed, so the spec says what the attempt deployed besides the task
    definition, which status.target records."""
    service = obs.service
    deployed = status.target.task_definition_arn if status.target else None
    if service is None or not deployed:
        return ()
    out: list[Difference] = []
    if not same_task_definition(service.task_definition_arn, deployed, obs.taskdef_hashes):
        out.append(Difference(TASK_DEFINITION, short(service.task_definition_arn), short(deployed)))
    serving = serving_revision(obs.current)
    if serving is not None and serving.task_definition_arn and not (
            (status.target and serving.arn == status.target.revision_arn)
            or same_task_definition(serving.task_definition_arn, deployed, obs.taskdef_hashes)):
        out.append(Difference(PRIMARY_REVISION, _revision(serving.arn, serving.task_definition_arn),
                              _revision(status.target.revision_arn if status.target else None, deployed)))
    if service.config is not None:
        out += config_differences(spec, service.config)
    return tuple(out)


def already_running(spec: ReleaseSpec, obs: Observation, wanted_hash: str | None) -> bool:
    """ECS runs exactly what the spec asks: the same task definition (the `arn`, or content equal to the
    rendered `containers` form, `wanted_hash`) and the same deployment configuration and load balancer
    advanced configuration, with no deployment in flight. Then starting an attempt would deploy nothing new."""
    service = obs.service
    if service is None or service.config is None:
        return False
    if obs.current is not None and obs.current.status not in ("SUCCESSFUL", *FINISHED_BACK):
        return False  # ECS is deploying something: let that finish first
    running = service.task_definition_arn
    if spec.task_definition.arn is not None:
        same = same_task_definition(running, spec.task_definition.arn, obs.taskdef_hashes)
    else:
        same = wanted_hash is not None and obs.taskdef_hashes.get(running) == wanted_hash
    return same and not config_differences(spec, service.config)


def config_differences(spec: ReleaseSpec, running: RunningConfig) -> list[Difference]:
    """The deploymentConfiguration and loadBalancers members the release owns (aws.translate sends them)."""
    out: list[Difference] = []
    strategy = spec.strategy
    _differ(out, STRATEGY, running.strategy, strategy.type.ecs)
    _differ(out, BAKE_TIME, running.bake_time_minutes, strategy.bake_time_minutes)
    if strategy.type.ecs == "LINEAR":
        _differ(out, LINEAR, _pair(running.linear), _pair((strategy.step_percent, strategy.step_bake_time_minutes)))
    if strategy.type.ecs == "CANARY":
        _differ(out, CANARY, _pair(running.canary),
                _pair((strategy.canary_percent, strategy.canary_bake_time_minutes)))
    if not _same_hooks(spec.hooks, running.hooks):
        out.append(Difference(HOOKS, _hooks(running.hooks), _hooks(spec.hooks)))
    if spec.alarms is not None and _alarms(running.alarms) != _alarms(spec.alarms):  # names sorted: a set
        out.append(Difference(ALARMS, _alarms(running.alarms), _alarms(spec.alarms)))
    if spec.circuit_breaker is not None and _breaker(running.circuit_breaker) != _breaker(spec.circuit_breaker):
        out.append(Difference(CIRCUIT_BREAKER, _breaker(running.circuit_breaker), _breaker(spec.circuit_breaker)))
    by_group = {lb.target_group_arn: lb for lb in running.load_balancers}
    for lb in spec.load_balancers:
        have = by_group.get(lb.target_group_arn)
        if have != lb:  # compared whole: two listener rules may share a display name
            out.append(Difference(ADVANCED, _advanced(have), _advanced(lb), key=_name(lb.target_group_arn)))
    return out


def same_task_definition(a: str | None, b: str | None, hashes: Mapping[str, str]) -> bool:
    """The same revision (a full ARN and `family:revision` too), or two revisions with the same content."""
    if not a or not b:
        return False
    if a == b or (":" in short(a) and short(a) == short(b)):
        return True
    return hashes.get(a) is not None and hashes.get(a) == hashes.get(b)


def serving_revision(current: ObservedDeployment | None) -> RevisionSummary | None:
    """The revision serving production after (or during) ECS's current deployment: its target when it
    succeeded, the source it went back to after a rollback or stop, and while in flight the one holding most of
    the production traffic."""
    if current is None:
        return None
    source = current.source_revisions[0] if current.source_revisions else None
    target = current.target_revision
    if current.status == "SUCCESSFUL":
        return target
    if current.status in FINISHED_BACK:
        return source
    if target is not None and (target.production_weight or 0) >= 50:
        return target
    return source


def short(arn: str | None) -> str:
    """arn:aws:ecs:...:task-definition/web:42 -> web:42."""
    return (arn or "none").rsplit("/", 1)[-1]


# ------------------------------------------------------------------------------------------------- helpers


def _differ(out: list[Difference], name: str, running: object, expected: object) -> None:
    if running != expected:
        out.append(Difference(name, _text(running), _text(expected)))


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pair(value: tuple[float | None, int | None] | None) -> str:
    if value is None:
        return "none"
    return f"{_text(value[0])}% every {_text(value[1])} min"


def _revision(arn: str | None, task_definition: str | None) -> str:
    return f"{_name(arn) if arn else 'unknown revision'} ({short(task_definition)})"


def _name(arn: str) -> str:
    """The last path segment naming an ARN's resource: ...:targetgroup/web-blue/0123 -> web-blue."""
    parts = arn.split("/")
    return parts[1] if len(parts) >= 3 and "targetgroup" in parts[0] else parts[-1]


def _hook_key(hook: HookSpec, with_timeout: bool) -> str:
    # `analysis` is the operator's, not ECS's: ECS never describes it, so it takes no part in the comparison
    plain = replace(hook, stages=tuple(sorted(hook.stages)), analysis=None)
    if not with_timeout:
        plain = replace(plain, timeout_minutes=None, timeout_action=None)
    return canonical_json({**plain.__dict__, "hook_details": dict(plain.hook_details or {}) or None})


def _same_hooks(wanted: tuple[HookSpec, ...], running: tuple[HookSpec, ...]) -> bool:
    """Hooks match as a multiset. A spec hook without a timeout matches whatever timeout ECS describes (its
    default); one with a timeout must match it exactly."""
    left = list(running)
    for hook in wanted:
        match = next((r for r in left if _hook_key(r, False) == _hook_key(hook, False) and (
            hook.timeout_minutes is None and hook.timeout_action is None
            or _hook_key(r, True) == _hook_key(hook, True))), None)
        if match is None:
            return False
        left.remove(match)
    return not left


def _hooks(hooks: tuple[HookSpec, ...]) -> str:
    if not hooks:
        return "none"
    parts = []
    for h in hooks:
        what = h.type if h.function_arn is None else f"{h.type} {h.function_arn.rsplit(':', 1)[-1]}"
        parts.append(f"{what} at {'+'.join(sorted(h.stages))}")
    return ", ".join(sorted(parts))


def _alarms(alarms: object) -> str:
    if alarms is None:
        return "none"
    names = ",".join(sorted(getattr(alarms, "names", ())))
    return f"[{names}] enable={getattr(alarms, 'enable', None)} rollback={getattr(alarms, 'rollback', None)}"


def _breaker(breaker: object) -> str:
    if breaker is None:
        return "none"
    return f"enable={getattr(breaker, 'enable', None)} rollback={getattr(breaker, 'rollback', None)}"


def _advanced(lb: LoadBalancerSpec | None) -> str:
    if lb is None:
        return "none"
    parts = [f"alternate {_name(lb.alternate_target_group_arn)}", f"production rule {short(lb.production_listener_rule)}"]
    if lb.test_listener_rule:
        parts.append(f"test rule {short(lb.test_listener_rule)}")
    parts.append(f"role {short(lb.role_arn)}")
    return ", ".join(parts)
