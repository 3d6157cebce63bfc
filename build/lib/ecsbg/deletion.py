"""Deleting a release (docs/design.md "Deleting a release"): `spec.onDelete`.

`Leave` (the default) needs nothing from the operator: no finalizer, the release goes at once and an ECS
deployment in flight runs on (ECS owns it; a Pause hook waits until its timeout and takes its timeout action).
`Rollback` releases carry the finalizer ecsbg.dev/rollback-on-delete (kopf adds it for the on.delete handler
filtered on spec.onDelete, ecsbg.handlers); once deletion starts, `rollback_on_delete` stops the deployment in
flight with StopServiceDeployment(ROLLBACK) and the handler returning releases the finalizer. ECS then rolls back
by itself; the operator does not wait for the rollback to end (nothing is left to report it on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecsbg import gating
from ecsbg.domain.actions import StopDeployment
from ecsbg.domain.codec import status_from_dict
from ecsbg.domain.events import NORMAL, WARNING, EventRecord
from ecsbg.domain.model import STOPPABLE_STATUSES, Observation, ReleaseSpec, ReleaseStatus
from ecsbg.domain.parsing import InvalidSpec, parse_release
from ecsbg.reconciler import Deps, LoopState

FINALIZER = "ecsbg.dev/rollback-on-delete"


@dataclass(frozen=True)
class DeleteOutcome:
    """`retry` says a retryable AWS error stopped us: keep the finalizer and try again."""

    events: list[EventRecord] = field(default_factory=list)
    retry: bool = False


async def rollback_on_delete(body: Mapping[str, Any], deps: Deps, state: LoopState | None,
                             give_up: bool = False) -> DeleteOutcome:
    """Stop the release's deployment if ECS still runs it. `give_up`: the last allowed try, so a retryable
    error is reported and the release is let go instead of kept forever."""
    if state is not None:
        async with state.busy:  # the loop's pass in progress (it may be starting a deployment) ends first
            prior = _prior(body, state)
    else:
        prior = _prior(body, None)
    recorded = prior.deployment
    if recorded is None:
        return DeleteOutcome([EventRecord(NORMAL, "RollbackOnDelete", "release deleted with spec.onDelete "
                                          "Rollback; no ECS deployment was started, nothing to roll back")])
    spec = _spec(body)
    if spec is not None and state is not None and state.policy is not None:
        try:  # the role (and session) an EcsReleasePolicy gave the release: the deployment is in its account
            spec, _ = await gating.admit(body, spec, state.policy)
        except InvalidSpec:
            pass  # no policy allows it any more: try with what the release itself names
    observation = Observation()
    if spec is not None:
        observation = await deps.ecs.observe(spec, prior)
        seen = next((d for d in (observation.tracked, observation.current) if d and d.arn == recorded.arn), None)
        if seen is not None and seen.status not in STOPPABLE_STATUSES:
            return DeleteOutcome([EventRecord(NORMAL, "RollbackOnDelete", f"release deleted with spec.onDelete "
                                              f"Rollback; deployment {recorded.arn} is {seen.status}, nothing to stop")])
    result = await deps.ecs.apply(StopDeployment(deployment_arn=recorded.arn), observation,
                                  spec.target if spec is not None else None)
    problem = result.problem
    if problem is None:
        return DeleteOutcome([EventRecord(NORMAL, "RollbackOnDelete", f"release deleted with spec.onDelete Rollback: "
                                          f"StopServiceDeployment ROLLBACK for {recorded.arn} (attempt "
                                          f"{recorded.attempt}); ECS rolls back to the previous revision")])
    what = f"StopServiceDeployment ROLLBACK for {recorded.arn} failed with {problem.code}: {problem.message}"
    if not problem.terminal and not give_up:
        return DeleteOutcome([], retry=True)
    return DeleteOutcome([EventRecord(WARNING, "RollbackOnDeleteFailed", f"{what}; the release is deleted anyway "
                                      "and ECS finishes the deployment on its own")])


def _prior(body: Mapping[str, Any], state: LoopState | None) -> ReleaseStatus:
    stored = state.last_status if state is not None and state.last_status is not None else body.get("status")
    return status_from_dict(dict(stored or {}))


def _spec(body: Mapping[str, Any]) -> ReleaseSpec | None:
    try:
        return parse_release(body)
    except InvalidSpec:  # the deployment ARN alone still names its region; the operator's own credentials act
        return None
