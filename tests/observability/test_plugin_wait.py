"""`kubectl ecsrelease wait`: the verdict table (pure) and the exit codes of the polling command."""

from __future__ import annotations

import io

import pytest

from ecsbg.plugin import cli
from ecsbg.plugin.waiting import Until, UsageError, Verdict, judge, parse_until


def release(phase: str | None, *, generation: int = 2, observed: int = 2, attempt: int = 3, deployment_attempt=3,
            production=None, stages=(), message: str = "msg") -> dict:
    status = {"observedGeneration": observed, "phase": phase, "attempt": attempt, "message": message,
              "deployment": {"attempt": deployment_attempt},
              "stages": [{"stage": s, "startedAt": "2026-11-22T10:00:00Z"} if isinstance(s, str) else s
                         for s in stages]}
    if production is not None:
        status["traffic"] = {"production": production, "test": 100}
    return {"metadata": {"name": "web", "generation": generation}, "status": status}


@pytest.mark.parametrize("text, want", [
    ("deployed", Until("deployed")), ("paused", Until("paused")), ("succeeded", Until("succeeded")),
    ("stage:BAKE_TIME", Until("stage", "BAKE_TIME")),
])
def test_parse_until(text, want):
    assert parse_until(text) == want and str(want) == text


@pytest.mark.parametrize("text", ["done", "stage:", "stage:bake", "Succeeded"])
def test_parse_until_refuses(text):
    with pytest.raises(UsageError, match="deployed, paused, succeeded or stage:"):
        parse_until(text)


BAKE = Until("stage", "BAKE_TIME")
CASES = [
    # (release, until, state)
    (release("Succeeded", observed=1), Until("succeeded"), "waiting"),        # an older generation's status
    (release("Deploying"), Until("succeeded"), "waiting"),
    (release("Succeeded"), Until("succeeded"), "reached"),
    (release("RolledBack", message="attempt 3 rolled back by ECS: alarm web-5xx"), Until("succeeded"), "failed"),
    (release("RollingBack"), Until("succeeded"), "failed"),                   # fails as soon as ECS rolls back
    (release("Failed"), BAKE, "failed"),
    (release("Invalid"), Until("paused"), "failed"),
    (release("Deploying", production=0), Until("deployed"), "waiting"),
    (release("Baking", production=100), Until("deployed"), "reached"),
    (release("Baking", production=100, deployment_attempt=2), Until("deployed"), "waiting"),  # older attempt's
    (release("Succeeded"), Until("deployed"), "reached"),
    (release("AwaitingApproval"), Until("paused"), "reached"),
    (release("Deploying"), Until("paused"), "waiting"),
    (release("Succeeded"), Until("paused"), "failed"),                        # finished without a pause
    (release("Deploying", stages=["SCALE_UP", "TEST_TRAFFIC_SHIFT"]), BAKE, "waiting"),
    (release("Baking", stages=["SCALE_UP", "PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME"]), BAKE, "reached"),
    (release("Deploying", stages=["SCALE_UP", "BAKE_TIME", "CLEAN_UP"]), BAKE, "reached"),  # passed between polls
    (release("Deploying", stages=[{"stage": "BAKE_TIME", "startedAt": "x", "rollback": True}]), BAKE, "waiting"),
    (release("Succeeded"), BAKE, "reached"),
]


@pytest.mark.parametrize("obj, until, state", CASES)
def test_verdicts(obj, until, state):
    assert judge(obj, until).state == state


def test_a_held_attempt_is_waited_for_not_taken_for_the_previous_ones_success():
    held = release("Succeeded")
    held["status"]["plan"] = {"attempt": 4, "specHash": "abc"}
    verdict = judge(held, Until("succeeded"))
    assert verdict == Verdict("waiting", "web: spec.paused holds attempt 4; set spec.paused to false to start it")


def test_a_rollback_names_the_reason():
    verdict = judge(release("RolledBack", message="attempt 3 rolled back by ECS: alarm web-5xx in ALARM"),
                    Until("succeeded"))
    assert verdict.reason == ("web is RolledBack before reaching succeeded: attempt 3 rolled back by ECS: alarm "
                              "web-5xx in ALARM")


def poll(sequence, until: str, timeout: float | None = None):
    reads = iter(sequence)
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    out, err = io.StringIO(), io.StringIO()
    code = cli.wait_for(lambda: next(reads), parse_until(until), out, err, interval=5, timeout=timeout,
                        clock=lambda: now[0], sleep=sleep)
    return code, out.getvalue(), err.getvalue(), now[0]


def test_wait_exits_0_when_reached():
    code, out, err, _ = poll([release("Deploying"), release("Baking", stages=["BAKE_TIME"])], "stage:BAKE_TIME")
    assert code == 0 and "web reached stage:BAKE_TIME" in out and err == ""


def test_wait_exits_1_with_the_reason_on_rollback():
    code, _, err, _ = poll([release("Deploying"), release("RolledBack", message="hook failed")], "succeeded")
    assert code == 1 and err == "error: web is RolledBack before reaching succeeded: hook failed\n"


def test_wait_exits_3_on_timeout_with_the_last_state():
    code, _, err, waited = poll([release("Deploying", message="at SCALE_UP")] * 10, "succeeded", timeout=12)
    assert code == 3 and waited >= 12
    assert err == "error: timed out after 12s waiting for succeeded; last: web: Deploying at SCALE_UP\n"
