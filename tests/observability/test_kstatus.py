"""Flux/kstatus see a release's life correctly: InProgress while ECS works, Current on success, Failed on a
rollback or a terminal error, and InProgress (not Current) in the creation race and after every spec change.
Every verdict of the re-implementation (kstatus.py) is checked against cli-utils' own Compute (engines.py).

The statuses are the operator's own: the domain pipeline (parse_release -> plan -> compute_status ->
status_to_dict) run on scripted ECS observations, as the reconciler runs it, with the CR body carrying the
stored status from one reconcile to the next.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from ecsbg.domain.actions import ApplyResult, StartDeployment
from ecsbg.domain.codec import status_from_dict, status_to_dict
from ecsbg.domain.model import HookDetail
from ecsbg.domain.observation import (
    AwsProblem,
    Observation,
    ObservedDeployment,
    ObservedService,
    RevisionSummary,
)
from ecsbg.domain.parsing import InvalidSpec, parse_release
from ecsbg.domain.planning import plan
from ecsbg.domain.status import compute_status
from tests.observability.engines import kstatus as real_kstatus
from tests.observability.kstatus import CURRENT, FAILED, IN_PROGRESS, TERMINATING, KstatusError, compute
from tests.observability.tools import REPO

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SERVICE = "arn:aws:ecs:us-east-1:111122223333:service/demo/web"
BASE_TD = "arn:aws:ecs:us-east-1:111122223333:task-definition/web:41"
NEW_TD = "arn:aws:ecs:us-east-1:111122223333:task-definition/web:42"


def deployment_arn(attempt: int) -> str:
    return f"arn:aws:ecs:us-east-1:111122223333:service-deployment/demo/web/attempt{attempt}"


@dataclass
class Release:
    """A CR in the API server and the reconcile rounds the operator runs on it."""

    body: dict[str, Any]
    minute: int = 0

    @classmethod
    def created(cls) -> Release:
        body = yaml.safe_load((REPO / "examples" / "bluegreen-pause.yaml").read_text())
        body["metadata"].update(namespace="shop", generation=1)
        body["status"] = crd_status_default()  # what the API server stores on create
        return cls(body)

    def edit_spec(self, change: dict[str, Any]) -> None:
        self.body["spec"].update(copy.deepcopy(change))
        self.body["metadata"]["generation"] += 1

    def reconcile(self, ecs: ObservedDeployment | None = None, problem: AwsProblem | None = None,
                  service_td: str = BASE_TD) -> None:
        self.minute += 1
        now = T0 + timedelta(minutes=self.minute)
        generation = self.body["metadata"]["generation"]
        prior = status_from_dict(self.body.get("status"))
        service = ObservedService(arn=SERVICE, status="ACTIVE", task_definition_arn=service_td,
                                  current_deployment_arn=ecs.arn if ecs else None)  # fmt: skip
        observation = Observation(service=service, current=ecs, tracked=ecs, problem=problem)
        try:
            spec, invalid = parse_release(self.body), None
        except InvalidSpec as error:
            spec, invalid = None, error
        the_plan = plan(spec, observation, prior, generation=generation) if spec else None
        result = None
        if the_plan is not None and isinstance(the_plan.action, StartDeployment):  # UpdateService succeeded
            result = ApplyResult(
                deployment_arn=deployment_arn(the_plan.action.attempt), task_definition_arn=NEW_TD
            )
        status = compute_status(spec=spec, invalid=invalid, observation=observation, plan=the_plan, result=result,
                                prior=prior, generation=generation, now=now)  # fmt: skip
        self.body["status"] = status_to_dict(status)

    def kstatus(self) -> str:
        return compute(self.body)[0]


def crd_status_default() -> dict[str, Any]:
    crd = yaml.safe_load((REPO / "crds" / "ecsbluegreenreleases.ecsbg.dev.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["storage"]]
    return copy.deepcopy(version["schema"]["openAPIV3Schema"]["properties"]["status"]["default"])


def ecs(
    attempt: int, status: str, stage: str | None = None, *, paused: bool = False, reason: str | None = None,
    target_td: str | None = None,
):
    hooks = ()
    if paused:
        hooks = (HookDetail(hook_id="ecs-pause-1", target_type="PAUSE", status="AWAITING_ACTION",
                            expires_at=T0 + timedelta(hours=1), timeout_action="ROLLBACK"),)  # fmt: skip
    target = RevisionSummary(arn=f"{deployment_arn(attempt)}-green", task_definition_arn=target_td) if target_td else None
    return ObservedDeployment(arn=deployment_arn(attempt), status=status, lifecycle_stage=stage, hooks=hooks,
                              status_reason=reason, rollback_reason=reason, started_at=T0,
                              target_revision=target)  # fmt: skip


def expect(release: Release, phase: str | None, kstatus: str) -> None:
    status = release.body.get("status") or {}
    got = (status.get("phase"), release.kstatus())
    assert got == (phase, kstatus), f"got {got}, status: {status}"
    # the re-implementation agrees with cli-utils' Compute itself, the code Flux runs
    (real,) = real_kstatus([release.body])
    assert real["status"] == kstatus, real
    if phase is None:
        return
    # The kstatus contract the phase table promises (docs/design.md "Phases"), checked on every step.
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["observedGeneration"] == release.body["metadata"]["generation"]
    assert "Ready" in conditions
    assert all(c["status"] == "True" for t, c in conditions.items() if t in ("Reconciling", "Stalled"))
    assert all(c["observedGeneration"] == status["observedGeneration"] for c in conditions.values())


def test_a_release_from_creation_to_success_then_a_rolled_back_change():
    release = Release.created()
    expect(release, None, IN_PROGRESS)  # the creation race: -1 from the CRD default is not generation 1

    release.reconcile()  # intent recorded
    expect(release, "Pending", IN_PROGRESS)
    release.reconcile()  # UpdateService; ECS has not reported the deployment yet
    expect(release, "Pending", IN_PROGRESS)
    release.reconcile(ecs(1, "PENDING"))
    expect(release, "Pending", IN_PROGRESS)
    release.reconcile(ecs(1, "IN_PROGRESS", "SCALE_UP"))
    expect(release, "Deploying", IN_PROGRESS)
    release.reconcile(ecs(1, "IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", paused=True))
    expect(release, "AwaitingApproval", IN_PROGRESS)
    release.reconcile(ecs(1, "IN_PROGRESS", "BAKE_TIME"))
    expect(release, "Baking", IN_PROGRESS)
    release.reconcile(ecs(1, "SUCCESSFUL", "CLEAN_UP"))
    expect(release, "Succeeded", CURRENT)

    release.edit_spec({"strategy": {"type": "BlueGreen", "bakeTimeInMinutes": 1}})
    assert release.kstatus() == IN_PROGRESS  # Succeeded, but of generation 1: not yet looked at
    release.reconcile(ecs(1, "SUCCESSFUL", "CLEAN_UP"))  # new spec hash: attempt 2 recorded
    expect(release, "Pending", IN_PROGRESS)
    release.reconcile(ecs(1, "SUCCESSFUL", "CLEAN_UP"))  # attempt 2 started
    release.reconcile(ecs(2, "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT"))
    expect(release, "Deploying", IN_PROGRESS)
    release.reconcile(ecs(2, "ROLLBACK_IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", reason="alarm web-5xx"))
    expect(release, "RollingBack", IN_PROGRESS)
    release.reconcile(ecs(2, "ROLLBACK_SUCCESSFUL", reason="alarm web-5xx"))
    expect(release, "RolledBack", FAILED)


def test_throttling_keeps_the_release_in_progress():
    release = Release.created()
    for _ in range(2):
        release.reconcile()
    release.reconcile(ecs(1, "IN_PROGRESS", "SCALE_UP"))
    throttled = AwsProblem(code="ThrottlingException", message="Rate exceeded", terminal=False,
                           operation="DescribeServiceDeployments")  # fmt: skip
    release.reconcile(ecs(1, "IN_PROGRESS", "SCALE_UP"), problem=throttled)
    expect(release, "Deploying", IN_PROGRESS)
    assert compute(release.body)[1] == "ProgressingWithRetry"


@pytest.mark.parametrize(
    ("break_it", "phase"),
    [
        (lambda r: (r.edit_spec({"strategy": {"type": "Rolling"}}), r.reconcile()), "Invalid"),
        (lambda r: (r.edit_spec({"strategy": {"type": "BlueGreen", "bakeTimeInMinutes": 1}}),  # a new spec
                    r.reconcile(problem=AwsProblem(code="AccessDeniedException", message="not authorized",
                                                   terminal=True, operation="DescribeServices"))), "Failed"),
        (lambda r: r.reconcile(ecs(1, "ROLLBACK_FAILED", reason="tasks failed")), "Failed"),
    ],
    ids=["invalid-spec", "access-denied", "rollback-failed"],
)  # fmt: skip
def test_terminal_problems_are_failed(break_it, phase):
    release = Release.created()
    release.reconcile()
    release.reconcile()
    break_it(release)
    expect(release, phase, FAILED)


def test_without_the_crd_default_a_new_release_would_look_current():
    """Why the CRD defaults status.observedGeneration to -1 (kustomize-controller#387)."""
    release = Release.created()
    assert crd_status_default() == {"observedGeneration": -1}
    del release.body["status"]
    assert release.kstatus() == CURRENT
    release.body["status"] = {"observedGeneration": -1}
    assert release.kstatus() == IN_PROGRESS


def test_kstatus_rules_themselves():
    base = {"metadata": {"generation": 2}, "status": {"observedGeneration": 2}}
    assert compute({**base, "metadata": {"generation": 2, "deletionTimestamp": "x"}})[0] == TERMINATING
    with pytest.raises(KstatusError):  # NestedInt64: a float is an error, not a number
        compute({"metadata": {"generation": 2}, "status": {"observedGeneration": 2.0}})
    reconciling = {"type": "Reconciling", "status": "True", "reason": "Progressing"}
    stalled = {"type": "Stalled", "status": "True", "reason": "RolledBack"}
    ready = {"type": "Ready", "status": "True", "reason": "Succeeded"}
    assert (
        compute({**base, "status": {"observedGeneration": 2, "conditions": [stalled, reconciling]}})[0]
        == FAILED
    )
    assert compute({**base, "status": {"observedGeneration": 2, "conditions": [ready]}})[0] == CURRENT
    assert compute(
        {**base, "status": {"observedGeneration": 2, "conditions": [{**ready, "status": "False"}]}}
    )[0] == (IN_PROGRESS)


@pytest.mark.parametrize("problem", [
    AwsProblem(code="ThrottlingException", message="Rate exceeded", terminal=False,
               operation="DescribeServiceDeployments"),
    AwsProblem(code="AccessDeniedException", message="not authorized", terminal=True, operation="DescribeServices"),
], ids=["throttled", "access-denied"])  # fmt: skip
@pytest.mark.parametrize(("ended", "phase", "kstatus"), [
    ("SUCCESSFUL", "Succeeded", CURRENT), ("ROLLBACK_SUCCESSFUL", "RolledBack", FAILED),
])  # fmt: skip
def test_a_failed_poll_of_an_ended_attempt_keeps_its_kstatus(ended, phase, kstatus, problem):
    """Idle releases are still polled; a throttled or denied poll (issue 18: an IAM blip) must not flip Flux's
    verdict: the release keeps its kstatus, ObservationFailed says what failed."""
    release = Release.created()
    release.reconcile()
    release.reconcile()
    release.reconcile(ecs(1, ended, reason="alarm"))
    expect(release, phase, kstatus)
    release.reconcile(ecs(1, ended, reason="alarm"), problem=problem)
    expect(release, phase, kstatus)
    assert {c["type"] for c in release.body["status"]["conditions"]} >= {"ObservationFailed"}
    release.reconcile(ecs(1, ended, reason="alarm"))
    expect(release, phase, kstatus)


def test_drift_makes_a_succeeded_release_failed_for_flux_until_ecs_runs_it_again():
    release = Release.created()
    release.reconcile()
    release.reconcile()
    release.reconcile(ecs(1, "SUCCESSFUL", "CLEAN_UP", target_td=NEW_TD), service_td=NEW_TD)
    expect(release, "Succeeded", CURRENT)
    release.reconcile(ecs(1, "SUCCESSFUL", "CLEAN_UP", target_td=NEW_TD), service_td=BASE_TD)  # update-service
    expect(release, "Succeeded", FAILED)
    assert {c["type"] for c in release.body["status"]["conditions"]} == {"Ready", "Stalled", "Drifted"}
    release.reconcile(ecs(1, "SUCCESSFUL", "CLEAN_UP", target_td=NEW_TD), service_td=NEW_TD)  # undone
    expect(release, "Succeeded", CURRENT)
