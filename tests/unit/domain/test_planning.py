"""plan(): one rule per row, first match wins (docs/design.md "Operations", "Attempts, hashes and idempotency")."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ecsbg.domain.actions import (
    AdoptDeployment,
    ContinueHooks,
    RecordIntent,
    ReuseRunning,
    StartDeployment,
    StopDeployment,
    Wait,
)
from ecsbg.domain.model import Phase, RequestKind
from ecsbg.domain.observation import Observation, RunningConfig
from ecsbg.domain.planning import plan
from ecsbg.domain.taskdefs import content_hash, render
from tests.unit.domain import builders as b

CONTAINERS = b.release()
ARN = b.release(b.arn_spec())
H = CONTAINERS.spec_hash
HA = ARN.spec_hash
WANTED = content_hash(render(b.BASE_CONTENT, CONTAINERS.task_definition.containers))


def _with(spec_release, annotations):
    return b.release(b.containers_spec() if spec_release is CONTAINERS else b.arn_spec(), annotations)


# The service runs the `arn` spec's deployment configuration (domain.drift.already_running reads it).
RUNNING_CONFIG = RunningConfig(strategy="BLUE_GREEN", bake_time_minutes=10)
# Attempt 2's intent was written at b.at(0), when ECS's current deployment was attempt 1's (d1, recorded); ECS
# reports d7 now: created after the intent. CURRENT_AT_INTENT: d7 was already ECS's current deployment then.
AFTER_INTENT = b.prior(HA, 2, Phase.PENDING, deployment_attempt=1, status="SUCCESSFUL", base=None,
                       attempt_started_at=b.at(0), base_deployment_arn=b.dep_arn(1))
CURRENT_AT_INTENT = replace(AFTER_INTENT, base_deployment_arn=b.dep_arn(7))


def _done(status="SUCCESSFUL", td=b.TD_ARN, **kw):
    """ECS's deployment d7, over: a SUCCESSFUL one brought in `td`, what the service then runs."""
    return b.deployment(7, status, stage="CLEAN_UP" if status == "SUCCESSFUL" else "TEST_TRAFFIC_SHIFT", td=td, **kw)


def _ran(deployment):
    return b.observe(deployment, config=RUNNING_CONFIG)


