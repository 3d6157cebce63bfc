"""compute_status: every phase row of docs/design.md "Phases", the kstatus conditions, the mirrored fields."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ecsbg.domain.actions import (
    AdoptDeployment,
    ApplyResult,
    RecordIntent,
    StartDeployment,
    StopDeployment,
    Wait,
)
from ecsbg.domain.codec import status_to_dict
from ecsbg.domain.model import Phase, ReleaseStatus, StageRecord
from ecsbg.domain.observation import AwsProblem, Observation, RunningConfig
from ecsbg.domain.parsing import InvalidSpec
from ecsbg.domain.planning import Plan, plan
from ecsbg.domain.status import compute_status, transitions
from tests.unit.domain import builders as b
from tests.unit.domain.crd import open_api_schema, schema_errors

# one Pause hook at POST_TEST_TRAFFIC_SHIFT and PRE_PRODUCTION_TRAFFIC_SHIFT: hook stages come from the spec
SPEC = b.release(b.containers_spec(lifecycleHooks=[
    {"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT"]}]))
MINUTE_5 = b.at(5)
H = SPEC.spec_hash
SEEN = {"approve": None, "reject": None, "abort": None, "retry": None}
RUNNING = b.prior(H, 1, Phase.DEPLOYING, deployment_attempt=1)


def _plan(action=None):
    return Plan(action=action or Wait(), requests_seen=SEEN)


def _status(obs, before=RUNNING, action=None, result=None, spec=SPEC, invalid=None, now=MINUTE_5):
    status = compute_status(spec=spec, invalid=invalid, observation=obs, plan=_plan(action), result=result,
                            prior=before, generation=7, now=now)
    assert schema_errors(status_to_dict(status), open_api_schema()["properties"]["status"]) == []
    return status


def _conds(status):
    return {c.type: (c.status, c.reason) for c in status.conditions}


PAUSED = b.deployment(1, stage="POST_TEST_TRAFFIC_SHIFT", test=100.0, hooks=(b.pause("p1", expires_at=b.at(60)),))

# (id, observation, prior, action, result, phase, conditions {type: (status, reason)}, message fragment)
PHASES = [
    ("failed-terminal-observe", b.observe(problem=b.DENIED), b.prior(H, 1, Phase.PENDING), None, None, Phase.FAILED,
     {"Ready": ("False", "AccessDeniedException"), "Stalled": ("True", "AccessDeniedException")},
     "UpdateService failed with AccessDeniedException: not authorized to perform ecs:UpdateService"),
    ("failed-terminal-apply", b.observe(), b.prior(H, 1, Phase.PENDING),
     StartDeployment(1, SPEC, b.BASE_TD_ARN, "x"), ApplyResult(problem=b.DENIED), Phase.FAILED,
     {"Ready": ("False", "AccessDeniedException"), "Stalled": ("True", "AccessDeniedException")},
     "UpdateService failed with AccessDeniedException: not authorized to perform ecs:UpdateService; fix the cause, "
     "then retry with ecsbg.dev/retry=1 or change the spec"),
    ("failed-service-missing", Observation(), RUNNING, None, None, Phase.FAILED,
     {"Ready": ("False", "ServiceNotFound"), "Stalled": ("True", "ServiceNotFound")},
     "service web in cluster demo (us-east-1): the ECS service was not found"),
    ("failed-codedeploy-service", b.observe(deployment_controller="CODE_DEPLOY"), RUNNING, None, None, Phase.FAILED,
     {"Ready": ("False", "UnsupportedDeploymentController"), "Stalled": ("True", "UnsupportedDeploymentController")},
     "uses the CODE_DEPLOY deployment controller"),
    ("failed-rollback-failed", b.observe(b.deployment(1, "ROLLBACK_FAILED", status_reason="tasks failed")), RUNNING,
     None, None, Phase.FAILED, {"Ready": ("False", "RollbackFailed"), "Stalled": ("True", "RollbackFailed")},
     "ECS deployment ROLLBACK_FAILED: tasks failed"),
    ("failed-stopped", b.observe(b.deployment(1, "STOPPED")), RUNNING, None, None, Phase.FAILED,
     {"Ready": ("False", "Stopped"), "Stalled": ("True", "Stopped")}, "STOPPED"),
    ("rolled-back", b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL", rollback_reason="alarm web-5xx")), RUNNING,
     None, None, Phase.ROLLED_BACK, {"Ready": ("False", "RolledBack"), "Stalled": ("True", "RolledBack")},
     "attempt 1 rolled back by ECS: alarm web-5xx; web:41 serves production traffic; change the spec, or retry "
     "with ecsbg.dev/retry=1"),
    ("rolling-back-requested", b.observe(b.deployment(1, "ROLLBACK_REQUESTED")), RUNNING, None, None,
     Phase.ROLLING_BACK, {"Ready": ("False", "RollingBack"), "Reconciling": ("True", "RollingBack")}, "ROLLBACK_REQUESTED"),
    ("rolling-back-in-progress", b.observe(b.deployment(1, "ROLLBACK_IN_PROGRESS")), RUNNING, None, None,
     Phase.ROLLING_BACK, {"Ready": ("False", "RollingBack"), "Reconciling": ("True", "RollingBack")}, "IN_PROGRESS"),
    ("rolling-back-stop-requested", b.observe(b.deployment(1, "STOP_REQUESTED")), RUNNING, StopDeployment(b.dep_arn(1)),
     ApplyResult(), Phase.ROLLING_BACK, {"Ready": ("False", "RollingBack"), "Reconciling": ("True", "RollingBack")},
     "STOP_REQUESTED"),
    ("succeeded", b.observe(b.deployment(1, "SUCCESSFUL", stage="CLEAN_UP", production=100.0)), RUNNING, None, None,
     Phase.SUCCEEDED, {"Ready": ("True", "Succeeded")}, "attempt 1 succeeded: web:42 serves production traffic"),
    ("awaiting-approval", b.observe(PAUSED), RUNNING, None, None, Phase.AWAITING_APPROVAL,
     {"Ready": ("False", "AwaitingApproval"), "Reconciling": ("True", "AwaitingApproval")},
     "attempt 1 paused at POST_TEST_TRAFFIC_SHIFT (until 2026-11-22T11:00:00Z, then ROLLBACK) (production 0% green, "
     "test 100% green); approve with ecsbg.dev/approve=1 or reject with ecsbg.dev/reject=1"),
    ("baking", b.observe(b.deployment(1, stage="BAKE_TIME", production=100.0)), RUNNING, None, None, Phase.BAKING,
     {"Ready": ("False", "Progressing"), "Reconciling": ("True", "Progressing")}, "IN_PROGRESS at BAKE_TIME"),
    ("deploying", b.observe(b.deployment(1, stage="TEST_TRAFFIC_SHIFT", test=50.0)), RUNNING, None, None,
     Phase.DEPLOYING, {"Ready": ("False", "Progressing"), "Reconciling": ("True", "Progressing")},
     "attempt 1: ECS deployment IN_PROGRESS at TEST_TRAFFIC_SHIFT (production 0% green, test 50% green)"),
    ("deploying-unknown-ecs-status", b.observe(b.deployment(1, "SOMETHING_NEW")), RUNNING, None, None,
     Phase.DEPLOYING, {"Ready": ("False", "Progressing"), "Reconciling": ("True", "Progressing")}, "SOMETHING_NEW"),
    ("pending-ecs", b.observe(b.deployment(1, "PENDING", stage=None)), RUNNING, None, None, Phase.PENDING,
     {"Ready": ("False", "Progressing"), "Reconciling": ("True", "Progressing")}, "ECS deployment PENDING"),
    ("pending-intent", b.observe(), b.prior(None, 0, None), RecordIntent(1, H, b.BASE_TD_ARN), None, Phase.PENDING,
     {"Ready": ("False", "Progressing"), "Reconciling": ("True", "Progressing")},
     f"attempt 1 recorded (spec {H}); starting the ECS deployment"),
    ("pending-started", b.observe(), b.prior(H, 1, Phase.PENDING), StartDeployment(1, SPEC, b.BASE_TD_ARN, "x"),
     ApplyResult(deployment_arn=b.dep_arn(1), task_definition_arn=b.NEW_TD_ARN), Phase.PENDING,
     {"Ready": ("False", "Progressing"), "Reconciling": ("True", "Progressing")},
     f"attempt 1: deployment started ({b.dep_arn(1)}); waiting for ECS"),
    ("start-refused-stays-failed", b.observe(), b.prior(H, 1, Phase.FAILED, message="UpdateService failed: denied"),
     Wait(), None, Phase.FAILED, {"Ready": ("False", "Failed"), "Stalled": ("True", "Failed")},
     "UpdateService failed: denied"),
]


@pytest.mark.parametrize(("obs", "before", "action", "result", "phase", "conditions", "message"),
                         [r[1:] for r in PHASES], ids=[r[0] for r in PHASES])
def test_phase_rows(obs, before, action, result, phase, conditions, message):
    status = _status(obs, before, action, result)
    assert status.phase is phase
    assert _conds(status) == conditions
    assert message in status.message
    assert status.observed_generation == 7
    assert all(c.observed_generation == 7 and c.message == status.message for c in status.conditions)


def test_invalid():
    error = InvalidSpec(["spec.strategy.type: must be one of BlueGreen, Linear, Canary, got 'Rolling'"])
    status = compute_status(spec=None, invalid=error, observation=None, plan=None, result=None, prior=RUNNING,
                            generation=8, now=b.at(1))
    assert status.phase is Phase.INVALID
    assert _conds(status) == {"Ready": ("False", "InvalidSpec"), "Stalled": ("True", "InvalidSpec")}
    assert status.message == "invalid spec: " + error.errors[0]
    assert (status.attempt, status.deployment, status.observed_generation) == (1, RUNNING.deployment, 8)


@pytest.mark.parametrize("where", ["observe", "apply"])
def test_retryable_problem_keeps_phase(where):
    before = _status(b.observe(PAUSED))
    obs = b.observe(PAUSED, problem=b.THROTTLED) if where == "observe" else b.observe(PAUSED)
    result = ApplyResult(problem=AwsProblem("ThrottlingException", "Rate exceeded", False,
                                            "ContinueServiceDeployment")) if where == "apply" else None
    status = _status(obs, before, result=result, now=b.at(9))
    assert status.phase is Phase.AWAITING_APPROVAL
    read_failed = {"ObservationFailed": ("True", "ThrottlingException")} if where == "observe" else {}
    assert _conds(status) == {"Ready": ("False", "ProgressingWithRetry"), "Reconciling": ("True", "ProgressingWithRetry"),
                              **read_failed}
    assert status.message.endswith(" (retrying: " + ("DescribeServices" if where == "observe" else
                                                     "ContinueServiceDeployment") + " failed with ThrottlingException: Rate exceeded)")
    assert status.message.startswith("attempt 1 paused")
    assert status.hooks == before.hooks and status.stages == before.stages


def test_retryable_problem_on_first_reconcile_is_pending():
    status = _status(b.observe(problem=b.THROTTLED), ReleaseStatus())
    assert status.phase is Phase.PENDING and "Reconciling" in _conds(status)


def test_last_transition_time_kept_while_status_unchanged():
    first = _status(b.observe(b.deployment(1, stage="PRE_SCALE_UP")), now=b.at(1))
    second = _status(b.observe(b.deployment(1, stage="SCALE_UP")), first, now=b.at(2))
    assert {c.type: c.last_transition_time for c in second.conditions} == {"Ready": b.at(1), "Reconciling": b.at(1)}
    assert second.message != first.message  # the message moves on, the transition time does not
    done = _status(b.observe(b.deployment(1, "SUCCESSFUL")), second, now=b.at(3))
    assert [(c.type, c.status, c.last_transition_time) for c in done.conditions] == [("Ready", "True", b.at(3))]


def test_stalled_cleared_by_next_good_attempt():
    failed = _status(b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL")))
    assert "Stalled" in _conds(failed)
    new = b.release(b.containers_spec(strategy={"type": "BlueGreen", "bakeTimeInMinutes": 3}))
    status = _status(b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL")), failed,
                     RecordIntent(2, new.spec_hash, b.BASE_TD_ARN), spec=new)
    assert _conds(status) == {"Ready": ("False", "Progressing"), "Reconciling": ("True", "Progressing")}


def test_stage_history_records_observed_stages_and_the_ones_passed_between_polls():
    status = RUNNING
    for minute, stage in enumerate(["PRE_SCALE_UP", "SCALE_UP", "SCALE_UP", "TEST_TRAFFIC_SHIFT", "BAKE_TIME"]):
        status = _status(b.observe(b.deployment(1, stage=stage)), status, now=b.at(minute))
    missed = dict(observed=False)
    assert status.stages == (
        StageRecord("PRE_SCALE_UP", b.at(0), b.at(1)), StageRecord("SCALE_UP", b.at(1), b.at(3)),
        StageRecord("POST_SCALE_UP", b.at(1), b.at(3), **missed), StageRecord("TEST_TRAFFIC_SHIFT", b.at(3), b.at(4)),
        StageRecord("POST_TEST_TRAFFIC_SHIFT", b.at(3), b.at(4), **missed),
        StageRecord("PRE_PRODUCTION_TRAFFIC_SHIFT", b.at(3), b.at(4), **missed),
        StageRecord("PRODUCTION_TRAFFIC_SHIFT", b.at(3), b.at(4), **missed),
        StageRecord("POST_PRODUCTION_TRAFFIC_SHIFT", b.at(3), b.at(4), **missed), StageRecord("BAKE_TIME", b.at(4)))
    done = _status(b.observe(b.deployment(1, "SUCCESSFUL", stage="CLEAN_UP", finished_at=b.at(9))), status,
                   now=b.at(10))
    # CLEAN_UP was first seen once the deployment was over: not observed, between BAKE_TIME and the end
    assert done.stages[-2:] == (StageRecord("BAKE_TIME", b.at(4), b.at(9)),
                                StageRecord("CLEAN_UP", b.at(4), b.at(9), **missed))
    assert done.stage is None  # nothing in flight


def test_new_attempt_resets_the_mirrored_deployment_fields():
    before = _status(b.observe(PAUSED))
    assert before.stages and before.hooks and before.test_traffic == 100.0
    status = _status(b.observe(PAUSED), before, RecordIntent(2, "n3w", b.BASE_TD_ARN))
    assert (status.attempt, status.spec_hash, status.stage, status.stages, status.hooks) == (2, "n3w", None, (), ())
    assert (status.production_traffic, status.test_traffic, status.source, status.target) == (None, None, None, None)
    assert status.deployment.attempt == 1  # the previous attempt's block stays until the new one starts


def test_traffic_revision_and_revisions_mirror_the_target():
    status = _status(b.observe(b.deployment(1, stage="PRODUCTION_TRAFFIC_SHIFT", production=25.0, test=100.0,
                                            td=b.NEW_TD_ARN)))
    # web:41 still holds most production traffic: it is what serves; web:43 is what the attempt deploys
    assert (status.production_traffic, status.test_traffic, status.revision, status.target_revision) == (
        25.0, 100.0, "web:41", "web:43")
    assert status.target.revision_arn == b.rev_arn(11) and status.target.task_definition_arn == b.NEW_TD_ARN
    assert status.source.task_definition_arn == b.BASE_TD_ARN


def test_hooks_are_filed_under_the_stage_of_the_spec_and_stay_listed():
    first = _status(b.observe(PAUSED))
    assert [(h.hook_id, h.stage, h.status) for h in first.hooks] == [("p1", "POST_TEST_TRAFFIC_SHIFT", "AWAITING_ACTION")]
    later = b.deployment(1, stage="PRODUCTION_TRAFFIC_SHIFT",  # stamped with the poll's stage by the AWS layer
                         hooks=(b.pause("p1", "SUCCEEDED", stage="PRODUCTION_TRAFFIC_SHIFT"),
                                b.pause("p2", "SUCCEEDED", stage="PRODUCTION_TRAFFIC_SHIFT")))
    second = _status(b.observe(later), first)
    # p2 was first seen at PRODUCTION_TRAFFIC_SHIFT, where no Pause hook can run: the spec's next pause is its stage
    assert [(h.hook_id, h.stage, h.status) for h in second.hooks] == [
        ("p1", "POST_TEST_TRAFFIC_SHIFT", "SUCCEEDED"), ("p2", "PRE_PRODUCTION_TRAFFIC_SHIFT", "SUCCEEDED")]
    third = _status(b.observe(b.deployment(1, stage="BAKE_TIME")), second)
    assert [h.hook_id for h in third.hooks] == ["p1", "p2"]


def test_a_hook_the_spec_does_not_declare_has_no_stage():
    status = _status(b.observe(PAUSED), spec=b.release())
    assert [(h.hook_id, h.stage) for h in status.hooks] == [("p1", None)]


def test_adopted_deployment_is_recorded_for_the_attempt():
    adopted = b.deployment(4, stage="SCALE_UP")
    status = _status(b.observe(adopted), b.prior(H, 2, Phase.PENDING, deployment_attempt=1, status="SUCCESSFUL"),
                     AdoptDeployment(2, adopted.arn))
    assert (status.deployment.attempt, status.deployment.arn, status.deployment.status) == (2, adopted.arn, "IN_PROGRESS")
    assert status.phase is Phase.DEPLOYING and status.stage == "SCALE_UP"


def test_started_deployment_is_recorded_with_its_task_definition():
    status = _status(b.observe(), b.prior(H, 1, Phase.PENDING), StartDeployment(1, SPEC, b.BASE_TD_ARN, "x"),
                     ApplyResult(deployment_arn=b.dep_arn(1), task_definition_arn=b.NEW_TD_ARN))
    assert (status.deployment.attempt, status.deployment.arn, status.target_revision) == (1, b.dep_arn(1), "web:43")


def test_requests_seen_come_from_the_plan():
    seen = {**SEEN, "approve": 3}
    status = compute_status(spec=SPEC, invalid=None, observation=b.observe(PAUSED),
                            plan=Plan(Wait(), seen), result=None, prior=RUNNING, generation=1, now=b.at(0))
    assert status.requests == seen


@pytest.mark.parametrize("problem", [b.THROTTLED, b.DENIED], ids=["throttled", "access-denied"])
@pytest.mark.parametrize(("ecs_status", "phase", "conditions"), [
    ("SUCCESSFUL", Phase.SUCCEEDED, {"Ready": ("True", "Succeeded")}),
    ("ROLLBACK_SUCCESSFUL", Phase.ROLLED_BACK, {"Ready": ("False", "RolledBack"), "Stalled": ("True", "RolledBack")}),
    ("ROLLBACK_FAILED", Phase.FAILED, {"Ready": ("False", "RollbackFailed"), "Stalled": ("True", "RollbackFailed")}),
], ids=["succeeded", "rolled-back", "failed"])
def test_failed_read_of_an_ended_attempt_keeps_phase_and_conditions(ecs_status, phase, conditions, problem):
    """issue 18 defect 1: a read error (even AccessDenied after an IAM blip) on an idle poll must not flip a
    finished release: phase, message and kstatus conditions stay, ObservationFailed says what failed."""
    ended = _status(b.observe(b.deployment(1, ecs_status)), now=b.at(1))
    failing = _status(b.observe(problem=problem), ended, now=b.at(2))
    assert failing.phase is phase and failing.message == ended.message
    assert _conds(failing) == {**conditions, "ObservationFailed": (("True", problem.code))}
    assert [c.last_transition_time for c in failing.conditions] == [b.at(1)] * len(conditions) + [b.at(2)]
    assert failing.conditions[-1].message == f"{problem.operation} failed with {problem.code}: {problem.message}"
    again = _status(b.observe(problem=problem), failing, now=b.at(3))
    assert again.conditions == failing.conditions and again.message == failing.message
    recovered = _status(b.observe(b.deployment(1, ecs_status)), again, now=b.at(4))
    assert recovered.message == ended.message and _conds(recovered) == conditions


def test_terminal_read_problem_of_a_started_attempt_keeps_it_in_flight():
    status = _status(b.observe(problem=b.DENIED))
    assert status.phase is Phase.DEPLOYING
    assert _conds(status) == {"Ready": ("False", "ProgressingWithRetry"),
                              "Reconciling": ("True", "ProgressingWithRetry"),
                              "ObservationFailed": ("True", "AccessDeniedException")}


def test_a_terminal_read_problem_after_a_spec_change_fails_the_new_spec():
    other = b.release({**b.body()["spec"], "target": {"region": "us-east-1", "cluster": "nope", "service": "web"}})
    assert other.spec_hash != H
    status = _status(b.observe(problem=b.DENIED), spec=other)
    assert status.phase is Phase.FAILED


@pytest.mark.parametrize("code", ["ConnectionError", "AccessDeniedException"])
def test_reads_failing_longer_than_stall_after_stall_the_release_and_recover(code):
    """issue 9: an endpoint that cannot be reached for long is Stalled with a clear message, not retried silently."""
    problem = AwsProblem(code, "Could not connect to the endpoint URL", code != "ConnectionError", "DescribeServices")
    ended = _status(b.observe(b.deployment(1, "SUCCESSFUL")), now=b.at(1))

    def step(obs, before, minute):
        return compute_status(spec=SPEC, invalid=None, observation=obs, plan=_plan(), result=None, prior=before,
                              generation=7, now=b.at(minute), stall_after=600)

    first = step(b.observe(problem=problem), ended, 2)
    assert "Stalled" not in _conds(first)
    late = step(b.observe(problem=problem), step(b.observe(problem=problem), first, 5), 12)
    reason = "EndpointUnreachable" if code == "ConnectionError" else code
    assert late.phase is Phase.SUCCEEDED
    assert _conds(late) == {"Ready": ("False", reason), "Stalled": ("True", reason), "ObservationFailed": ("True", reason)}
    assert "reading ECS has failed since" in late.message and "Could not connect" in late.message
    assert late.message.startswith(ended.message)
    recovered = step(b.observe(b.deployment(1, "SUCCESSFUL")), late, 13)
    assert _conds(recovered) == {"Ready": ("True", "Succeeded")} and recovered.message == ended.message


# ------------------------------------------------------------------ a handover around the start (issue 12)
# The operator wrote attempt 2's intent at b.at(0) (ECS's current deployment then: attempt 1's), sent UpdateService
# and stopped before recording the deployment; ECS created it at b.at(1) and finished it at b.at(3), before the next
# operator's first read at b.at(5).
ARN_SPEC = b.release(b.arn_spec())
INTENT = b.prior(ARN_SPEC.spec_hash, 2, Phase.PENDING, deployment_attempt=1, status="SUCCESSFUL", base=None,
                 attempt_started_at=b.at(0), base_deployment_arn=b.dep_arn(1))
OVER = dict(created_at=b.at(1), started_at=b.at(1), finished_at=b.at(3))
PASSED = dict(started_at=b.at(1), finished_at=b.at(3), observed=False)
BLUE_GREEN_PATH = ("PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
                   "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
                   "BAKE_TIME", "CLEAN_UP")


def _pass(obs, prior):
    decided = plan(ARN_SPEC, obs, prior, generation=7)
    status = compute_status(spec=ARN_SPEC, invalid=None, observation=obs, plan=decided, result=None, prior=prior,
                            generation=7, now=b.at(5))
    assert schema_errors(status_to_dict(status), open_api_schema()["properties"]["status"]) == []
    return decided, status, transitions(prior, status, decided)


# (id, ECS's deployment, prior, phase, stage history, Events)
HANDOVERS = [
    # ECS passed every stage of the path (SUCCESSFUL): each is recorded as passed unseen, within ECS's own times
    ("succeeded-while-no-operator-ran", b.deployment(7, "SUCCESSFUL", stage="CLEAN_UP", production=100.0, **OVER),
     INTENT, Phase.SUCCEEDED, tuple(StageRecord(s, **PASSED) for s in BLUE_GREEN_PATH),
     ["DeploymentStarted", "Succeeded"]),
    # on the way back nothing is inferred: only the stage ECS still reports
    ("rolled-back-while-no-operator-ran",
     b.deployment(7, "ROLLBACK_SUCCESSFUL", stage="TEST_TRAFFIC_SHIFT", rollback_reason="alarm web-5xx",
                  rollback_started_at=b.at(2), **OVER),
     INTENT, Phase.ROLLED_BACK, (StageRecord("TEST_TRAFFIC_SHIFT", b.at(2), b.at(3), observed=False, rollback=True),),
     ["DeploymentStarted", "RolledBack"]),
]


@pytest.mark.parametrize(("deployment", "prior", "phase", "stages", "reasons"), [r[1:] for r in HANDOVERS],
                         ids=[r[0] for r in HANDOVERS])
def test_a_deployment_ecs_finished_before_the_restart_is_the_attempts(deployment, prior, phase, stages, reasons):
    obs = b.observe(deployment, config=RunningConfig(strategy="BLUE_GREEN", bake_time_minutes=10))
    decided, status, events = _pass(obs, prior)
    assert decided.action == AdoptDeployment(2, b.dep_arn(7))
    record = status.deployment
    assert (record.attempt, record.arn, record.status, record.reused, record.adopted) == (
        2, b.dep_arn(7), deployment.status, False, True)
    assert (record.started_at, record.finished_at) == (b.at(1), b.at(3))
    assert status.phase is phase and status.stages == stages and status.stage is None
    assert [e.reason for e in events] == reasons
    assert "adopted" in events[0].message and f"ECS had finished it ({deployment.status})" in events[0].message
    assert status_to_dict(status)["deployment"]["adopted"] is True
    again, later, more = _pass(obs, status)
    assert again.action == Wait("nothing to do") and later.deployment == record and later.stages == stages
    assert more == []


def test_without_the_intents_time_a_finished_deployment_is_reused_as_before():
    """A status written before status.attemptStartedAt existed: today's answer, nothing is claimed."""
    obs = b.observe(b.deployment(7, "SUCCESSFUL", stage="CLEAN_UP", production=100.0, **OVER),
                    config=RunningConfig(strategy="BLUE_GREEN", bake_time_minutes=10))
    _, status, events = _pass(obs, replace(INTENT, attempt_started_at=None))
    assert status.deployment.reused and status.stages == () and status.phase is Phase.SUCCEEDED
    assert [e.reason for e in events] == ["DeploymentSkipped", "Succeeded"]


def test_the_intent_records_when_and_from_which_deployment_the_attempt_started():
    seeded = b.deployment(9, "SUCCESSFUL", td=b.BASE_TD_ARN)
    status = _status(b.observe(seeded), b.prior(None, 0, None), RecordIntent(1, H, b.BASE_TD_ARN), now=b.at(4))
    assert (status.attempt_started_at, status.base_deployment_arn) == (b.at(4), b.dep_arn(9))
    written = status_to_dict(status)
    assert (written["attemptStartedAt"], written["baseDeploymentArn"]) == ("2026-11-22T10:04:00Z", b.dep_arn(9))
    later = _status(b.observe(b.deployment(1)), replace(status, deployment=RUNNING.deployment), now=b.at(6))
    assert (later.attempt_started_at, later.base_deployment_arn) == (b.at(4), b.dep_arn(9)), "kept for the attempt"
    none_yet = _status(b.observe(), b.prior(None, 0, None), RecordIntent(1, H, b.BASE_TD_ARN), now=b.at(4))
    assert none_yet.base_deployment_arn is None and "baseDeploymentArn" not in status_to_dict(none_yet)
