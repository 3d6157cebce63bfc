"""Full BLUE_GREEN, LINEAR, CANARY and ROLLING runs through boto3: stage order, weights, service fields."""

from __future__ import annotations

import pytest

from tests.emulator.helpers import (
    HOOK,
    deploy,
    describe,
    history,
    is_subsequence,
    observe,
    prod_weights,
    stages_of,
    wait_until,
)
from tests.plugins.ecs import seed_service

TRAFFIC_STAGES = [
    "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME",
    "CLEAN_UP",
]


def test_blue_green_walks_every_stage_and_shifts_all_traffic_at_once(ecs, ecs_emulator):
    before = seed_service(ecs, bake_time_in_minutes=10)
    blue = before["currentServiceRevisions"][0]["arn"]
    arn = deploy(ecs)
    seen, final = observe(ecs, arn)

    assert final["status"] == "SUCCESSFUL"
    hist = history(ecs_emulator, arn)
    assert stages_of(hist) == TRAFFIC_STAGES
    assert prod_weights(hist) == [0.0, 100.0]  # one all-at-once shift
    # polled observations follow the same order (brief stages may be skipped at speed 2000)
    polled = [s for _, s, _, _ in seen if s]
    assert is_subsequence([s for i, s in enumerate(polled) if i == 0 or polled[i - 1] != s], TRAFFIC_STAGES)
    assert seen[-1] == ("SUCCESSFUL", "CLEAN_UP", 100.0, 100.0)
    assert all(w in (0.0, 100.0) for _, _, w, _ in seen)
    # test traffic moves before production traffic
    first_test = next(i for i, e in enumerate(hist) if e["testWeight"] == 100.0)
    first_prod = next(i for i, e in enumerate(hist) if e["productionWeight"] == 100.0)
    assert first_test < first_prod
    # blue scaled to 0 in CLEAN_UP and its weights dropped
    source = final["sourceServiceRevisions"][0]
    assert source["arn"] == blue
    assert (source["requestedTaskCount"], source["runningTaskCount"]) == (0, 0)
    assert source["requestedProductionTrafficWeight"] == 0.0
    assert final["targetServiceRevision"]["runningTaskCount"] == 2
    assert final["finishedAt"] >= final["startedAt"]


