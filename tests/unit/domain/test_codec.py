"""status_to_dict / status_from_dict / status_patch: camelCase per docs/design.md, tolerant reads, nulls."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ecsbg.domain.codec import (
    format_time,
    merge_patch,
    parse_time,
    status_from_dict,
    status_patch,
    status_to_dict,
)
from ecsbg.domain.model import (
    Condition,
    DeploymentRecord,
    Difference,
    HookDetail,
    Phase,
    ReleaseStatus,
    RevisionRecord,
    StageRecord,
    StepInfo,
)
from tests.unit.domain import builders as b
from tests.unit.domain.crd import open_api_schema, schema_errors

STEP = StepInfo(2, 4, 50.0)
FULL = ReleaseStatus(
    observed_generation=4, phase=Phase.AWAITING_APPROVAL, stage="POST_TEST_TRAFFIC_SHIFT", message="waiting",
    attempt=3, attempt_started_at=b.at(-1), spec_hash="1f0c9a2b7d3e4f50", base_task_definition_arn=b.BASE_TD_ARN,
    base_deployment_arn="arn:aws:ecs:us-east-1:1:service-deployment/demo/web/old", revision="web:42",
    deployment=DeploymentRecord(attempt=3, arn="arn:aws:ecs:us-east-1:1:service-deployment/demo/web/abc",
                                status="IN_PROGRESS", status_reason="hook", started_at=b.at(0), finished_at=None,
                                adopted=True),
    source=RevisionRecord("arn:rev/1", b.BASE_TD_ARN), target=RevisionRecord("arn:rev/2", b.TD_ARN),
    production_traffic=0.0, test_traffic=100.0,
    hooks=(HookDetail(hook_id="ecs-pause-1", target_type="PAUSE", status="AWAITING_ACTION",
                      stage="POST_TEST_TRAFFIC_SHIFT", expires_at=b.at(60), timeout_action="ROLLBACK"),
           HookDetail(hook_id="ecs-lambda-1", target_type="AWS_LAMBDA", status="SUCCEEDED",
                      stage="PRE_PRODUCTION_TRAFFIC_SHIFT", step=STEP, target_arn=b.FUNCTION)),
    stages=(StageRecord("PRE_SCALE_UP", b.at(0), b.at(1)),
            StageRecord("SCALE_UP", b.at(0), b.at(1), observed=False),
            StageRecord("PRODUCTION_TRAFFIC_SHIFT", b.at(1), step=STEP),
            StageRecord("TEST_TRAFFIC_SHIFT", b.at(1), rollback=True)),
    step=STEP, target_revision="web:43",
    request_errors=("metadata.annotations[ecsbg.dev/approve]: must be the attempt number",),
    requests={"approve": 2, "reject": None, "abort": None, "retry": 1},
    conditions=(Condition("Ready", "False", "AwaitingApproval", "waiting", b.at(1), 4),
                Condition("Reconciling", "True", "AwaitingApproval", "waiting", b.at(1), 4)),
)
EMPTY_REQUESTS = {"approve": None, "reject": None, "abort": None, "retry": None}


def test_full_status_round_trips():
    assert status_from_dict(status_to_dict(FULL)) == FULL


def test_camel_case_names_of_the_design():
    d = status_to_dict(FULL)
    assert list(d) == ["observedGeneration", "phase", "stage", "message", "attempt", "attemptStartedAt",
                       "specHash", "baseTaskDefinitionArn", "baseDeploymentArn", "revision", "targetRevision",
                       "deployment", "source", "target", "traffic", "hooks", "stages", "step", "requests",
                       "requestErrors", "conditions"]
    assert d["deployment"] == {"attempt": 3, "arn": FULL.deployment.arn, "status": "IN_PROGRESS",
                               "statusReason": "hook", "startedAt": "2026-11-22T10:00:00Z", "adopted": True}
    assert d["attemptStartedAt"] == "2026-11-22T09:59:00Z"
    assert d["hooks"] == [{"hookId": "ecs-pause-1", "stage": "POST_TEST_TRAFFIC_SHIFT", "type": "PAUSE",
                           "status": "AWAITING_ACTION", "expiresAt": "2026-11-22T11:00:00Z",
                           "timeoutAction": "ROLLBACK"},
                          {"hookId": "ecs-lambda-1", "stage": "PRE_PRODUCTION_TRAFFIC_SHIFT",
                           "step": {"number": 2, "count": 4, "trafficPercent": 50.0}, "type": "AWS_LAMBDA",
                           "status": "SUCCEEDED", "targetArn": b.FUNCTION}]
    assert d["traffic"] == {"production": 0.0, "test": 100.0, "summary": "0%"}
    # observed stages omit `observed`; passed ones say false; rollback stages say so
    assert d["stages"] == [
        {"stage": "PRE_SCALE_UP", "startedAt": "2026-11-22T10:00:00Z", "finishedAt": "2026-11-22T10:01:00Z"},
        {"stage": "SCALE_UP", "startedAt": "2026-11-22T10:00:00Z", "finishedAt": "2026-11-22T10:01:00Z",
         "observed": False},
        {"stage": "PRODUCTION_TRAFFIC_SHIFT", "step": {"number": 2, "count": 4, "trafficPercent": 50.0},
         "startedAt": "2026-11-22T10:01:00Z"},
        {"stage": "TEST_TRAFFIC_SHIFT", "startedAt": "2026-11-22T10:01:00Z", "rollback": True}]
    assert (d["step"], d["targetRevision"]) == ({"number": 2, "count": 4, "trafficPercent": 50.0}, "web:43")
    assert d["requestErrors"] == ["metadata.annotations[ecsbg.dev/approve]: must be the attempt number"]
    assert d["conditions"][0] == {"type": "Ready", "status": "False", "reason": "AwaitingApproval",
                                  "message": "waiting", "lastTransitionTime": "2026-11-22T10:01:00Z",
                                  "observedGeneration": 4}


@pytest.mark.parametrize("status", [FULL, ReleaseStatus(), ReleaseStatus(observed_generation=1, phase=Phase.INVALID)],
                         ids=["full", "empty", "invalid"])
def test_written_status_validates_against_the_crd(status):
    schema = open_api_schema()["properties"]["status"]
    assert schema_errors(status_to_dict(status), schema) == []


def test_fresh_cr_status():
    status = status_from_dict({"observedGeneration": -1})
    assert status == ReleaseStatus(requests=EMPTY_REQUESTS)
    assert status_from_dict(None) == status


@pytest.mark.parametrize(("data", "field", "expected"), [
    ({"phase": "Exploded"}, "phase", None),
    ({"attempt": "3"}, "attempt", 0),
    ({"hooks": [{"status": "x"}, "junk", {"hookId": "h"}]}, "hooks", (HookDetail("h", "", ""),)),
    ({"stages": [{"stage": "X"}, {"stage": "Y", "startedAt": "2026-11-22T10:00:00.5+01:00"}]}, "stages",
     (StageRecord("Y", datetime(2026, 11, 22, 10, 0, 0, 500000, tzinfo=timezone(timedelta(hours=1)))),)),
    ({"deployment": {"status": "IN_PROGRESS"}}, "deployment", None),
    ({"traffic": {"production": 25}}, "production_traffic", 25.0),
    ({"requests": {"approve": 3}}, "requests", {**EMPTY_REQUESTS, "approve": 3}),
], ids=["unknown-phase", "string-attempt", "hook-without-id", "stage-without-start", "deployment-without-arn",
        "int-traffic", "partial-requests"])
def test_tolerant_reads(data, field, expected):
    assert getattr(status_from_dict(data), field) == expected


def test_patch_nulls_cleared_fields_at_every_level():
    later = ReleaseStatus(observed_generation=5, phase=Phase.PENDING, attempt=4, spec_hash="ffff",
                          deployment=DeploymentRecord(attempt=3, arn="arn:d", status="SUCCESSFUL"),
                          requests=EMPTY_REQUESTS)
    patch = status_patch(later)
    assert patch["stage"] is None and patch["revision"] is None and patch["traffic"] is None
    assert patch["hooks"] == [] and patch["stages"] == []
    assert patch["deployment"] == {"attempt": 3, "arn": "arn:d", "status": "SUCCESSFUL", "statusReason": None,
                                   "startedAt": None, "finishedAt": None, "rollbackReason": None, "reused": None,
                                   "adopted": None}
    assert _merge(status_to_dict(FULL), patch) == status_to_dict(later)


LATER = ReleaseStatus(observed_generation=5, phase=Phase.PENDING, attempt=4, spec_hash="ffff",
                      deployment=DeploymentRecord(attempt=3, arn="arn:d", status="SUCCESSFUL"),
                      production_traffic=50.0, requests={"approve": 3})


@pytest.mark.parametrize(("before", "after"), [
    ({}, FULL), ({"observedGeneration": -1}, FULL), (status_to_dict(FULL), LATER), (status_to_dict(LATER), FULL),
    (status_to_dict(FULL), FULL),
], ids=["empty-to-full", "fresh-to-full", "full-to-later", "later-to-full", "unchanged"])
def test_merge_patch_reaches_the_new_status(before, after):
    patch = merge_patch(before, after)
    assert _merge(before, patch) == status_to_dict(after)
    changed = {k for k in status_to_dict(after) if before.get(k) != status_to_dict(after)[k]}
    assert set(patch) == changed | {k for k in before if k not in status_to_dict(after)}


def _merge(target, patch):
    """RFC 7386 JSON merge patch, as the API server applies it."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


