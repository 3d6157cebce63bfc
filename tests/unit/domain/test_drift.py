"""Drift and "already running" (docs/design.md "Drift", "No surprise redeploys"): table tests of domain.drift,
and of what planning, the status function and the Events make of it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ecsbg.domain.actions import RecordIntent, ReuseRunning, StartDeployment, Wait
from ecsbg.domain.drift import already_running, config_differences, drift, serving_revision
from ecsbg.domain.model import (
    AlarmSpec,
    CircuitBreakerSpec,
    Difference,
    HookSpec,
    LoadBalancerSpec,
    Phase,
    RevisionRecord,
)
from ecsbg.domain.observation import RunningConfig
from ecsbg.domain.planning import plan
from ecsbg.domain.requesters import requesters
from ecsbg.domain.status import compute_status, transitions
from ecsbg.domain.taskdefs import content_hash, render
from tests.unit.domain import builders as b

PAUSE = {"type": "Pause", "stages": ["POST_TEST_TRAFFIC_SHIFT"]}
LB = {"targetGroupArn": b.TG_BLUE, "alternateTargetGroupArn": b.TG_GREEN, "productionListenerRule": b.RULE,
      "testListenerRule": b.RULE, "roleArn": b.LB_ROLE}
SPEC = b.release(b.containers_spec(lifecycleHooks=[PAUSE], loadBalancers=[LB], alarms={"names": ["web-5xx"]},
                                   circuitBreaker={"enable": True, "rollback": True}))
CORRECT = b.release(b.containers_spec(driftPolicy="Correct"))
PLAIN = b.release()
RUNNING = RunningConfig(
    strategy="BLUE_GREEN", bake_time_minutes=10,
    hooks=(HookSpec(type="Pause", stages=("POST_TEST_TRAFFIC_SHIFT",), timeout_minutes=60, timeout_action="Rollback"),),
    alarms=AlarmSpec(names=("web-5xx",)), circuit_breaker=CircuitBreakerSpec(),
    load_balancers=(LoadBalancerSpec(b.TG_BLUE, b.TG_GREEN, b.RULE, b.LB_ROLE, b.RULE),),
)
PLAIN_RUNNING = RunningConfig(strategy="BLUE_GREEN", bake_time_minutes=10)
WEB1 = b.BASE_TD_ARN.replace("web:41", "web:1")


@pytest.mark.parametrize(("running", "fields"), [
    (RUNNING, []),
    (replace(RUNNING, bake_time_minutes=5), ["deploymentConfiguration.bakeTimeInMinutes"]),
    (replace(RUNNING, strategy="ROLLING", bake_time_minutes=None),
     ["deploymentConfiguration.strategy", "deploymentConfiguration.bakeTimeInMinutes"]),
    (replace(RUNNING, hooks=()), ["deploymentConfiguration.lifecycleHooks"]),
    (replace(RUNNING, hooks=(replace(RUNNING.hooks[0], stages=("PRE_SCALE_UP",)),)),
     ["deploymentConfiguration.lifecycleHooks"]),
    (replace(RUNNING, alarms=AlarmSpec(names=("web-5xx",), enable=False)), ["deploymentConfiguration.alarms"]),
    (replace(RUNNING, circuit_breaker=None), ["deploymentConfiguration.deploymentCircuitBreaker"]),
    (replace(RUNNING, load_balancers=()), ["loadBalancers.advancedConfiguration"]),
    (replace(RUNNING, load_balancers=(replace(RUNNING.load_balancers[0], alternate_target_group_arn=b.TG_BLUE),)),
     ["loadBalancers.advancedConfiguration"]),
], ids=["same", "bake-time", "rolling", "hooks-removed", "hook-stage", "alarms-disabled", "breaker-gone",
        "advanced-config-gone", "alternate-target-group"])
def test_config_differences_name_each_owned_member(running, fields):
    assert [d.field for d in config_differences(SPEC, running)] == fields


def test_a_spec_hook_without_timeout_matches_ecs_default_and_unset_alarms_are_not_owned():
    assert config_differences(SPEC, RUNNING) == []  # the spec's Pause has no timeout; ECS describes 60 min
    assert config_differences(PLAIN, replace(PLAIN_RUNNING, alarms=AlarmSpec(names=("other",)))) == []


def test_a_difference_names_both_values():
    (bake,) = config_differences(SPEC, replace(RUNNING, bake_time_minutes=5))
    assert bake.describe() == "deploymentConfiguration.bakeTimeInMinutes: ECS has 5, the release deployed 10"
    (lb,) = config_differences(SPEC, replace(RUNNING, load_balancers=()))
    assert lb.key == "web-blue" and lb.running == "none" and "alternate web-green" in lb.expected


def _done(td: str = b.TD_ARN, **kw) -> object:
    return b.prior(PLAIN.spec_hash, 1, Phase.SUCCEEDED, 1, "SUCCESSFUL", target=RevisionRecord(b.rev_arn(11), td),
                   stage="SCALE_UP", **kw)


@pytest.mark.parametrize(("obs", "expected"), [
    (b.observe(b.deployment(1, "SUCCESSFUL"), config=PLAIN_RUNNING), []),
    (b.observe(b.deployment(1, "SUCCESSFUL"), td=WEB1, config=PLAIN_RUNNING),
     [Difference("taskDefinition", "web:1", "web:42")]),
    (b.observe(b.deployment(1, "SUCCESSFUL"), td=WEB1, config=PLAIN_RUNNING, hashes={WEB1: "c", b.TD_ARN: "c"}), []),
    (b.observe(b.deployment(2, "SUCCESSFUL", td=WEB1), config=PLAIN_RUNNING),
     [Difference("taskDefinition", "web:1", "web:42"), Difference("primaryRevision", "21 (web:1)", "11 (web:42)")]),
    (b.observe(b.deployment(2, "SUCCESSFUL"), config=PLAIN_RUNNING), []),  # a forced redeploy of the same content
], ids=["in-step", "task-definition", "same-content-other-arn", "out-of-band-deployment", "forced-redeploy"])
def test_drift_compares_what_runs_with_what_was_deployed(obs, expected):
    assert list(drift(PLAIN, obs, _done())) == expected


def test_serving_revision_follows_the_traffic():
    ok, back = b.deployment(1, "SUCCESSFUL"), b.deployment(1, "ROLLBACK_SUCCESSFUL")
    assert serving_revision(ok) == ok.target_revision and serving_revision(back) == back.source_revisions[0]
    half = b.deployment(1, production=60.0)
    assert serving_revision(half) == half.target_revision
    assert serving_revision(b.deployment(1, production=10.0)).arn == b.rev_arn(10)
    assert serving_revision(None) is None


WANTED = content_hash(render(b.BASE_CONTENT, PLAIN.task_definition.containers))


@pytest.mark.parametrize(("spec", "obs", "wanted", "running"), [
    (PLAIN, b.observe(b.deployment(1, "SUCCESSFUL"), config=PLAIN_RUNNING, hashes={b.TD_ARN: WANTED}), WANTED, True),
    (PLAIN, b.observe(b.deployment(1, "SUCCESSFUL"), config=PLAIN_RUNNING, hashes={b.TD_ARN: "x"}), WANTED, False),
    (PLAIN, b.observe(b.deployment(1, "SUCCESSFUL"), config=replace(PLAIN_RUNNING, bake_time_minutes=1),
                      hashes={b.TD_ARN: WANTED}), WANTED, False),
    (PLAIN, b.observe(b.deployment(1), config=PLAIN_RUNNING, hashes={b.BASE_TD_ARN: WANTED}), WANTED, False),
    (PLAIN, b.observe(b.deployment(1, "SUCCESSFUL"), hashes={b.TD_ARN: WANTED}), WANTED, False),
    (b.release(b.arn_spec()), b.observe(b.deployment(1, "SUCCESSFUL"), config=PLAIN_RUNNING), None, True),
    (b.release(b.arn_spec()), b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL"), config=PLAIN_RUNNING), None, False),
], ids=["same-content-and-config", "other-content", "other-config", "deployment-in-flight", "config-unknown",
        "arn-names-what-runs", "arn-names-what-was-rolled-back"])
def test_already_running(spec, obs, wanted, running):
    assert already_running(spec, obs, wanted) is running


# ------------------------------------------------------------------------------------- planning and status


def test_a_start_of_what_already_runs_reuses_it():
    obs = b.observe(b.deployment(1, "ROLLBACK_SUCCESSFUL"), config=PLAIN_RUNNING,
                    hashes={b.BASE_TD_ARN: WANTED})
    prior = b.prior(PLAIN.spec_hash, 2, Phase.PENDING, deployment_attempt=1, status="ROLLBACK_SUCCESSFUL")
    decided = plan(PLAIN, obs, prior, generation=1)
    assert decided.action == ReuseRunning(attempt=2, task_definition_arn=b.BASE_TD_ARN, revision_arn=b.rev_arn(10),
                                          current_deployment_arn=b.dep_arn(1))
    status = compute_status(spec=PLAIN, invalid=None, observation=obs, plan=decided, result=None, prior=prior,
                            generation=1, now=b.at(1))
    assert status.phase is Phase.SUCCEEDED and status.deployment.reused and status.revision == "web:41"
    assert status.target == RevisionRecord(b.rev_arn(10), b.BASE_TD_ARN)
    assert "without a deployment" in status.message
    assert [e.reason for e in transitions(prior, status, decided)] == ["DeploymentSkipped", "Succeeded"]
    again = plan(PLAIN, obs, status, generation=1)
    assert again.action == Wait("nothing to do"), "a reused attempt is never adopted nor started later"


def _step(spec, obs, prior):
    decided = plan(spec, obs, prior, generation=1)
    status = compute_status(spec=spec, invalid=None, observation=obs, plan=decided, result=None, prior=prior,
                            generation=1, now=b.at(2))
    return decided, status, transitions(prior, status, decided, requesters={"retry": "alice"})


DRIFTED_OBS = b.observe(b.deployment(1, "SUCCESSFUL"), td=WEB1, config=PLAIN_RUNNING)


def test_report_sets_drifted_not_ready_then_clears_with_events():
    decided, status, events = _step(PLAIN, DRIFTED_OBS, _done())
    assert decided.action == Wait("nothing to do")
    assert status.phase is Phase.SUCCEEDED and status.drift == (Difference("taskDefinition", "web:1", "web:42"),)
    conditions = {c.type: (c.status, c.reason) for c in status.conditions}
    assert conditions == {"Ready": ("False", "Drifted"), "Stalled": ("True", "Drifted"), "Drifted": ("True", "Drifted")}
    assert "taskDefinition: ECS has web:1, the release deployed web:42" in status.message
    assert [(e.type, e.reason, e.action) for e in events] == [("Warning", "Drifted", "DetectDrift")]
    _, same, events = _step(PLAIN, DRIFTED_OBS, status)
    assert events == [] and same.drift == status.drift, "the same drift is announced once"
    _, back, events = _step(PLAIN, b.observe(b.deployment(1, "SUCCESSFUL"), config=PLAIN_RUNNING), status)
    assert back.drift == () and {c.type for c in back.conditions} == {"Ready"}
    assert [(e.type, e.reason) for e in events] == [("Normal", "DriftResolved")]


def test_correct_starts_a_new_attempt_from_the_deployed_base():
    decided, status, events = _step(CORRECT, DRIFTED_OBS, replace(_done(), spec_hash=CORRECT.spec_hash))
    assert decided.action == RecordIntent(attempt=2, spec_hash=CORRECT.spec_hash, base_task_definition_arn=b.BASE_TD_ARN,
                                          drift=(Difference("taskDefinition", "web:1", "web:42"),))
    assert status.phase is Phase.PENDING and status.attempt == 2 and status.drift == ()
    assert [e.reason for e in events] == ["Drifted", "CorrectingDrift", "AttemptStarted"]


def test_correct_waits_for_an_out_of_band_deployment_in_flight():
    obs = b.observe(b.deployment(2, td=WEB1), b.deployment(1, "SUCCESSFUL"), config=PLAIN_RUNNING, td=WEB1)
    decided, status, _ = _step(CORRECT, obs, replace(_done(), spec_hash=CORRECT.spec_hash))
    assert isinstance(decided.action, Wait) and "waits for ECS deployment" in decided.action.reason
    assert status.phase is Phase.SUCCEEDED and status.drift and "once no ECS deployment is in flight" in status.message


def test_retry_redeploys_a_drifted_release_and_names_who_asked():
    drifted = _step(PLAIN, DRIFTED_OBS, _done())[1]
    spec = b.release(b.containers_spec(), {"ecsbg.dev/retry": "1"})
    decided, status, events = _step(spec, DRIFTED_OBS, drifted)
    assert decided.action == RecordIntent(attempt=2, spec_hash=spec.spec_hash, base_task_definition_arn=b.BASE_TD_ARN,
                                          retry_of=1)
    assert ("RetryRequested", "retrying attempt 1 (requested by alice)") in [(e.reason, e.message) for e in events]


def test_the_start_of_a_correction_deploys_the_deployed_content():
    prior = b.prior(CORRECT.spec_hash, 2, Phase.PENDING, deployment_attempt=1, status="SUCCESSFUL")
    decided = plan(CORRECT, replace(DRIFTED_OBS, taskdef_hashes={WEB1: "other"}), prior, generation=1)
    assert decided.action == StartDeployment(attempt=2, spec=CORRECT, base_task_definition_arn=b.BASE_TD_ARN,
                                             taskdef_hash=WANTED)


# -------------------------------------------------------------------------------------------- requesters


def test_requesters_come_from_managed_fields():
    def entry(manager, fields, time, operation="Update"):
        return {"manager": manager, "operation": operation, "time": time, "fieldsV1": fields}

    annotation = {"f:metadata": {"f:annotations": {"f:ecsbg.dev/approve": {}, "f:other": {}}}}
    metadata = {"managedFields": [
        entry("kubectl-annotate", annotation, "2026-11-22T10:00:00Z"),
        entry("alice", annotation, "2026-11-22T10:05:00Z"),
        entry("argocd-controller", {"f:spec": {"f:requests": {"f:retry": {}}}}, "2026-11-22T09:00:00Z", "Apply"),
        entry("kopf", {"f:metadata": {"f:annotations": {"f:kopf.ecsbg.dev/x": {}}}}, "2026-11-22T11:00:00Z"),
    ]}
    assert requesters(metadata) == {"approve": "alice", "retry": "argocd-controller (Apply)"}
    assert requesters({}) == {}


def test_an_ignored_request_names_who_set_it_too():
    stale = b.release(b.containers_spec(), {"ecsbg.dev/approve": "7"})
    prior = _done()
    decided = plan(stale, b.observe(b.deployment(1, "SUCCESSFUL"), config=PLAIN_RUNNING), prior, generation=1)
    status = compute_status(spec=stale, invalid=None, observation=b.observe(b.deployment(1, "SUCCESSFUL")),
                            plan=decided, result=None, prior=prior, generation=1, now=b.at(2))
    (event,) = [e for e in transitions(prior, status, decided, requesters={"approve": "bob"})
                if e.reason == "StaleRequest"]
    assert event.message.endswith("(requested by bob)") and event.action == "IgnoreRequest"


def test_a_pause_hook_analysis_is_the_operators_and_never_drift():
    analysed = b.release(b.containers_spec(
        lifecycleHooks=[{**PAUSE, "analysis": {"templateName": "error-rate"}}], loadBalancers=[LB],
        alarms={"names": ["web-5xx"]}, circuitBreaker={"enable": True, "rollback": True}))
    assert analysed.hooks[0].analysis is not None
    assert config_differences(analysed, RUNNING) == []  # ECS describes the hook without it
