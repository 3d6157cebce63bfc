"""domain.notifications: status transitions -> notification intents (table), subscriptions, messages, and the
status.notifications record (once per transition, results folded in, bounded)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ecsbg.domain import notifications as n
from ecsbg.domain.analysis.model import AnalysisRun, Verdict
from ecsbg.domain.model import DeploymentRecord, Difference, HookDetail, Phase, ReleaseStatus, StepInfo

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
PAUSE = HookDetail("hook-1", "PAUSE", "AWAITING_ACTION", stage="POST_TEST_TRAFFIC_SHIFT", expires_at=EXPIRES,
                   timeout_action="ROLLBACK")
DEPLOYING = ReleaseStatus(phase=Phase.DEPLOYING, attempt=3, spec_hash="abc",
                          deployment=DeploymentRecord(3, "arn:dep/3", "IN_PROGRESS"))
AWAITING = replace(DEPLOYING, phase=Phase.AWAITING_APPROVAL, hooks=(PAUSE,))


def _rolled_back(reason: str | None = None, **changes) -> ReleaseStatus:
    return replace(DEPLOYING, phase=Phase.ROLLED_BACK, message="rolled back",
                   deployment=DeploymentRecord(3, "arn:dep/3", "ROLLBACK_SUCCESSFUL", rollback_reason=reason), **changes)


def _run(phase: Verdict, action: str | None = None) -> AnalysisRun:
    return AnalysisRun(3, "EcsAnalysisTemplate/smoke", T0, stage="BAKE_TIME", phase=phase, message="5xx ok",
                       action=action)


ROWS = [
    ("nothing changed", DEPLOYING, DEPLOYING, []),
    ("new attempt", ReleaseStatus(attempt=2, phase=Phase.SUCCEEDED), replace(DEPLOYING, phase=Phase.PENDING),
     [("3/AttemptStarted", "AttemptStarted", None)]),
    ("pause starts waiting", DEPLOYING, AWAITING, [("3/AwaitingApproval/hook-1", "AwaitingApproval", None)]),
    ("still waiting: nothing new", AWAITING, AWAITING, []),
    ("a second step's pause", AWAITING,
     replace(AWAITING, hooks=(replace(PAUSE, status="SUCCEEDED"), replace(PAUSE, hook_id="hook-2"))),
     [("3/AwaitingApproval/hook-2", "AwaitingApproval", None)]),
    ("lambda hook in progress is no approval", DEPLOYING,
     replace(DEPLOYING, hooks=(HookDetail("l1", "AWS_LAMBDA", "AWAITING_ACTION"),)), []),
    ("succeeded", DEPLOYING, replace(DEPLOYING, phase=Phase.SUCCEEDED), [("3/Succeeded", "Succeeded", None)]),
    ("failed", DEPLOYING, replace(DEPLOYING, phase=Phase.FAILED), [("3/Failed", "Failed", None)]),
    ("rolled back: alarm", DEPLOYING, _rolled_back("CloudWatch alarm web-5xx is in ALARM state."),
     [("3/RolledBack", "RolledBack", "alarm")]),
    ("rolled back: circuit breaker", DEPLOYING, _rolled_back("ECS deployment circuit breaker: 3 tasks failed"),
     [("3/RolledBack", "RolledBack", "circuitBreaker")]),
    ("rolled back: hook", DEPLOYING, _rolled_back("Lifecycle hook h timed out at POST_TEST_TRAFFIC_SHIFT."),
     [("3/RolledBack", "RolledBack", "hook")]),
    ("rolled back: failed hook, no reason", DEPLOYING,
     _rolled_back(None, hooks=(HookDetail("l1", "AWS_LAMBDA", "FAILED"),)), [("3/RolledBack", "RolledBack", "hook")]),
    ("rolled back: analysis", replace(DEPLOYING, analysis_runs=(_run(Verdict.FAILED, "STOP_ROLLBACK"),)),
     _rolled_back("stopped", analysis_runs=(_run(Verdict.FAILED, "STOP_ROLLBACK"),)),
     [("3/RolledBack", "RolledBack", "analysis")]),
    ("rolled back: no reason given", DEPLOYING, _rolled_back(None), [("3/RolledBack", "RolledBack", "ecs")]),
    ("aborted", DEPLOYING, _rolled_back("stopped", requests={"abort": 3}), [("3/Aborted", "Aborted", "abort")]),
    ("rejected", AWAITING, _rolled_back("hook", requests={"reject": 3}), [("3/Aborted", "Aborted", "reject")]),
    ("an old attempt's abort is no abort", DEPLOYING, _rolled_back("alarm x", requests={"abort": 2}),
     [("3/RolledBack", "RolledBack", "alarm")]),
    ("analysis verdict", DEPLOYING, replace(DEPLOYING, analysis_runs=(_run(Verdict.SUCCESSFUL),)),
     [("3/AnalysisVerdict/bake", "AnalysisVerdict", "Successful")]),
    ("analysis still running", DEPLOYING, replace(DEPLOYING, analysis_runs=(_run(Verdict.RUNNING),)), []),
    ("drifted", replace(DEPLOYING, phase=Phase.SUCCEEDED),
     replace(DEPLOYING, phase=Phase.SUCCEEDED, drift=(Difference("taskDefinition", "web:9", "web:8"),)),
     [(None, "Drifted", None)]),
]


@pytest.mark.parametrize(("prior", "new", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_transitions_give_intents(prior, new, expected) -> None:
    got = n.intents(prior, new, namespace="team", name="web")
    assert [(i.id if e[0] else None, i.trigger, i.reason) for i, e in zip(got, expected, strict=False)] == expected
    assert len(got) == len(expected)


def test_awaiting_approval_names_expiry_and_the_exact_commands() -> None:
    (intent,) = n.intents(DEPLOYING, AWAITING, namespace="team", name="web")
    facts = dict(intent.facts)
    assert facts["expires"] == "2026-12-03T13:00:00Z" and facts["on expiry"] == "ECS will roll back"
    assert facts["approve"] == "kubectl ecsrelease approve web -n team --attempt 3"
    assert facts["reject"] == "kubectl ecsrelease reject web -n team --attempt 3"
    assert facts["approve (annotation)"] == "kubectl annotate ecsreleases/web -n team ecsbg.dev/approve=3 --overwrite"
    assert "until 2026-12-03T13:00:00Z" in intent.summary and intent.severity == "warning"


def test_linear_step_pause_names_its_step() -> None:
    hook = replace(PAUSE, step=StepInfo(2, 5, 40.0))
    (intent,) = n.intents(DEPLOYING, replace(AWAITING, hooks=(hook,)), namespace="team", name="web")
    assert dict(intent.facts)["stage"] == "POST_TEST_TRAFFIC_SHIFT, step 2 of 5 (40%)"


def test_drift_changing_is_a_new_transition_and_the_same_drift_is_not() -> None:
    one = replace(DEPLOYING, phase=Phase.SUCCEEDED, drift=(Difference("taskDefinition", "web:9", "web:8"),))
    two = replace(one, drift=(Difference("taskDefinition", "web:10", "web:8"),))
    first, second = n.intents(DEPLOYING, one, namespace="a", name="b"), n.intents(one, two, namespace="a", name="b")
    assert first[0].id != second[0].id
    assert n.intents(one, one, namespace="a", name="b") == []


BODY = {"metadata": {"annotations": {"ecsbg.dev/notify.oncall": "RolledBack, Failed",
                                     "ecsbg.dev/notify-cluster.platform": "*",
                                     "ecsbg.dev/approve": "3"}},
        "spec": {"notifications": [
            {"providerRef": {"name": "team-slack"}, "triggers": ["AwaitingApproval", "Succeeded"],
             "template": "${release} needs you: ${approve}"},
            {"providerRef": {"kind": "EcsNotificationProvider", "name": "oncall"}, "triggers": ["Aborted"]},
        ]}}


def test_subscriptions_merge_spec_and_annotations() -> None:
    subs, problems = n.subscriptions(BODY)
    by = {s.provider: s for s in subs}
    assert problems == []
    assert by["EcsNotificationProvider/team-slack"].triggers == {"AwaitingApproval", "Succeeded"}
    assert by["EcsNotificationProvider/oncall"].triggers == {"Aborted", "RolledBack", "Failed"}
    assert by["ClusterEcsNotificationProvider/platform"].triggers == set(n.TRIGGERS)


@pytest.mark.parametrize(("body", "problem"), [
    ({"metadata": {"annotations": {"ecsbg.dev/notify.x": "RolledBak"}}}, "unknown trigger(s) RolledBak"),
    ({"spec": {"notifications": [{"triggers": ["Failed"]}]}}, "providerRef needs a name"),
    ({"spec": {"notifications": [{"providerRef": {"kind": "Secret", "name": "x"}, "triggers": ["Failed"]}]}},
     "providerRef needs a name and kind"),
    ({"spec": {"notifications": "all"}}, None),
    ({"spec": "hello", "metadata": []}, None),
])
def test_bad_subscriptions_are_reported_not_raised(body, problem) -> None:
    subs, problems = n.subscriptions(body)
    assert subs == []
    assert (problem in problems[0]) if problem else problems == []


def test_templates_render_placeholders_and_keep_unknown_ones() -> None:
    (intent,) = n.intents(DEPLOYING, AWAITING, namespace="team", name="web")
    text = n.render(intent, namespace="team", name="web", template="${release} #${attempt}: ${approve} ${nope}")
    assert text == "team/web #3: kubectl ecsrelease approve web -n team --attempt 3 ${nope}"
    assert n.render(intent, namespace="team", name="web").startswith("team/web: attempt 3 awaits approval")


def test_record_once_per_transition_then_results_fold_in() -> None:
    subs, _ = n.subscriptions(BODY)
    intents = n.intents(DEPLOYING, AWAITING, namespace="team", name="web")
    entries = n.record([], intents, subs, T0, namespace="team", name="web")
    (entry,) = entries
    assert [d["provider"] for d in entry["deliveries"]] == ["EcsNotificationProvider/team-slack",
                                                            "ClusterEcsNotificationProvider/platform"]
    assert entry["deliveries"][0]["message"].startswith("team/web needs you: kubectl ecsrelease approve")
    assert n.record(entries, intents, subs, T0, namespace="team", name="web") == entries  # never twice
    assert len(n.pending(entries)) == 2
    done = n.apply_results(entries, {(entry["id"], "EcsNotificationProvider/team-slack"): n.Result("Delivered", 1)})
    assert [d["state"] for d in done[0]["deliveries"]] == ["Delivered", "Pending"]
    assert "message" not in done[0]["deliveries"][0] and "facts" in done[0]
    done = n.apply_results(done, {(entry["id"], "ClusterEcsNotificationProvider/platform"):
                                  n.Result("Failed", 5, "HTTP 500")})
    assert done[0]["deliveries"][1] == {"provider": "ClusterEcsNotificationProvider/platform", "state": "Failed",
                                        "tries": 5, "error": "HTTP 500"}
    assert "facts" not in done[0] and n.pending(done) == []


def test_unsubscribed_triggers_record_nothing() -> None:
    subs, _ = n.subscriptions({"metadata": {"annotations": {"ecsbg.dev/notify.x": "Failed"}}})
    assert n.record([], n.intents(DEPLOYING, AWAITING, namespace="a", name="b"), subs, T0,
                    namespace="a", name="b") == []


def test_finished_entries_are_bounded_pending_ones_never_dropped() -> None:
    subs = [n.Subscription(n.PROVIDER_KIND, "p", frozenset(n.TRIGGERS))]
    entries: list = []
    for attempt in range(1, 30):
        entries = n.record(entries, [n.Intent(f"{attempt}/Succeeded", "Succeeded", attempt, "ok")], subs, T0,
                           namespace="a", name="b")
        if attempt > 1:  # every entry but the first is delivered
            entries = n.apply_results(entries, {(f"{attempt}/Succeeded", "EcsNotificationProvider/p"):
                                                n.Result("Delivered", 1)})
    assert entries[0]["id"] == "1/Succeeded" and len(entries) == 1 + n.MAX_FINISHED_RECORDS
    assert entries[-1]["id"] == "29/Succeeded"