# (id, release, observation, prior status, expected action)
ROWS = [
    # --- reading failed or service unusable: never write
    ("observe-failed-waits", CONTAINERS, b.observe(problem=b.THROTTLED), b.prior(None, 0, None),
     Wait("reading ECS failed: ThrottlingException")),
    ("service-missing-waits", CONTAINERS, Observation(), b.prior(None, 0, None), Wait),
    ("service-draining-waits", CONTAINERS, b.observe(status="DRAINING"), b.prior(None, 0, None), Wait),
    ("codedeploy-controller-waits", CONTAINERS, b.observe(deployment_controller="CODE_DEPLOY"), b.prior(None, 0, None),
     Wait),
    # --- a new spec hash records the intent first, with the service's task definition as base
    ("first-spec-records-intent", CONTAINERS, b.observe(td=b.BASE_TD_ARN), b.prior(None, 0, None),
     RecordIntent(attempt=1, spec_hash=H, base_task_definition_arn=b.BASE_TD_ARN)),
    ("arn-form-has-no-base", ARN, b.observe(), b.prior(None, 0, None),
     RecordIntent(attempt=1, spec_hash=HA, base_task_definition_arn=None)),
    ("changed-spec-mid-deployment-new-attempt", CONTAINERS, b.observe(b.deployment(2)),
     b.prior("0ld", 2, deployment_attempt=2), RecordIntent(attempt=3, spec_hash=H, base_task_definition_arn=b.BASE_TD_ARN)),
    ("changed-spec-after-rollback-new-attempt", ARN, b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL")),
     b.prior("0ld", 1, Phase.ROLLED_BACK, 1, "ROLLBACK_SUCCESSFUL"),
     RecordIntent(attempt=2, spec_hash=HA, base_task_definition_arn=None)),
    # --- intent recorded, deployment not: start, or adopt what a crashed run started
    ("intent-recorded-starts", CONTAINERS, b.observe(), b.prior(H, 1, Phase.PENDING),
     StartDeployment(attempt=1, spec=CONTAINERS, base_task_definition_arn=b.BASE_TD_ARN, taskdef_hash=WANTED)),
    ("arn-form-starts-without-taskdef-hash", ARN, b.observe(), b.prior(HA, 1, Phase.PENDING, base=None),
     StartDeployment(attempt=1, spec=ARN, base_task_definition_arn=None, taskdef_hash=None)),
    ("crash-after-update-service-adopts-containers", CONTAINERS, b.observe(b.deployment(7, td=b.NEW_TD_ARN),
                                                                           taskdef_hash=WANTED),
     b.prior(H, 1, Phase.PENDING), AdoptDeployment(attempt=1, deployment_arn=b.dep_arn(7))),
    ("crash-after-update-service-adopts-arn", ARN, b.observe(b.deployment(7, "SUCCESSFUL", td=b.TD_ARN)),
     b.prior(HA, 2, Phase.PENDING, deployment_attempt=1, status="SUCCESSFUL", base=None),
     AdoptDeployment(attempt=2, deployment_arn=b.dep_arn(7))),
    ("other-taskdef-is-not-adopted", ARN, b.observe(b.deployment(7, td=b.NEW_TD_ARN)),
     b.prior(HA, 1, Phase.PENDING, base=None), StartDeployment),
    ("other-taskdef-hash-is-not-adopted", CONTAINERS, b.observe(b.deployment(7), taskdef_hash="ffffffffffffffff"),
     b.prior(H, 1, Phase.PENDING), StartDeployment),
    ("untagged-taskdef-is-not-adopted", CONTAINERS, b.observe(b.deployment(7)), b.prior(H, 1, Phase.PENDING),
     StartDeployment),
    ("previous-attempts-deployment-is-not-adopted", ARN, b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL")),
     b.prior(HA, 2, Phase.PENDING, deployment_attempt=1, status="ROLLBACK_SUCCESSFUL", base=None), StartDeployment),
    ("refused-start-waits-for-retry", CONTAINERS, b.observe(), b.prior(H, 1, Phase.FAILED), Wait),
    # --- ...or finished it while no operator ran (issue 12): a deployment newer than the one current at the intent
    ("finished-after-intent-is-adopted", ARN, _ran(_done()), AFTER_INTENT,
     AdoptDeployment(attempt=2, deployment_arn=b.dep_arn(7))),
    ("finished-when-none-was-current-at-intent-is-adopted", ARN, _ran(_done()),
     replace(AFTER_INTENT, base_deployment_arn=None), AdoptDeployment(attempt=2, deployment_arn=b.dep_arn(7))),
    ("finished-before-intent-is-reused", ARN, _ran(_done()), CURRENT_AT_INTENT, ReuseRunning),
    ("no-intent-time-is-reused-as-before", ARN, _ran(_done()), replace(AFTER_INTENT, attempt_started_at=None),
     ReuseRunning),
    ("rolled-back-after-intent-is-adopted", ARN, _ran(_done("ROLLBACK_SUCCESSFUL")), AFTER_INTENT,
     AdoptDeployment(attempt=2, deployment_arn=b.dep_arn(7))),
    ("rolled-back-before-intent-is-not-the-attempts", ARN, _ran(_done("ROLLBACK_SUCCESSFUL")), CURRENT_AT_INTENT,
     StartDeployment),
    ("rolled-back-without-intent-time-is-adopted-as-before", ARN, _ran(_done("ROLLBACK_SUCCESSFUL")),
     replace(CURRENT_AT_INTENT, attempt_started_at=None), AdoptDeployment(attempt=2, deployment_arn=b.dep_arn(7))),
    ("in-flight-before-intent-is-adopted-not-stopped", ARN, _ran(b.deployment(7)), CURRENT_AT_INTENT,
     AdoptDeployment(attempt=2, deployment_arn=b.dep_arn(7))),
    ("other-taskdef-after-intent-is-not-adopted", ARN, _ran(_done(td=b.NEW_TD_ARN)), AFTER_INTENT, StartDeployment),
    # --- deploying or deployed: the same spec is never deployed twice
    ("deploying-waits", CONTAINERS, b.observe(b.deployment(1)), b.prior(H, 1, deployment_attempt=1), Wait),
    ("succeeded-waits", CONTAINERS, b.observe(b.deployment(1, "SUCCESSFUL")),
     b.prior(H, 1, Phase.SUCCEEDED, 1, "SUCCESSFUL"), Wait),
    ("ecs-rollback-does-not-redeploy", CONTAINERS, b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL")),
     b.prior(H, 1, Phase.ROLLED_BACK, 1, "ROLLBACK_SUCCESSFUL"), Wait),
    ("failed-does-not-redeploy", CONTAINERS, b.observe(b.deployment(1, "ROLLBACK_FAILED")),
     b.prior(H, 1, Phase.FAILED, 1, "ROLLBACK_FAILED"), Wait),
]


