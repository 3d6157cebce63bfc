"""Condition reasons must match metav1.Condition's pattern, or the API server rejects the whole status patch."""

from __future__ import annotations

import re

import pytest

from ecsbg.domain.conditions import ConditionSpec, build_conditions, reason_of
from tests.unit.domain import builders as b
from tests.unit.domain.crd import open_api_schema

REASON = open_api_schema()["properties"]["status"]["properties"]["conditions"]["items"]["properties"]["reason"]


@pytest.mark.parametrize(("text", "reason"), [
    ("ROLLBACK_FAILED", "RollbackFailed"),
    ("STOPPED", "Stopped"),
    ("AccessDeniedException", "AccessDeniedException"),
    ("Client.Throttling", "ClientThrottling"),
    ("404 not-found", "notfound"),
    ("", "Unknown"),
    ("___", "Unknown"),
], ids=["ecs-status", "one-word-status", "aws-code", "dotted-code", "leading-digits", "empty", "only-separators"])
def test_reason_of(text, reason):
    assert reason_of(text) == reason
    assert re.fullmatch(REASON["pattern"], reason)


def test_only_true_abnormal_conditions_are_present():
    conditions = build_conditions(ConditionSpec(True, "Succeeded"), "done", (), generation=3, now=b.at(0))
    assert [(c.type, c.status) for c in conditions] == [("Ready", "True")]
    conditions = build_conditions(ConditionSpec(False, "RolledBack", stalled_reason="RolledBack"), "x", conditions,
                                  generation=4, now=b.at(1))
    assert [(c.type, c.status, c.last_transition_time, c.observed_generation) for c in conditions] == [
        ("Ready", "False", b.at(1), 4), ("Stalled", "True", b.at(1), 4)]
