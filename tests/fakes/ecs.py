"""FakeEcsGateway: an in-memory ecsbg.aws.gateway.EcsGateway for reconciler unit tests.

Script what ECS looks like (`observe` returns the scripted observations in order, then keeps returning the
last one) and what applying yields (queued ApplyResults, else a plausible default); every call is recorded.

    ecs = FakeEcsGateway(Observation(service=...))
    ecs.script(obs_after_start, obs_in_bake)      # next observations
    ecs.queue_result(ApplyResult(problem=...))   # next apply answer
    ...; assert ecs.writes() == [StartDeployment(...)]
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ecsbg.domain.actions import (
    Action,
    AdoptDeployment,
    ApplyResult,
    ContinueHooks,
    HoldAttempt,
    RecordIntent,
    RestoreScaling,
    ReuseRunning,
    StartDeployment,
    StopDeployment,
    Wait,
)
from ecsbg.domain.model import ReleaseSpec, ReleaseStatus, Target
from ecsbg.domain.observation import Observation

AWS_WRITES = (StartDeployment, ContinueHooks, StopDeployment, RestoreScaling)


@dataclass
class AppliedCall:
    action: Action
    observation: Observation
    target: Target | None


@dataclass
class FakeEcsGateway:
    observation: Observation = field(default_factory=Observation)
    observed: list[tuple[ReleaseSpec, ReleaseStatus | None]] = field(default_factory=list)
    reused: list[Observation | None] = field(default_factory=list)  # each observe's `reuse` argument
    applied: list[AppliedCall] = field(default_factory=list)
    _next_observations: deque[Observation] = field(default_factory=deque)
    _results: deque[ApplyResult] = field(default_factory=deque)

    def script(self, *observations: Observation) -> None:
        self._next_observations.extend(observations)

    def queue_result(self, *results: ApplyResult) -> None:
        self._results.extend(results)

    def writes(self) -> list[Action]:
        """The applied actions that would have written to AWS (UpdateService, Continue/Stop)."""
        return [c.action for c in self.applied if isinstance(c.action, AWS_WRITES)]

    async def observe(self, spec: ReleaseSpec, prior: ReleaseStatus | None,
                      reuse: Observation | None = None) -> Observation:
        """`reuse` is recorded (`reused`) and otherwise ignored: the fake's answer is what the test set."""
        self.reused.append(reuse)
        self.observed.append((spec, prior))
        if self._next_observations:
            self.observation = self._next_observations.popleft()
        return self.observation

    async def apply(self, action: Action, observation: Observation, target: Target | None = None) -> ApplyResult:
        self.applied.append(AppliedCall(action, observation, target))
        if self._results:
            return self._results.popleft()
        return default_result(action, len(self.applied))


def default_result(action: Action, n: int) -> ApplyResult:
    if isinstance(action, StartDeployment):
        target = action.spec.target
        arn = f"arn:aws:ecs:{target.region}:111122223333:service-deployment/{target.cluster}/{target.service}/fake{n}"
        task_definition = action.spec.task_definition.arn or (
            f"arn:aws:ecs:{target.region}:111122223333:task-definition/fake:{n}")
        return ApplyResult(deployment_arn=arn, task_definition_arn=task_definition,
                           scaling_suspended=action.suspend_scaling)
    if isinstance(action, RestoreScaling):
        return ApplyResult(scaling_restored=True)
    if isinstance(action, AdoptDeployment):
        return ApplyResult(deployment_arn=action.deployment_arn)
    if isinstance(action, ContinueHooks | StopDeployment):
        return ApplyResult(deployment_arn=action.deployment_arn)
    if isinstance(action, ReuseRunning):
        return ApplyResult(task_definition_arn=action.task_definition_arn)
    if isinstance(action, HoldAttempt) and action.refresh:
        spec = action.spec
        return ApplyResult(plan={"service": f"{spec.target.cluster}/{spec.target.service}",
                                 "taskDefinition": {"action": "Given" if spec.task_definition.arn else "Register"},
                                 "updateService": {"taskDefinition": spec.task_definition.arn or "(next)"}})
    assert isinstance(action, Wait | RecordIntent | HoldAttempt), action
    return ApplyResult()