@pytest.mark.parametrize(("spec", "obs", "before", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_rules(spec, obs, before, expected):
    action = plan(spec, obs, before, generation=1).action
    if isinstance(expected, type):
        assert isinstance(action, expected), action
    else:
        assert action == expected


AWAITING = b.deployment(3, stage="POST_TEST_TRAFFIC_SHIFT", hooks=(b.pause("p1"), b.pause("p2"),
                                                                  b.pause("p0", "SUCCEEDED")))
DEPLOYING_3 = b.prior(H, 3, Phase.AWAITING_APPROVAL, deployment_attempt=3)

# (id, annotations, observed deployment, prior, expected action)
REQUESTS = [
    ("approve-continues-every-waiting-pause", {"ecsbg.dev/approve": "3"}, AWAITING, DEPLOYING_3,
     ContinueHooks(b.dep_arn(3), ("p1", "p2"), "CONTINUE", RequestKind.APPROVE)),
    ("reject-rolls-back", {"ecsbg.dev/reject": "3"}, AWAITING, DEPLOYING_3,
     ContinueHooks(b.dep_arn(3), ("p1", "p2"), "ROLLBACK", RequestKind.REJECT)),
    ("reject-wins-over-approve", {"ecsbg.dev/reject": "3", "ecsbg.dev/approve": "3"}, AWAITING, DEPLOYING_3,
     ContinueHooks(b.dep_arn(3), ("p1", "p2"), "ROLLBACK", RequestKind.REJECT)),
    ("abort-wins-over-everything", {"ecsbg.dev/abort": "3", "ecsbg.dev/approve": "3"}, AWAITING, DEPLOYING_3,
     StopDeployment(b.dep_arn(3))),
    ("abort-during-bake", {"ecsbg.dev/abort": "3"}, b.deployment(3, stage="BAKE_TIME"), DEPLOYING_3,
     StopDeployment(b.dep_arn(3))),
    ("abort-pending", {"ecsbg.dev/abort": "3"}, b.deployment(3, "PENDING", stage=None), DEPLOYING_3,
     StopDeployment(b.dep_arn(3))),
    ("abort-already-rolling-back-waits", {"ecsbg.dev/abort": "3"}, b.deployment(3, "ROLLBACK_REQUESTED"),
     DEPLOYING_3, Wait),
    ("abort-after-success-waits", {"ecsbg.dev/abort": "3"}, b.deployment(3, "SUCCESSFUL"),
     b.prior(H, 3, Phase.SUCCEEDED, 3, "SUCCESSFUL"), Wait),
    ("approve-before-pause-waits", {"ecsbg.dev/approve": "3"}, b.deployment(3), DEPLOYING_3, Wait),
    ("approve-already-acted-waits", {"ecsbg.dev/approve": "3"},
     b.deployment(3, hooks=(b.pause("p1", "SUCCEEDED"),)), DEPLOYING_3, Wait),
    ("stale-approve-never-acts", {"ecsbg.dev/approve": "2"}, AWAITING, DEPLOYING_3, Wait),
    ("stale-abort-never-acts", {"ecsbg.dev/abort": "2"}, b.deployment(3), DEPLOYING_3, Wait),
    ("lambda-hooks-are-not-approved", {"ecsbg.dev/approve": "3"},
     b.deployment(3, hooks=(b.HookDetail("l1", "AWS_LAMBDA", "AWAITING_ACTION"),)), DEPLOYING_3, Wait),
    ("retry-after-rollback-starts-next-attempt", {"ecsbg.dev/retry": "3"}, b.deployment(3, "ROLLBACK_SUCCESSFUL"),
     b.prior(H, 3, Phase.ROLLED_BACK, 3, "ROLLBACK_SUCCESSFUL"),
     RecordIntent(attempt=4, spec_hash=H, base_task_definition_arn=b.BASE_TD_ARN, retry_of=3)),
    ("retry-after-failure", {"ecsbg.dev/retry": "3"}, None, b.prior(H, 3, Phase.FAILED),
     RecordIntent(attempt=4, spec_hash=H, base_task_definition_arn=b.BASE_TD_ARN, retry_of=3)),
    ("retry-while-deploying-waits", {"ecsbg.dev/retry": "3"}, b.deployment(3), DEPLOYING_3, Wait),
    ("retry-after-success-waits", {"ecsbg.dev/retry": "3"}, b.deployment(3, "SUCCESSFUL"),
     b.prior(H, 3, Phase.SUCCEEDED, 3, "SUCCESSFUL"), Wait),
    ("old-retry-after-next-attempt-waits", {"ecsbg.dev/retry": "2"}, b.deployment(3, "ROLLBACK_SUCCESSFUL"),
     b.prior(H, 3, Phase.ROLLED_BACK, 3, "ROLLBACK_SUCCESSFUL"), Wait),
]


@pytest.mark.parametrize(("annotations", "deployment", "before", "expected"), [r[1:] for r in REQUESTS],
                         ids=[r[0] for r in REQUESTS])
def test_requests(annotations, deployment, before, expected):
    spec = _with(CONTAINERS, annotations)
    action = plan(spec, b.observe(deployment), before, generation=1).action
    if isinstance(expected, type):
        assert isinstance(action, expected), action
    else:
        assert action == expected


def test_request_in_spec_acts_like_annotation():
    spec = b.release(b.containers_spec(requests={"approve": 3}))
    action = plan(spec, b.observe(AWAITING), DEPLOYING_3, generation=1).action
    assert action == ContinueHooks(b.dep_arn(3), ("p1", "p2"), "CONTINUE", RequestKind.APPROVE)


def test_request_for_a_deployment_ecs_did_not_return_waits():
    spec = _with(CONTAINERS, {"ecsbg.dev/abort": "3"})
    assert isinstance(plan(spec, b.observe(b.deployment(9)), DEPLOYING_3, generation=1).action, Wait)


# (id, annotations, prior status, expected requests_seen (subset), expected notes as (kind, attempt, result))
SEEN = [
    ("nothing-named", {}, DEPLOYING_3, {"approve": None}, []),
    ("current-attempt-no-note", {"ecsbg.dev/approve": "3"}, DEPLOYING_3, {"approve": 3}, []),
    ("stale-first-time-noted", {"ecsbg.dev/approve": "2"}, DEPLOYING_3, {"approve": 2}, [("approve", 2, "stale")]),
    ("stale-second-time-silent", {"ecsbg.dev/approve": "2"},
     b.prior(H, 3, Phase.AWAITING_APPROVAL, 3, requests={"approve": 2}), {"approve": 2}, []),
    ("future-attempt-is-stale", {"ecsbg.dev/abort": "5"}, DEPLOYING_3, {"abort": 5}, [("abort", 5, "stale")]),
    ("older-than-seen-silent", {"ecsbg.dev/approve": "1"},
     b.prior(H, 3, Phase.AWAITING_APPROVAL, 3, requests={"approve": 3}), {"approve": 3}, []),
    ("approve-after-success-not-applicable", {"ecsbg.dev/approve": "3"},
     b.prior(H, 3, Phase.SUCCEEDED, 3, "SUCCESSFUL"), {"approve": 3}, [("approve", 3, "not_applicable")]),
    ("retry-after-success-not-applicable", {"ecsbg.dev/retry": "3"},
     b.prior(H, 3, Phase.SUCCEEDED, 3, "SUCCESSFUL"), {"retry": 3}, [("retry", 3, "not_applicable")]),
    ("acting-retry-is-not-stale", {"ecsbg.dev/retry": "3"},
     b.prior(H, 3, Phase.ROLLED_BACK, 3, "ROLLBACK_SUCCESSFUL"), {"retry": 3}, []),
]


@pytest.mark.parametrize(("annotations", "before", "seen", "notes"), [r[1:] for r in SEEN], ids=[r[0] for r in SEEN])
def test_requests_seen_and_notes(annotations, before, seen, notes):
    spec = _with(CONTAINERS, annotations)
    result = plan(spec, b.observe(b.deployment(3, "SUCCESSFUL")), before, generation=1)
    assert {k: result.requests_seen[k] for k in seen} == seen
    assert set(result.requests_seen) == {"approve", "reject", "abort", "retry"}
    assert [(n.request.value, n.attempt, n.result) for n in result.notes] == notes
    for note in result.notes:
        assert f"{note.request.value} {note.attempt} ignored" in note.message


def test_approval_that_names_the_attempt_a_spec_change_starts_is_not_stale():
    spec = b.release(b.containers_spec(requests={"approve": 4}))
    result = plan(spec, b.observe(b.deployment(3, "SUCCESSFUL")), b.prior("0ld", 3, Phase.SUCCEEDED, 3, "SUCCESSFUL"),
                  generation=2)
    assert isinstance(result.action, RecordIntent) and result.action.attempt == 4
    assert result.notes == ()


def test_restart_at_every_step_never_starts_twice():
    """Replays the two-phase start with the status each step would leave behind: one StartDeployment only."""
    spec, observation = CONTAINERS, b.observe()
    fresh = b.prior(None, 0, None)
    intent = plan(spec, observation, fresh, generation=1).action
    assert isinstance(intent, RecordIntent)
    after_intent = b.prior(H, intent.attempt, Phase.PENDING, base=intent.base_task_definition_arn)
    start = plan(spec, observation, after_intent, generation=1).action
    assert isinstance(start, StartDeployment)
    # crash before recording: ECS now runs the deployment, tagged with the hash we asked for
    started = b.deployment(1, td=b.NEW_TD_ARN)
    crashed_view = b.observe(started, taskdef_hash=start.taskdef_hash)
    assert plan(spec, crashed_view, after_intent, generation=1).action == AdoptDeployment(1, started.arn)
    recorded = b.prior(H, 1, Phase.PENDING, deployment_attempt=1)  # dep_arn(1) == started.arn
    assert isinstance(plan(spec, crashed_view, recorded, generation=1).action, Wait)


# A pass sent ContinueServiceDeployment and the operator was killed before writing its status: the status still
# shows the pause AWAITING_ACTION and no request seen; ECS reports the hook ended the way the request asked.
WAITING_3 = b.prior(H, 3, Phase.AWAITING_APPROVAL, deployment_attempt=3, hooks=(b.pause("p1"),))


@pytest.mark.parametrize(("annotations", "hook_status", "notes"), [
    ({"ecsbg.dev/approve": "3"}, "SUCCEEDED", [("approve", 3, "applied")]),
    ({"ecsbg.dev/reject": "3"}, "FAILED", [("reject", 3, "applied")]),
    ({"ecsbg.dev/approve": "3"}, "FAILED", []),  # rolled back by something else: not our approval
    ({"ecsbg.dev/approve": "3"}, "AWAITING_ACTION", []),  # not done yet: the normal path acts
    ({"ecsbg.dev/approve": "2"}, "SUCCEEDED", [("approve", 2, "stale")]),
], ids=["approve-done-by-ecs", "reject-done-by-ecs", "other-outcome", "still-waiting", "stale"])
def test_a_request_ecs_already_carried_out_is_recorded_once(annotations, hook_status, notes):
    spec = _with(CONTAINERS, annotations)
    observed = b.observe(b.deployment(3, stage="POST_TEST_TRAFFIC_SHIFT", hooks=(b.pause("p1", hook_status),)))
    result = plan(spec, observed, WAITING_3, generation=1)
    assert [(n.request.value, n.attempt, n.result) for n in result.notes] == notes
    if notes and notes[0][2] == "applied":
        assert "p1" in result.notes[0].message and "recorded late" in result.notes[0].message
        again = plan(spec, observed, b.prior(H, 3, Phase.DEPLOYING, 3, hooks=(b.pause("p1", hook_status),),
                                             requests=result.requests_seen), generation=1)
        assert again.notes == (), "recorded once"


# ECS lists only the hooks of the stage in progress: a continued pause vanishes from the list once the deployment
# moves on, so the late approval is recognised from the deployment having left the pause's stage.
WAITING_AT_POST_TEST = b.prior(H, 3, Phase.AWAITING_APPROVAL, deployment_attempt=3,
                               hooks=(b.pause("p1", stage="POST_TEST_TRAFFIC_SHIFT"),))


@pytest.mark.parametrize(("status", "stage", "timeout_action", "applied"), [
    ("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", "ROLLBACK", True),
    ("SUCCESSFUL", None, "ROLLBACK", True),
    ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", "ROLLBACK", False),  # still at the pause's stage: not proof
    ("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", "CONTINUE", False),  # a CONTINUE timeout may have done it
    ("ROLLBACK_IN_PROGRESS", "TEST_TRAFFIC_SHIFT", "ROLLBACK", False),  # rolled back: not an approval
], ids=["moved-on", "succeeded", "same-stage", "continue-timeout", "rolling-back"])
def test_a_continued_pause_ecs_no_longer_lists_is_a_late_approval(status, stage, timeout_action, applied):
    prior = replace(WAITING_AT_POST_TEST, hooks=(replace(WAITING_AT_POST_TEST.hooks[0], timeout_action=timeout_action),))
    observed = b.observe(b.deployment(3, status=status, stage=stage))  # the pause is not listed any more
    result = plan(_with(CONTAINERS, {"ecsbg.dev/approve": "3"}), observed, prior, generation=1)
    assert [(n.request.value, n.result) for n in result.notes] == ([("approve", "applied")] if applied else [])


def test_the_wanted_content_is_rendered_once_per_spec_and_base_revision(monkeypatch):
    """A revision never changes: the hash of what a start registers is rendered once per (spec, base ARN), and a
    different base revision (or spec) is rendered again, never answered from another's."""
    from ecsbg.domain import planning

    rendered = []
    monkeypatch.setattr(planning, "render", lambda *a, **k: rendered.append(1) or render(*a, **k))
    monkeypatch.setattr(planning, "_wanted", {})
    base = {**b.BASE_CONTENT, "taskDefinitionArn": b.BASE_TD_ARN}
    other = {**base, "taskDefinitionArn": b.BASE_TD_ARN + "0", "memory": "1024"}  # a revision with more memory
    after_intent = b.prior(H, 1, Phase.PENDING)
    first = [plan(CONTAINERS, b.observe(base=base), after_intent, generation=1).action for _ in range(3)]
    assert len(rendered) == 1 and {a.taskdef_hash for a in first} == {WANTED}
    moved = plan(CONTAINERS, b.observe(base=other), after_intent, generation=1).action
    assert len(rendered) == 2 and moved.taskdef_hash == content_hash(render(other, CONTAINERS.task_definition.containers))
    assert moved.taskdef_hash != WANTED
