"""Rollbacks (manual, alarm, circuit breaker, injected failure) and a deployment superseded by a newer one."""

from __future__ import annotations

import pytest

from tests.emulator.helpers import (
    deploy,
    describe,
    history,
    new_revision,
    observe,
    stages_of,
    wait_finished,
    wait_until,
)
from tests.plugins.ecs import seed_service


def test_manual_rollback_during_bake(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=1440)  # 43 s at speed 2000: the rollback cuts it short
    arn = deploy(ecs)
    wait_until(ecs, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    assert ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")["serviceDeploymentArn"] == arn
    final = wait_finished(ecs, arn)
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert final["rollback"]["reason"] and final["rollback"]["startedAt"]
    statuses = [e["status"] for e in history(ecs_emulator, arn)]
    i = statuses.index("ROLLBACK_REQUESTED")
    assert statuses[i - 1] == "IN_PROGRESS"
    assert sorted(set(statuses[i:]), key=statuses.index) == [
        "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    assert stages_of(history(ecs_emulator, arn)[i:]) == [
        "BAKE_TIME", "PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT", "CLEAN_UP"]
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert svc["taskDefinition"].endswith("web:1")
    assert [r["arn"] for r in svc["currentServiceRevisions"]] == [final["sourceServiceRevisions"][0]["arn"]]
    assert [(d["status"], d["rolloutState"], d["taskDefinition"][-5:]) for d in svc["deployments"]] == [
        ("PRIMARY", "COMPLETED", "web:1")]
    ecs.get_waiter("services_stable").wait(cluster="demo", services=["web"])  # botocore's own criteria hold


def test_manual_rollback_while_pending(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0)
    ecs_emulator.control.set_speed(0.1)  # PENDING now lasts 20 real seconds
    arn = deploy(ecs)
    ecs_emulator.control.set_speed(2000.0)
    assert describe(ecs, arn)["status"] == "PENDING"
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    final = wait_finished(ecs, arn)
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert "SCALE_UP" not in stages_of(history(ecs_emulator, arn))


def test_stop_errors(ecs, raw_ecs):
    seed_service(ecs, bake_time_in_minutes=0)
    arn = deploy(ecs)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ABORT")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        raw_ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="HALT")
    assert wait_finished(ecs, arn)["status"] == "SUCCESSFUL"
    with pytest.raises(ecs.exceptions.ConflictException) as err:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert err.value.response["resourceIds"] == [arn]
    with pytest.raises(ecs.exceptions.ServiceDeploymentNotFoundException):
        ecs.stop_service_deployment(serviceDeploymentArn=arn + "nope", stopType="ROLLBACK")


def test_alarm_rolls_back(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=1440, alarms={"alarmNames": ["web-5xx"], "enable": True, "rollback": True})
    arn = deploy(ecs)
    wait_until(ecs, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    assert describe(ecs, arn)["alarms"]["status"] == "MONITORING"
    ecs_emulator.control.set_alarm("web-5xx", "ALARM")
    final = wait_finished(ecs, arn)
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert final["alarms"] == {"status": "TRIGGERED", "alarmNames": ["web-5xx"], "triggeredAlarmNames": ["web-5xx"]}
    assert "web-5xx" in final["rollback"]["reason"]


def test_alarm_already_firing_at_start_is_ignored(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0, alarms={"alarmNames": ["old"], "enable": True, "rollback": True})
    ecs_emulator.control.set_alarm("old", "ALARM")
    final = observe(ecs, deploy(ecs))[1]
    assert final["status"] == "SUCCESSFUL" and final["alarms"]["status"] == "MONITORING_COMPLETE"


def test_alarm_without_rollback_stops(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=1440, alarms={"alarmNames": ["a"], "enable": True, "rollback": False})
    arn = deploy(ecs)
    wait_until(ecs, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    ecs_emulator.control.set_alarm("a", "ALARM")
    assert wait_finished(ecs, arn)["status"] == "STOPPED"


def test_circuit_breaker_rolls_back_when_tasks_fail(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0, circuit_breaker={"enable": True, "rollback": True})
    ecs_emulator.control.fail_tasks("demo", "web")  # every launch fails
    final = wait_finished(ecs, deploy(ecs))
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    breaker = final["deploymentCircuitBreaker"]
    assert breaker["status"] == "TRIGGERED" and breaker["threshold"] == 3  # BOUNDED_PERCENT 50 % of 2, min 3
    assert breaker["failureCount"] >= 3
    forward = [e for e in history(ecs_emulator, final["serviceDeploymentArn"]) if e["status"] == "IN_PROGRESS"]
    assert "TEST_TRAFFIC_SHIFT" not in stages_of(forward)  # it never got past SCALE_UP


def test_a_few_failed_tasks_below_the_threshold_are_retried(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=0, circuit_breaker={"enable": True, "rollback": True})
    ecs_emulator.control.fail_tasks("demo", "web", count=1)
    final = wait_finished(ecs, deploy(ecs))
    assert final["status"] == "SUCCESSFUL"
    assert final["deploymentCircuitBreaker"] == {"status": "MONITORING_COMPLETE", "failureCount": 1, "threshold": 3}


def test_injected_rollback_failure(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=1440)
    arn = deploy(ecs)
    wait_until(ecs, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    ecs_emulator.control.fail_next_rollback("demo", "web")
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert wait_finished(ecs, arn)["status"] == "ROLLBACK_FAILED"


def test_second_update_stops_the_first_and_reconciles(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=1440)
    first = deploy(ecs)
    wait_until(ecs, first, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    second = deploy(ecs, taskDefinition=new_revision(ecs, "public.ecr.aws/nginx/nginx:1.29"),
                    deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0})
    statuses = [e["status"] for e in history(ecs_emulator, first)]
    assert statuses[-1] in ("STOP_REQUESTED", "STOPPED")
    assert wait_finished(ecs, first)["status"] == "STOPPED"
    final = observe(ecs, second)[1]
    assert final["status"] == "SUCCESSFUL"
    # two revisions were ACTIVE when the second one started, so RECONCILE_SERVICE runs first
    assert stages_of(history(ecs_emulator, second))[0] == "RECONCILE_SERVICE"
    assert len(final["sourceServiceRevisions"]) == 2
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert svc["taskDefinition"].endswith("web:3") and len(svc["currentServiceRevisions"]) == 1


def test_update_without_trigger_starts_no_deployment(ecs):
    svc = seed_service(ecs, bake_time_in_minutes=0)
    ecs.update_service(cluster="demo", service="web", desiredCount=3,
                       deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5})
    after = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert after["currentServiceDeployment"] == svc["currentServiceDeployment"]
    assert after["desiredCount"] == 3 and after["deploymentConfiguration"]["bakeTimeInMinutes"] == 5
    forced = ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)["service"]
    assert forced["currentServiceDeployment"] != svc["currentServiceDeployment"]
    assert forced["taskDefinition"] == svc["taskDefinition"]
