"""transitions(): one Event per transition (docs/design.md "Events"), none when nothing changed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ecsbg.domain.actions import (
    ApplyResult,
    ContinueHooks,
    RecordIntent,
    StartDeployment,
    StopDeployment,
    Wait,
)
from ecsbg.domain.model import HookDetail, Phase, ReleaseStatus, RequestKind
from ecsbg.domain.observation import AwsProblem, Observation
from ecsbg.domain.parsing import InvalidSpec
from ecsbg.domain.planning import Plan, RequestNote, plan
from ecsbg.domain.status import compute_status, transitions
from tests.unit.domain import builders as b

SPEC = b.release()
MINUTE_1 = b.at(1)
H = SPEC.spec_hash
SEEN = {"approve": None, "reject": None, "abort": None, "retry": None}
RUNNING = b.prior(H, 1, Phase.DEPLOYING, deployment_attempt=1)
PAUSED = b.deployment(1, stage="POST_TEST_TRAFFIC_SHIFT", hooks=(b.pause("p1"),))


def _step(obs, before, action=None, result=None, notes=(), now=MINUTE_1):
    p = Plan(action or Wait(), SEEN, tuple(notes))
    new = compute_status(spec=SPEC, invalid=None, observation=obs, plan=p, result=result, prior=before,
                         generation=1, now=now)
    return new, [(e.type, e.reason) for e in transitions(before, new, p, result)]


ROWS = [
    ("attempt-started", b.observe(), b.prior(None, 0, None), RecordIntent(1, H, b.BASE_TD_ARN), None, (),
     [("Normal", "AttemptStarted")]),
    ("retry-requested", b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL")),
     b.prior(H, 1, Phase.ROLLED_BACK, 1, "ROLLBACK_SUCCESSFUL"), RecordIntent(2, H, b.BASE_TD_ARN, retry_of=1), None,
     (), [("Normal", "RetryRequested"), ("Normal", "AttemptStarted"), ("Normal", "Pending")]),
    ("deployment-started", b.observe(), b.prior(H, 1, Phase.PENDING), StartDeployment(1, SPEC, b.BASE_TD_ARN, "x"),
     ApplyResult(deployment_arn=b.dep_arn(1)), (), [("Normal", "DeploymentStarted")]),
    ("stage-changed", b.observe(b.deployment(1, stage="SCALE_UP")), replace(RUNNING, stage="PRE_SCALE_UP"), None,
     None, (), [("Normal", "StageChanged")]),
    ("awaiting-approval", b.observe(PAUSED), replace(RUNNING, stage="POST_TEST_TRAFFIC_SHIFT"), None, None, (),
     [("Normal", "AwaitingApproval")]),
    ("approved", b.observe(PAUSED), b.prior(H, 1, Phase.AWAITING_APPROVAL, 1, stage="POST_TEST_TRAFFIC_SHIFT"),
     ContinueHooks(b.dep_arn(1), ("p1",), "CONTINUE", RequestKind.APPROVE), ApplyResult(), (), [("Normal", "Approved")]),
    ("rejected", b.observe(PAUSED), b.prior(H, 1, Phase.AWAITING_APPROVAL, 1, stage="POST_TEST_TRAFFIC_SHIFT"),
     ContinueHooks(b.dep_arn(1), ("p1",), "ROLLBACK", RequestKind.REJECT), ApplyResult(), (), [("Normal", "Rejected")]),
    ("abort-requested", b.observe(b.deployment(1, stage="BAKE_TIME")), b.prior(H, 1, Phase.BAKING, 1, stage="BAKE_TIME"),
     StopDeployment(b.dep_arn(1)), ApplyResult(), (), [("Normal", "AbortRequested")]),
    ("refused-request-is-not-announced", b.observe(PAUSED),
     b.prior(H, 1, Phase.AWAITING_APPROVAL, 1, stage="POST_TEST_TRAFFIC_SHIFT"),
     ContinueHooks(b.dep_arn(1), ("p1",), "CONTINUE", RequestKind.APPROVE),
     ApplyResult(problem=AwsProblem("ServerException", "boom", False, "ContinueServiceDeployment")), (),
     [("Warning", "AwsError")]),
    ("stale-request", b.observe(b.deployment(1)), replace(RUNNING, stage="SCALE_UP"), None, None,
     (RequestNote(RequestKind.APPROVE, 0, "stale", "approve 0 ignored"),), [("Warning", "StaleRequest")]),
    ("not-applicable-request", b.observe(b.deployment(1)), replace(RUNNING, stage="SCALE_UP"), None, None,
     (RequestNote(RequestKind.APPROVE, 1, "not_applicable", "approve 1 ignored"),),
     [("Warning", "RequestNotApplicable")]),
    ("succeeded", b.observe(b.deployment(1, "SUCCESSFUL", stage="SCALE_UP")), replace(RUNNING, stage="SCALE_UP"),
     None, None, (), [("Normal", "Succeeded")]),
    ("rolling-back", b.observe(b.deployment(1, "ROLLBACK_IN_PROGRESS", stage="SCALE_UP")),
     replace(RUNNING, stage="SCALE_UP"), None, None, (), [("Normal", "RollingBack")]),
    ("rolled-back", b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL", stage="SCALE_UP")),
     b.prior(H, 1, Phase.ROLLING_BACK, 1, stage="SCALE_UP"), None, None, (), [("Warning", "RolledBack")]),
    ("failed", b.observe(problem=b.DENIED), b.prior(H, 1, Phase.PENDING), None, None, (), [("Warning", "Failed")]),
    ("read-denied", b.observe(problem=b.DENIED), RUNNING, None, None, (), [("Warning", "ObservationFailed")]),
    ("read-throttled", b.observe(problem=b.THROTTLED), RUNNING, None, None, (), [("Warning", "ObservationFailed")]),
]


@pytest.mark.parametrize(("obs", "before", "action", "result", "notes", "expected"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_one_event_per_transition(obs, before, action, result, notes, expected):
    _, events = _step(obs, before, action, result, notes)
    expected = [e for e in expected if e != ("Normal", "Pending")]
    assert events == expected


@pytest.mark.parametrize("obs", [
    b.observe(b.deployment(1, stage="SCALE_UP")), b.observe(PAUSED), b.observe(b.deployment(1, "SUCCESSFUL")),
    b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL")), b.observe(problem=b.DENIED), b.observe(problem=b.THROTTLED),
    Observation(),
], ids=["deploying", "paused", "succeeded", "rolled-back", "failed", "throttled", "service-missing"])
def test_no_event_when_nothing_changed(obs):
    first, _ = _step(obs, RUNNING)
    second, events = _step(obs, first, now=b.at(2))
    assert events == []
    assert second.conditions == first.conditions


def test_invalid_spec_event_once():
    error = InvalidSpec(["spec.target.region: is required"])
    statuses = [RUNNING]
    events = []
    for minute in range(3):
        new = compute_status(spec=None, invalid=error, observation=None, plan=None, result=None, prior=statuses[-1],
                             generation=2, now=b.at(minute))
        events += transitions(statuses[-1], new, None)
        statuses.append(new)
    assert [(e.type, e.reason) for e in events] == [("Warning", "InvalidSpec")]
    assert events[0].message == "invalid spec: spec.target.region: is required"


def test_full_blue_green_release_replayed_through_plan_and_status():
    """Plan -> (fake) apply -> status -> events over a whole release with a pause: each event appears once."""
    spec = b.release(annotations={"ecsbg.dev/approve": "1"})
    steps = [
        (b.observe(), None),  # intent
        (b.observe(), b.dep_arn(1)),  # start
        (b.observe(b.deployment(1, stage="PRE_SCALE_UP")), None),
        (b.observe(b.deployment(1, stage="PRE_SCALE_UP")), None),  # nothing changed
        (b.observe(b.deployment(1, stage="POST_TEST_TRAFFIC_SHIFT", test=100.0, hooks=(b.pause("p1"),))), None),
        (b.observe(b.deployment(1, stage="POST_TEST_TRAFFIC_SHIFT", test=100.0,
                                hooks=(b.pause("p1", "SUCCEEDED"),))), None),
        (b.observe(b.deployment(1, stage="BAKE_TIME", production=100.0, hooks=(b.pause("p1", "SUCCEEDED"),))), None),
        (b.observe(b.deployment(1, "SUCCESSFUL", stage="CLEAN_UP", production=100.0)), None),
        (b.observe(b.deployment(1, "SUCCESSFUL", stage="CLEAN_UP", production=100.0)), None),
    ]
    status, reasons, phases = ReleaseStatus(), [], []
    for minute, (obs, started) in enumerate(steps):
        p = plan(spec, obs, status, generation=1)
        result = ApplyResult(deployment_arn=started) if isinstance(p.action, StartDeployment) else ApplyResult()
        new = compute_status(spec=spec, invalid=None, observation=obs, plan=p, result=result, prior=status,
                             generation=1, now=b.at(minute))
        reasons += [e.reason for e in transitions(status, new, p, result)]
        phases.append(new.phase.value)
        status = new
    assert reasons == ["AttemptStarted", "DeploymentStarted", "StageChanged", "StageChanged", "AwaitingApproval",
                       "Approved", "HookSucceeded", "StageChanged", "Succeeded"]
    # the approval acts in the reconcile that first sees the pause, so the phase leaves AwaitingApproval next
    assert phases == ["Pending", "Pending", "Deploying", "Deploying", "AwaitingApproval", "Deploying",
                      "Baking", "Succeeded", "Succeeded"]
    assert [(s.stage, s.observed) for s in status.stages] == [
        ("PRE_SCALE_UP", True), ("SCALE_UP", False), ("POST_SCALE_UP", False), ("TEST_TRAFFIC_SHIFT", False),
        ("POST_TEST_TRAFFIC_SHIFT", True), ("PRE_PRODUCTION_TRAFFIC_SHIFT", False),
        ("PRODUCTION_TRAFFIC_SHIFT", False), ("POST_PRODUCTION_TRAFFIC_SHIFT", False), ("BAKE_TIME", True),
        ("CLEAN_UP", False)]
    assert status.requests["approve"] == 1


def _replay(spec, observations, status=None):
    """plan -> status -> events over several polls of attempt 1 of `spec`; returns (final status, every event)."""
    status = status or b.prior(spec.spec_hash, 1, Phase.DEPLOYING, deployment_attempt=1)
    events = []
    for minute, obs in enumerate(observations, 1):
        p = plan(spec, obs, status, generation=1)
        new = compute_status(spec=spec, invalid=None, observation=obs, plan=p, result=ApplyResult(), prior=status,
                             generation=1, now=b.at(minute))
        events += transitions(status, new, p, ApplyResult())
        status = new
    return status, events


def test_hook_results_and_timeouts_are_announced_once_with_their_stage():
    spec = b.release(b.containers_spec(lifecycleHooks=[
        {"type": "Lambda", "functionArn": b.FUNCTION, "stages": ["POST_SCALE_UP"]},
        {"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"], "timeout": {"minutes": 5, "action": "Continue"}}]))
    lam = HookDetail("l1", "AWS_LAMBDA", "IN_PROGRESS", target_arn=b.FUNCTION)
    pause = HookDetail("p1", "PAUSE", "AWAITING_ACTION", timeout_action="CONTINUE")
    _, events = _replay(spec, [
        b.observe(b.deployment(1, stage="POST_SCALE_UP", hooks=(lam,))),
        b.observe(b.deployment(1, stage="POST_SCALE_UP", hooks=(replace(lam, status="SUCCEEDED"),))),
        b.observe(b.deployment(1, stage="POST_TEST_TRAFFIC_SHIFT", hooks=(pause,))),
        b.observe(b.deployment(1, stage="POST_TEST_TRAFFIC_SHIFT", hooks=(replace(pause, status="TIMED_OUT"),))),
        b.observe(b.deployment(1, stage="POST_TEST_TRAFFIC_SHIFT", hooks=(replace(pause, status="TIMED_OUT"),))),
    ])
    hooks = [(e.type, e.reason, e.message) for e in events if e.reason.startswith("Hook")]
    assert hooks == [
        ("Normal", "HookSucceeded", "attempt 1: Lambda hook smoke-test at POST_SCALE_UP succeeded (l1)"),
        ("Warning", "HookTimedOut", "attempt 1: Pause hook at POST_TEST_TRAFFIC_SHIFT timed out (p1); ECS continues")]


def test_stage_changed_names_the_step_and_the_stages_passed_between_polls():
    spec = b.release(b.containers_spec(strategy={"type": "Linear", "linear": {"stepPercent": 50.0}}))
    _, events = _replay(spec, [
        b.observe(b.deployment(1, stage="PRODUCTION_TRAFFIC_SHIFT", production=50.0)),
        b.observe(b.deployment(1, stage="PRODUCTION_TRAFFIC_SHIFT", production=100.0)),
    ])
    changes = [e.message for e in events if e.reason == "StageChanged"]
    assert changes[-1] == ("attempt 1: ECS lifecycle stage PRODUCTION_TRAFFIC_SHIFT, step 2 of 2 (100%) "
                           "(was PRODUCTION_TRAFFIC_SHIFT, step 1 of 2 (50%)); passed between polls: "
                           "PRE_PRODUCTION_TRAFFIC_SHIFT, step 2 of 2 (100%)")


def test_a_malformed_request_is_announced_once_and_never_makes_the_release_invalid():
    spec = b.release(annotations={"ecsbg.dev/approve": "yes"})
    done = b.observe(b.deployment(1, "SUCCESSFUL", stage="CLEAN_UP", production=100.0))
    status, events = _replay(spec, [done, done, done])
    assert status.phase is Phase.SUCCEEDED
    assert [(e.type, e.reason) for e in events] == [("Normal", "Succeeded"), ("Warning", "InvalidRequest")]
    assert status.request_errors == (
        "metadata.annotations[ecsbg.dev/approve]: must be the attempt number to approve (a positive integer, "
        "see status.attempt), got 'yes'",)
    fixed, later = _replay(b.release(), [done], replace(status, spec_hash=b.release().spec_hash))
    assert fixed.request_errors == () and later == []


def test_a_request_ecs_already_carried_out_is_announced():
    note = RequestNote(RequestKind.APPROVE, 3, "applied", "ContinueServiceDeployment CONTINUE for hook(s) p1 (...)")
    decided = Plan(action=Wait(), requests_seen={"approve": 3}, notes=(note,))
    prior = b.prior(b.release().spec_hash, 3, Phase.AWAITING_APPROVAL, 3)
    events = transitions(prior, prior, decided, None)
    assert [(e.type, e.reason) for e in events] == [("Normal", "Approved")]


def test_a_spec_change_during_a_deployment_names_the_superseding_attempt():
    prior = b.prior("0ld", 3, Phase.AWAITING_APPROVAL, 3)
    new = replace(prior, attempt=4, spec_hash="n3w", phase=Phase.PENDING)
    decided = Plan(action=RecordIntent(attempt=4, spec_hash="n3w", base_task_definition_arn=None), requests_seen={})
    superseded = [e for e in transitions(prior, new, decided, None) if e.reason == "AttemptSuperseded"]
    assert len(superseded) == 1
    assert "attempt 3" in superseded[0].message and "attempt 4" in superseded[0].message
    ended = replace(prior, phase=Phase.SUCCEEDED)
    assert not [e for e in transitions(ended, replace(new), decided, None) if e.reason == "AttemptSuperseded"]
