"""Everything in status except the phase: which attempt, which deployment, and what ECS says about it.

Only the deployment of the current attempt is mirrored (stage, hooks, traffic, revisions). A new attempt clears
them; the previous attempt's `deployment` block stays until the new one is started (docs/design.md, intent step).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ecsbg.domain.actions import AdoptDeployment, ApplyResult, RecordIntent, ReuseRunning, StartDeployment
from ecsbg.domain.model import (
    FINISHED_STATUSES,
    DeploymentRecord,
    HookDetail,
    Observation,
    ObservedDeployment,
    ReleaseSpec,
    ReleaseStatus,
    RevisionRecord,
    StageRecord,
)

MAX_STAGES = 64  # a 3% linear deployment visits ~100 stages; keep the newest so status stays small
MAX_HOOKS = 50  # ECS allows 10 pause + 10 Lambda hooks, several executions each for linear/canary steps


@dataclass(frozen=True)
class Progress:
    """The current attempt and its deployment, as far as this reconcile knows."""

    status: ReleaseStatus  # prior with every field but phase/message/conditions/observedGeneration updated
    observed: ObservedDeployment | None  # ECS's view of the current attempt's deployment, when there is one
    started_now: bool  # the deployment was started or adopted by this reconcile's action


def progress(spec: ReleaseSpec, obs: Observation, action: object, result: ApplyResult | None,
             prior: ReleaseStatus, now: datetime) -> Progress:
    fresh = isinstance(action, RecordIntent)
    attempt = action.attempt if fresh else prior.attempt
    record, observed, started = _deployment(obs, action, result, prior, attempt)
    base = replace(prior, attempt=attempt)
    if fresh:
        base = replace(base, spec_hash=action.spec_hash, base_task_definition_arn=action.base_task_definition_arn,
                       stage=None, stages=(), hooks=(), source=None, target=None, production_traffic=None,
                       test_traffic=None, revision=_short(spec.task_definition.arn))
    base = replace(base, deployment=record)
    if isinstance(action, ReuseRunning):  # nothing deployed: what runs is the attempt's target
        return Progress(status=replace(base, stage=None, stages=(), hooks=(), production_traffic=None,
                                       test_traffic=None, target=RevisionRecord(action.revision_arn,
                                                                                action.task_definition_arn),
                                       revision=_short(action.task_definition_arn)), observed=None, started_now=False)
    if started and observed is None:  # started now, ECS not read yet: nothing of the old attempt is current
        base = replace(base, stage=None, hooks=(), source=None, target=None, production_traffic=None,
                       test_traffic=None, revision=_short(result.task_definition_arn if result else None)
                       or base.revision)
    if observed is not None:
        base = _mirror(base, observed, now)
    return Progress(status=base, observed=observed, started_now=started)


def _deployment(obs: Observation, action: object, result: ApplyResult | None, prior: ReleaseStatus,
                attempt: int) -> tuple[DeploymentRecord | None, ObservedDeployment | None, bool]:
    """(deployment record, ECS's view of the current attempt's deployment, started by this action)."""
    arn = None
    if isinstance(action, ReuseRunning):
        return DeploymentRecord(attempt, arn=action.current_deployment_arn or "", status="", reused=True), None, False
    if isinstance(action, AdoptDeployment):
        arn = action.deployment_arn
    elif isinstance(action, StartDeployment) and result is not None and result.problem is None:
        arn = result.deployment_arn
    if arn:
        observed = _find(obs, arn)
        return _record(attempt, observed) if observed else DeploymentRecord(attempt, arn, "PENDING"), observed, True
    recorded = prior.deployment
    if recorded is None or recorded.reused:
        return recorded, None, False
    observed = _find(obs, recorded.arn)
    record = _record(recorded.attempt, observed) if observed else recorded
    return record, (observed if recorded.attempt == attempt else None), False


def _mirror(status: ReleaseStatus, d: ObservedDeployment, now: datetime) -> ReleaseStatus:
    target = d.target_revision
    source = d.source_revisions[0] if d.source_revisions else None
    return replace(
        status,
        stage=d.lifecycle_stage,
        stages=_stages(status.stages, d, now),
        hooks=_hooks(status.hooks, d),
        source=RevisionRecord(source.arn, source.task_definition_arn) if source else status.source,
        target=RevisionRecord(target.arn, target.task_definition_arn) if target else status.target,
        production_traffic=target.production_weight if target else None,
        test_traffic=target.test_weight if target else None,
        revision=_short(target.task_definition_arn if target else None) or status.revision,
    )


def _stages(history: tuple[StageRecord, ...], d: ObservedDeployment, now: datetime) -> tuple[StageRecord, ...]:
    """Append on a stage change (closing the previous one); close the last one when the deployment ends."""
    out = list(history)
    if d.lifecycle_stage and (not out or out[-1].stage != d.lifecycle_stage):
        if out and out[-1].finished_at is None:
            out[-1] = replace(out[-1], finished_at=now)
        out.append(StageRecord(stage=d.lifecycle_stage, started_at=now))
    if d.status in FINISHED_STATUSES and out and out[-1].finished_at is None:
        # a stage first seen in the same poll that saw the end: never finish before it started
        out[-1] = replace(out[-1], finished_at=max(d.finished_at or now, out[-1].started_at))
    return tuple(out[-MAX_STAGES:])


def _hooks(known: tuple[HookDetail, ...], d: ObservedDeployment) -> tuple[HookDetail, ...]:
    """ECS does not say at which stage a hook runs: keep the stage it was first seen at. Hooks ECS stops
    listing stay, so the status keeps the record of every pause that was approved or rejected."""
    by_id = {h.hook_id: h for h in known}
    order = [h.hook_id for h in known]
    for hook in d.hooks:
        first_seen = by_id.get(hook.hook_id)
        # the stage first recorded wins: the AWS layer stamps each hook with the stage of every later poll too
        stage = (first_seen.stage if first_seen else None) or hook.stage or d.lifecycle_stage
        if first_seen is None:
            order.append(hook.hook_id)
        by_id[hook.hook_id] = replace(hook, stage=stage)
    return tuple(by_id[i] for i in order)[-MAX_HOOKS:]


def _find(obs: Observation, arn: str) -> ObservedDeployment | None:
    return next((d for d in (obs.tracked, obs.current) if d is not None and d.arn == arn), None)


def _record(attempt: int, d: ObservedDeployment) -> DeploymentRecord:
    return DeploymentRecord(attempt=attempt, arn=d.arn, status=d.status, status_reason=d.status_reason,
                            started_at=d.started_at or d.created_at, finished_at=d.finished_at,
                            rollback_reason=d.rollback_reason)


def _short(task_definition_arn: str | None) -> str | None:
    """arn:aws:ecs:eu-west-1:1:task-definition/web:42 -> web:42 (the Revision printer column)."""
    if not task_definition_arn:
        return None
    return task_definition_arn.rsplit("task-definition/", 1)[-1]
