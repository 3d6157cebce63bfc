"""Everything in status except the phase: which attempt, which deployment, and what ECS says about it.

Only the deployment of the current attempt is mirrored (stage, hooks, traffic, revisions); the stage history is
domain.stagepath's, hook attribution domain.hookstages'. `revision` is what serves production, `targetRevision`
what the attempt deploys. A new attempt clears them (but the serving revision) and records when it started
(`attemptStartedAt`) and ECS's deployment at that moment (`baseDeploymentArn`, for domain.planning to tell the
attempt's own deployment from older ones); the previous attempt's `deployment` block stays until the new one is
started (docs/design.md, intent step).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ecsbg.domain import hookstages, stagepath
from ecsbg.domain.actions import AdoptDeployment, ApplyResult, RecordIntent, ReuseRunning, StartDeployment
from ecsbg.domain.model import FINISHED_STATUSES, DeploymentRecord, ReleaseSpec, ReleaseStatus, RevisionRecord
from ecsbg.domain.observation import Observation, ObservedDeployment


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
        base = _intent(base, spec, obs, action, now)
    base = replace(base, deployment=record)
    if isinstance(action, ReuseRunning):  # nothing deployed: what runs is the attempt's target
        return Progress(status=replace(base, stage=None, stages=(), step=None, hooks=(), production_traffic=None,
                                       test_traffic=None, target=RevisionRecord(action.revision_arn,
                                                                                action.task_definition_arn),
                                       revision=_short(action.task_definition_arn),
                                       target_revision=_short(action.task_definition_arn)),
                        observed=None, started_now=False)
    if started and observed is None:  # started now, ECS not read yet: nothing of the old attempt is current
        base = replace(base, stage=None, step=None, hooks=(), source=None, target=None, production_traffic=None,
                       test_traffic=None, target_revision=_short(result.task_definition_arn if result else None)
                       or base.target_revision)
    if observed is not None:
        base = _mirror(base, spec, observed, now)
    return Progress(status=base, observed=observed, started_now=started)


def _intent(base: ReleaseStatus, spec: ReleaseSpec, obs: Observation, action: RecordIntent,
            now: datetime) -> ReleaseStatus:
    """A new attempt: what it deploys, when it started and from what (ECS's service at this moment)."""
    service = obs.service
    return replace(base, spec_hash=action.spec_hash, base_task_definition_arn=action.base_task_definition_arn,
                   attempt_started_at=now, base_deployment_arn=service.current_deployment_arn if service else None,
                   stage=None, stages=(), step=None, hooks=(), source=None, target=None, production_traffic=None,
                   test_traffic=None, target_revision=_short(spec.task_definition.arn),
                   revision=base.revision or _short(service.task_definition_arn if service else None))


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
        adopted = isinstance(action, AdoptDeployment)
        observed = _find(obs, arn)
        record = _record(attempt, observed, adopted) if observed else DeploymentRecord(attempt, arn, "PENDING",
                                                                                        adopted=adopted)
        return record, observed, True
    recorded = prior.deployment
    if recorded is None or recorded.reused:
        return recorded, None, False
    observed = _find(obs, recorded.arn)
    record = _record(recorded.attempt, observed, recorded.adopted) if observed else recorded
    return record, (observed if recorded.attempt == attempt else None), False


def _mirror(status: ReleaseStatus, spec: ReleaseSpec, d: ObservedDeployment, now: datetime) -> ReleaseStatus:
    target = d.target_revision
    source = d.source_revisions[0] if d.source_revisions else None
    path = stagepath.stage_path(spec.strategy)
    stages = stagepath.advance(status.stages, d, path, now)
    hooks = hookstages.attribute(status.hooks, d, spec.hooks, path, before=stagepath.position(path, status.stages),
                                 after=stagepath.position(path, stages), reconcile=stagepath.reconciles(d),
                                 now=now)
    return replace(
        status,
        # STAGE names what is in flight: a finished deployment has none (its last stage is in `stages`)
        stage=None if d.status in FINISHED_STATUSES else d.lifecycle_stage,
        stages=stages,
        step=stagepath.current_step(stages, d),
        hooks=hooks,
        source=RevisionRecord(source.arn, source.task_definition_arn) if source else status.source,
        target=RevisionRecord(target.arn, target.task_definition_arn) if target else status.target,
        production_traffic=target.production_weight if target else None,
        test_traffic=target.test_weight if target else None,
        target_revision=_short(target.task_definition_arn if target else None) or status.target_revision,
        revision=_serving(d) or status.revision,
    )


def _serving(d: ObservedDeployment) -> str | None:
    """The revision serving production: the target once it holds all production traffic (or ECS says the
    deployment succeeded); until then, and after a rollback, the source revision with the most of it."""
    target = d.target_revision
    if target is not None and (d.status == "SUCCESSFUL" or (target.production_weight or 0.0) >= 100.0):
        return _short(target.task_definition_arn)
    sources = [s for s in d.source_revisions if s.task_definition_arn]
    if not sources:
        return None
    return _short(max(sources, key=lambda s: s.production_weight or 0.0).task_definition_arn)


def _find(obs: Observation, arn: str) -> ObservedDeployment | None:
    return next((d for d in (obs.tracked, obs.current) if d is not None and d.arn == arn), None)


def _record(attempt: int, d: ObservedDeployment, adopted: bool) -> DeploymentRecord:
    return DeploymentRecord(attempt=attempt, arn=d.arn, status=d.status, status_reason=d.status_reason,
                            started_at=d.started_at or d.created_at, finished_at=d.finished_at,
                            rollback_reason=d.rollback_reason, adopted=adopted)


def _short(task_definition_arn: str | None) -> str | None:
    """arn:aws:ecs:eu-west-1:1:task-definition/web:42 -> web:42 (the Revision printer column)."""
    if not task_definition_arn:
        return None
    return task_definition_arn.rsplit("task-definition/", 1)[-1]
