"""The plugin's pure parts: the views, the request rules and the watch loop."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime

import pytest

from ecsbg.domain.model import RequestKind
from ecsbg.plugin import kube, render
from ecsbg.plugin.cli import watch
from ecsbg.plugin.operations import decide

NOW = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


def release(phase="AwaitingApproval", *, generation=3, observed=3, attempt=2, hooks=True, annotations=None):
    return {
        "metadata": {"name": "web", "namespace": "shop", "generation": generation, "resourceVersion": "7",
                     "creationTimestamp": "2026-11-22T08:30:00Z", "annotations": annotations or {}},
        "spec": {"target": {"region": "eu-west-1", "cluster": "prod", "service": "web"},
                 "strategy": {"type": "Linear", "bakeTimeInMinutes": 10,
                              "linear": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}}},
        "status": {
            "observedGeneration": observed, "phase": phase, "stage": "POST_TEST_TRAFFIC_SHIFT",
            "message": "attempt 2 paused at POST_TEST_TRAFFIC_SHIFT", "attempt": attempt,
            "specHash": "1f0c9a2b7d3e4f50", "revision": "web:41", "targetRevision": "web:42",
            "deployment": {"attempt": attempt, "arn": "arn:aws:ecs:x:1:service-deployment/prod/web/abc",
                           "status": "IN_PROGRESS", "startedAt": "2026-11-22T10:00:00Z"},
            "traffic": {"production": 0, "test": 100},
            "hooks": [{"hookId": "ecs-pause-1", "stage": "POST_TEST_TRAFFIC_SHIFT", "type": "PAUSE",
                       "status": "AWAITING_ACTION", "expiresAt": "2026-11-22T11:00:00Z",
                       "timeoutAction": "ROLLBACK"}] if hooks else [],
            "stages": [{"stage": "SCALE_UP", "startedAt": "2026-11-22T10:00:00Z", "finishedAt": "2026-11-22T10:02:30Z"},
                       {"stage": "POST_SCALE_UP", "startedAt": "2026-11-22T10:02:30Z",
                        "finishedAt": "2026-11-22T10:05:00Z", "observed": False},
                       {"stage": "POST_TEST_TRAFFIC_SHIFT", "startedAt": "2026-11-22T10:05:00Z"}],
            "requests": {"approve": 1},
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "Reconciling", "status": "True"}],
        },
    }  # fmt: skip


def event(reason, message, at, kind="Normal"):
    return {"reason": reason, "message": message, "type": kind, "lastTimestamp": at}


EVENTS = [
    event("AwaitingApproval", "attempt 2 paused", "2026-11-22T10:06:00Z"),
    event("AttemptStarted", "attempt 2 started", "2026-11-22T09:59:00Z"),
    event("StaleRequest", "approve names attempt 1", "2026-11-22T10:01:00Z", "Warning"),
    event("SomethingElse", "not about attempts", "2026-11-22T10:02:00Z"),
]


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59, "59s"), (60, "1m"), (150, "2m30s"), (3600, "1h"),
                                                (3720, "1h2m"), (90000, "1d1h"), (-5, "0s")])  # fmt: skip
def test_duration(seconds, text):
    assert render.duration(seconds) == text


def test_get_view_shows_state_hooks_stages_events_and_the_next_step():
    text = render.render_release(release(), EVENTS, NOW, max_events=3)
    lines = text.splitlines()
    assert "Phase:       AwaitingApproval  [Ready=False, Reconciling]" in lines
    assert "Strategy:    Linear (25.0% steps every 2m, bake 10m)" in lines
    assert "Attempt:     2   target web:42   spec 1f0c9a2b7d3e4f50" in lines
    assert "Serving:     web:41" in lines
    assert "Deployment:  IN_PROGRESS  started 2026-11-22T10:00:00Z (30m ago)" in lines
    assert "Traffic:     production 0% green, test 100% green" in lines
    hook = next(line for line in lines if "ecs-pause-1" in line).split()
    assert hook[1:] == ["PAUSE", "POST_TEST_TRAFFIC_SHIFT", "AWAITING_ACTION", "2026-11-22T11:00:00Z", "(in", "30m,",
                        "then", "ROLLBACK)"]  # fmt: skip
    assert next(line for line in lines if line.strip().startswith("SCALE_UP")).split()[-1] == "2m30s"
    assert "passed between polls (within 2m30s)" in next(line for line in lines if "POST_SCALE_UP" in line)
    assert next(line for line in lines if line.strip().startswith("POST_TEST")).endswith("25m (running)")
    event_lines = lines[lines.index("Events:") + 2 : lines.index("Events:") + 5]
    assert [line.split()[2] for line in event_lines] == ["StaleRequest", "SomethingElse", "AwaitingApproval"]
    assert lines[-1] == "Next:        kubectl ecsrelease approve web -n shop   (or reject web -n shop)"


def test_linear_steps_are_numbered_in_every_view():
    stepped = release("AwaitingApproval")
    step = {"number": 2, "count": 4, "trafficPercent": 50.0}
    stepped["status"].update(stage="PRE_PRODUCTION_TRAFFIC_SHIFT", step=step,
                             requestErrors=["metadata.annotations[ecsbg.dev/approve]: must be the attempt number"])
    stepped["status"]["hooks"][0].update(stage="PRE_PRODUCTION_TRAFFIC_SHIFT", step=step)
    stepped["status"]["stages"].append({"stage": "PRODUCTION_TRAFFIC_SHIFT", "step": step,
                                        "startedAt": "2026-11-22T10:06:00Z", "rollback": True})
    lines = render.render_release(stepped, [], NOW).splitlines()
    assert "Stage:       PRE_PRODUCTION_TRAFFIC_SHIFT step 2/4 (50%)" in lines
    assert "Ignored:     metadata.annotations[ecsbg.dev/approve]: must be the attempt number" in lines
    assert next(line for line in lines if "ecs-pause-1" in line).split()[2:4] == ["PRE_PRODUCTION_TRAFFIC_SHIFT", "2/4"]
    assert next(line for line in lines if "(rollback)" in line).split()[:4] == [
        "PRODUCTION_TRAFFIC_SHIFT", "(rollback)", "step", "2/4"]
    listed = render.render_list([stepped], NOW).splitlines()[1].split()
    assert listed[2:4] == ["PRE_PRODUCTION_TRAFFIC_SHIFT", "2/4"] and "web:41" in listed


def test_get_view_of_a_spec_not_observed_yet():
    text = render.render_release(release(generation=4), [], NOW)
    assert "Phase:       AwaitingApproval  (generation 4 not observed yet)" in text
    assert "Next:" not in text and "Events:\n  none" in text


def test_next_step_after_a_rollback():
    assert render.next_step(release("RolledBack", hooks=False)) == (
        "fix the cause, then change the spec or run: kubectl ecsrelease retry web -n shop"
    )
    assert render.next_step(release("Deploying", hooks=False)) is None


def test_a_drifted_release_shows_it_and_may_be_retried():
    drifted = release("Succeeded", hooks=False)
    drifted["status"]["drift"] = [{"field": "taskDefinition", "running": "web:41", "expected": "web:42"}]
    drifted["status"]["conditions"] = [{"type": "Ready", "status": "False"}, {"type": "Stalled", "status": "True"},
                                       {"type": "Drifted", "status": "True"}]
    view = render.render_release(drifted, [], NOW)
    assert "Phase:       Succeeded  [Ready=False, Stalled, Drifted]" in view
    assert render.next_step(drifted) == (
        "undo the change made in ECS, or deploy the spec again: kubectl ecsrelease retry web -n shop")
    assert decide(RequestKind.RETRY, drifted).ok


def test_a_reused_attempt_says_no_deployment_was_needed():
    reused = release("Succeeded", hooks=False)
    reused["status"]["deployment"] = {"attempt": 2, "reused": True}
    assert "Deployment:  none needed (attempt 2: ECS already ran this spec)" in render.render_release(reused, [], NOW)


def test_an_adopted_deployment_says_so():
    adopted = release("Succeeded", hooks=False)
    adopted["status"]["deployment"].update(status="SUCCESSFUL", adopted=True)
    view = render.render_release(adopted, [], NOW)
    assert "Deployment:  SUCCESSFUL (adopted after a restart or lost answer)  started" in view


def test_list_view():
    other = release("Succeeded", hooks=False)
    other["metadata"].update(name="api", namespace="ops")
    stale = release("Deploying", generation=5)
    lines = render.render_list([stale, other], NOW, all_namespaces=True).splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "PHASE", "STAGE", "STRATEGY", "ATTEMPT", "REVISION", "PROD",
                                "TEST", "AGE"]  # fmt: skip
    assert [line.split()[:3] for line in lines[1:3]] == [
        ["ops", "api", "Succeeded"],
        ["shop", "web", "Deploying*"],
    ]
    assert lines[2].split()[-3:] == ["0%", "100%", "2h"]
    assert lines[3].startswith("* the operator has not observed")
    assert render.render_list([], NOW) == "No releases found.\n"


def test_list_view_tolerates_bodies_that_bypassed_the_schema():
    """issue 18 defect 5: one release stored past validation must not break `kubectl ecsrelease list -A`."""
    hostile = [{"metadata": {"name": n, "namespace": "ops"}, "spec": spec, "status": status}
               for n, spec, status in (("a", "hello", None), ("b", {"strategy": "BlueGreen"}, "Succeeded"),
                                       ("c", {"strategy": {"type": "Linear"}}, {"traffic": [1]}))]
    lines = render.render_list([release("Succeeded"), *hostile], NOW, all_namespaces=True).splitlines()
    assert [line.split()[:2] for line in lines[1:4]] == [["ops", "a"], ["ops", "b"], ["ops", "c"]]
    assert "Linear" in lines[3]


def test_history_view_keeps_attempt_events_only():
    text = render.render_history(release(), EVENTS, NOW)
    assert "Requests seen: approve for attempt 1" in text
    assert "Deployment of attempt 2: IN_PROGRESS, started 2026-11-22T10:00:00Z" in text
    reasons = [line.split()[2] for line in text.splitlines() if line.startswith("  2026-")]
    assert reasons == ["AttemptStarted", "StaleRequest", "AwaitingApproval"]


@pytest.mark.parametrize(
    ("kind", "phase", "hooks", "ok"),
    [
        (RequestKind.APPROVE, "AwaitingApproval", True, True),
        (RequestKind.REJECT, "AwaitingApproval", True, True),
        (RequestKind.APPROVE, "Deploying", False, False),
        (RequestKind.REJECT, "Succeeded", False, False),
        *[
            (RequestKind.ABORT, p, False, True)
            for p in ("Pending", "Deploying", "AwaitingApproval", "Baking")
        ],
        *[(RequestKind.ABORT, p, False, False) for p in ("Succeeded", "RollingBack", "RolledBack", "Failed")],
        *[(RequestKind.RETRY, p, False, True) for p in ("RolledBack", "Failed")],
        *[(RequestKind.RETRY, p, False, False) for p in ("Succeeded", "Deploying", "Invalid")],
    ],
)
def test_which_requests_apply(kind, phase, hooks, ok):
    decision = decide(kind, release(phase, hooks=hooks))
    assert (decision.ok, decision.attempt, decision.annotation) == (ok, 2, f"ecsbg.dev/{kind.value}")
    if not ok:
        assert decision.message.startswith(f"cannot {kind.value} web: ")


def test_a_named_attempt_must_be_the_current_one():
    assert decide(RequestKind.APPROVE, release(), attempt=2).ok
    stale = decide(RequestKind.APPROVE, release(), attempt=1)
    assert not stale.ok and "attempt 1 is not the current attempt (2)" in stale.message


def test_no_attempt_yet_and_already_requested():
    fresh = release()
    fresh["status"] = {"observedGeneration": -1}
    assert "has not started an attempt yet" in decide(RequestKind.ABORT, fresh).message
    again = decide(RequestKind.APPROVE, release(annotations={"ecsbg.dev/approve": "2"}))
    assert again.ok and again.already


class FakeRelease:
    def __init__(self, obj):
        self.obj, self.name = obj, obj["metadata"]["name"]


def frames_of(states, *, tty=False, timeout=None):
    """Run watch() over a scripted sequence of objects with a fake clock: (exit code, output, sleeps)."""
    objects = iter(states)
    out = io.StringIO()
    out.isatty = lambda: tty  # type: ignore[method-assign]
    sleeps, now = [], [0.0]

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    code = watch(lambda: FakeRelease(next(objects)), lambda r: [], out, interval=2, timeout=timeout,
                 clock=lambda: now[0], sleep=sleep)  # fmt: skip
    return code, out.getvalue(), sleeps


def versioned(obj, version):
    obj = copy.deepcopy(obj)
    obj["metadata"]["resourceVersion"] = str(version)
    return obj


def test_watch_prints_each_change_once_and_ends_with_the_attempt():
    deploying = versioned(release("Deploying", hooks=False), 1)
    baking = versioned(release("Baking", hooks=False), 2)
    succeeded = versioned(release("Succeeded", hooks=False), 3)
    code, output, sleeps = frames_of([deploying, deploying, baking, succeeded])
    assert code == 0 and sleeps == [2, 2, 2]
    assert [line.split()[1] for line in output.splitlines() if line.startswith("Phase:")] == [
        "Deploying", "Baking", "Succeeded"]  # fmt: skip


def test_watch_of_a_rollback_exits_1_and_a_terminal_refreshes_every_interval():
    deploying = versioned(release("Deploying", hooks=False), 1)
    rolled = versioned(release("RolledBack", hooks=False), 2)
    code, output, _ = frames_of([deploying, deploying, rolled], tty=True)
    assert code == 1 and output.count("\x1b[H\x1b[2J") == 3


def test_watch_of_an_unobserved_success_waits_and_times_out():
    succeeded_but_old = versioned(release("Succeeded", generation=4, hooks=False), 1)
    with pytest.raises(kube.PluginError, match="timed out after 5s"):
        frames_of([succeeded_but_old] * 10, timeout=5)


def test_release_view_shows_the_policy_decision_and_pinned_digests():
    body = release()
    digest = "sha256:" + "5" * 64
    body["status"]["policy"] = {"decision": "Allowed", "reason": "PolicyAllows", "name": "team-a",
                                "roleArn": "arn:aws:iam::111122223333:role/ecsbg/team-a"}
    body["status"]["images"] = [{"container": "app", "image": f"r.example/web@{digest}", "digest": digest}]
    text = render.render_release(body, [], NOW)
    assert "Policy:      Allowed by team-a (PolicyAllows), role arn:aws:iam::111122223333:role/ecsbg/team-a" in text
    assert "Images (pinned at attempt start):" in text
    assert f"app        {digest}  r.example/web@{digest}" in text
RUNS = [
    {"attempt": 1, "template": "EcsAnalysisTemplate/error-rate", "hookId": "ecs-pause-0", "stage": "POST_TEST_TRAFFIC_SHIFT",
     "phase": "Failed", "action": "ROLLBACK", "startedAt": "2026-11-22T09:00:00.000Z",
     "message": "metric error-ratio failed: 1 measurement(s) failed, more than failureLimit 0",
     "metrics": [{"name": "error-ratio", "phase": "Failed", "count": 1, "failed": 1, "measurements": [
         {"phase": "Failed", "finishedAt": "2026-11-22T09:00:01.000Z", "value": "[0.5]",
          "message": "successCondition 'result[0] < 0.05' is false"}]}]},
    {"attempt": 2, "template": "EcsAnalysisTemplate/error-rate", "hookId": "ecs-pause-1", "stage": "POST_TEST_TRAFFIC_SHIFT",
     "phase": "Running", "startedAt": "2026-11-22T10:05:00.000Z",
     "metrics": [{"name": "error-ratio", "phase": "Running", "count": 2, "successful": 2, "measurements": [
         {"phase": "Successful", "finishedAt": "2026-11-22T10:05:01.000Z", "value": "[0.01]"},
         {"phase": "Successful", "finishedAt": "2026-11-22T10:05:31.000Z", "value": "[0.02]"}]}]},
]  # fmt: skip


def test_get_view_shows_the_current_attempts_analysis_runs_and_measurements():
    r = release()
    r["status"]["analysisRuns"] = RUNS
    lines = render.render_release(r, EVENTS, NOW).splitlines()
    block = lines[lines.index("Analysis (attempt 2):") + 1: lines.index("Events:")]
    assert block[0].startswith("  attempt 2, hook ecs-pause-1 at POST_TEST_TRAFFIC_SHIFT: "
                               "EcsAnalysisTemplate/error-rate Running")
    assert "metric error-ratio: Running (ok 2, failed 0, inconclusive 0, errors 0)" in block[1]
    assert [line.split()[-1] for line in block[2:4]] == ["[0.01]", "[0.02]"]
    assert not any("attempt 1" in line for line in block)


def test_history_view_shows_every_run_with_its_verdict_and_call():
    r = release()
    r["status"]["analysisRuns"] = RUNS
    text = render.render_history(r, EVENTS + [event("AnalysisFailed", "attempt 1 failed", "2026-11-22T09:00:02Z",
                                                     "Warning")], NOW)
    assert "attempt 1, hook ecs-pause-0 at POST_TEST_TRAFFIC_SHIFT: EcsAnalysisTemplate/error-rate Failed -> ROLLBACK" \
        in text
    assert "[0.5] successCondition 'result[0] < 0.05' is false" in text
    assert "AnalysisFailed" in text