def test_bake_time_holds_both_revisions_before_clean_up(ecs, ecs_emulator):
    seed_service(ecs, bake_time_in_minutes=1440)  # 43 s at speed 2000; the test ends during the bake
    arn = deploy(ecs)

    dep = wait_until(ecs, arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    assert dep["status"] == "IN_PROGRESS"
    assert dep["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    assert dep["sourceServiceRevisions"][0]["runningTaskCount"] == 2  # blue still running during bake
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert [(d["status"], d["rolloutState"]) for d in svc["deployments"]] == [
        ("PRIMARY", "IN_PROGRESS"), ("ACTIVE", "COMPLETED")]
    assert len(svc["currentServiceRevisions"]) == 2


def test_linear_shifts_in_equal_steps_without_bake_after_100(ecs, ecs_emulator):
    seed_service(ecs, strategy="LINEAR", bake_time_in_minutes=0,
                 linear_configuration={"stepPercent": 25.0, "stepBakeTimeInMinutes": 2})
    arn = deploy(ecs)
    seen, final = observe(ecs, arn)
    assert final["status"] == "SUCCESSFUL"
    hist = history(ecs_emulator, arn)
    assert prod_weights(hist) == [0.0, 25.0, 50.0, 75.0, 100.0]
    observed = [w for _, _, w, _ in seen if w is not None]
    assert is_subsequence(sorted(set(observed)), [0.0, 25.0, 50.0, 75.0, 100.0])
    assert observed == sorted(observed)  # never moves backwards
    # PRE_PRODUCTION_TRAFFIC_SHIFT recurs before every step
    pre = [i for i, e in enumerate(hist) if e["stage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT"
           and (i == 0 or hist[i - 1]["stage"] != "PRE_PRODUCTION_TRAFFIC_SHIFT")]
    assert len(pre) == 4
    # the last step is not followed by a step bake: 100 % then straight to POST_PRODUCTION_TRAFFIC_SHIFT
    last = max(i for i, e in enumerate(hist) if e["productionWeight"] == 100.0 and e["stage"] == "PRODUCTION_TRAFFIC_SHIFT")
    assert hist[last + 1]["stage"] == "POST_PRODUCTION_TRAFFIC_SHIFT"


def test_linear_step_that_does_not_divide_100_ends_at_100(ecs, ecs_emulator):
    seed_service(ecs, strategy="LINEAR", bake_time_in_minutes=0,
                 linear_configuration={"stepPercent": 30.0, "stepBakeTimeInMinutes": 0})
    arn = deploy(ecs)
    observe(ecs, arn)
    assert prod_weights(history(ecs_emulator, arn)) == [0.0, 30.0, 60.0, 90.0, 100.0]


def test_canary_shifts_canary_percent_then_the_rest(ecs, ecs_emulator):
    seed_service(ecs, strategy="CANARY", bake_time_in_minutes=1,
                 canary_configuration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5})
    arn = deploy(ecs)
    _, final = observe(ecs, arn)
    assert final["status"] == "SUCCESSFUL"
    hist = history(ecs_emulator, arn)
    assert prod_weights(hist) == [0.0, 10.0, 100.0]
    assert stages_of(hist) == TRAFFIC_STAGES[:5] + [
        "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"] * 2 + TRAFFIC_STAGES[-3:]
    # while the canary bakes, blue keeps the other 90 %
    canary = [e for e in hist if e["productionWeight"] == 10.0]
    assert canary and {e["stage"] for e in canary} == {"PRODUCTION_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT"}


def test_rolling_has_no_traffic_stages(ecs, ecs_emulator):
    seed_service(ecs, strategy="ROLLING", bake_time_in_minutes=0)
    arn = deploy(ecs)
    _, final = observe(ecs, arn)
    assert final["status"] == "SUCCESSFUL"
    assert stages_of(history(ecs_emulator, arn)) == ["PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "CLEAN_UP"]
    assert "requestedProductionTrafficWeight" not in final["targetServiceRevision"]


def test_service_fields_follow_the_deployment(ecs):
    seed_service(ecs, bake_time_in_minutes=1)
    arn = deploy(ecs)
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    # UpdateService points the service at the new revision at once (full ARN), with a new current deployment
    assert svc["taskDefinition"].endswith(":2") and svc["taskDefinition"].startswith("arn:aws:ecs:us-east-1:")
    assert svc["currentServiceDeployment"] == arn
    final = observe(ecs, arn)[1]
    svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert [r["arn"] for r in svc["currentServiceRevisions"]] == [final["targetServiceRevision"]["arn"]]
    assert [(d["status"], d["rolloutState"]) for d in svc["deployments"]] == [("PRIMARY", "COMPLETED")]
    assert svc["runningCount"] == 2


def test_revisions_alternate_target_groups(ecs):
    seed_service(ecs, bake_time_in_minutes=0)
    first = ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"][0]
    second = describe(ecs, deploy(ecs))
    observe(ecs, second["serviceDeploymentArn"])
    revs = ecs.describe_service_revisions(
        serviceRevisionArns=[first["targetServiceRevisionArn"], second["targetServiceRevision"]["arn"]]
    )["serviceRevisions"]
    tgs = [r["resolvedConfiguration"]["loadBalancers"][0]["targetGroupArn"] for r in revs]
    assert "web-blue" in tgs[0] and "web-green" in tgs[1]
    assert revs[1]["taskDefinition"].endswith("web:2")
    assert revs[1]["containerImages"][0]["imageDigest"].startswith("sha256:")
    assert revs[0]["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"


def test_switching_from_rolling_to_blue_green_starts_from_the_running_revision(ecs, ecs_emulator):
    seed_service(ecs, strategy="ROLLING", bake_time_in_minutes=0)
    hook = {"hookTargetArn": HOOK + "check", "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"]}
    arn = deploy(ecs, deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0,
                                               "lifecycleHooks": [hook]})
    _, final = observe(ecs, arn)
    assert final["status"] == "SUCCESSFUL"
    hist = history(ecs_emulator, arn)
    assert prod_weights(hist) == [0.0, 100.0] and stages_of(hist) == TRAFFIC_STAGES
    (call,) = ecs_emulator.control.state()["hookInvocations"]
    blue, green = final["sourceServiceRevisions"][0]["arn"], final["targetServiceRevision"]["arn"]
    assert call["event"]["executionDetails"]["productionTrafficWeights"] == {blue: 100.0, green: 0.0}


def test_non_ecs_controller_refuses_a_deployment(ecs):
    seed_service(ecs, strategy="ROLLING", bake_time_in_minutes=0)
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        deploy(ecs, deploymentController={"type": "EXTERNAL"})