@pytest.mark.parametrize(("value", "text"), [
    (datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "2026-01-02T03:04:05Z"),
    (datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))), "2026-01-02T03:04:05Z"),
    (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05Z"),
    (None, None),
], ids=["truncates-fraction", "converts-to-utc", "naive-is-utc", "none"])
def test_format_time(value, text):
    assert format_time(value) == text


@pytest.mark.parametrize("text", ["not a time", "", None, 5])
def test_parse_time_rejects_garbage(text):
    assert parse_time(text) is None


def test_drift_and_a_reused_attempt_round_trip():
    drifted = ReleaseStatus(observed_generation=2, phase=Phase.SUCCEEDED, attempt=3, requests=dict.fromkeys(
                                ("approve", "reject", "abort", "retry")),
                            deployment=DeploymentRecord(attempt=3, arn="", status="", reused=True),
                            drift=(Difference("taskDefinition", "web:1", "web:2"),
                                   Difference("loadBalancers.advancedConfiguration", "none", "alternate web-green",
                                              key="web-blue")))
    stored = status_to_dict(drifted)
    assert stored["deployment"] == {"attempt": 3, "reused": True}
    assert stored["drift"][1] == {"field": "loadBalancers.advancedConfiguration", "key": "web-blue",
                                  "running": "none", "expected": "alternate web-green"}
    assert status_from_dict(stored) == drifted
    cleared = status_patch(replace(drifted, drift=(), deployment=None))
    assert cleared["drift"] is None and cleared["deployment"] is None
