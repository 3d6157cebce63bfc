"""ecsbg.aws.apply's claim: the ecsbg.dev/owner tag is written, read back after the settle time, and a start goes
on only when it stayed ours (ECS tags have no compare-and-set: the later of two concurrent writers keeps the tag)."""

from __future__ import annotations

import pytest

from ecsbg.aws import apply
from ecsbg.aws.translate import RequestBuildError
from ecsbg.domain.model import Target

TARGET = Target(region="eu-west-1", cluster="prod", service="web")
ARN = "arn:aws:ecs:eu-west-1:111122223333:service/prod/web"


class Calls:
    """DescribeServices answers with whatever tag a racing writer left; TagResource records ours."""

    def __init__(self, racer: str | None) -> None:
        self.racer, self.tag, self.log = racer, None, []

    def call(self, operation: str, **params):
        self.log.append(operation)
        if operation == "TagResource":
            self.tag = params["tags"][0]["value"]
            return {}
        tag = self.racer or self.tag
        return {"services": [{"serviceArn": ARN, "tags": [{"key": "ecsbg.dev/owner", "value": tag}] if tag else []}]}


@pytest.fixture(autouse=True)
def no_settle(monkeypatch):
    monkeypatch.setattr(apply, "CLAIM_SETTLE_SECONDS", 0.0)


def test_a_claim_that_stayed_ours_goes_on():
    calls = Calls(racer=None)
    apply.tag_owner(calls, {"serviceArn": ARN}, "cluster-a/team/web")
    again = apply.check_claim(apply.describe_service(calls, TARGET), TARGET, "cluster-a/team/web")
    assert calls.log == ["TagResource", "DescribeServices"]
    assert again["tags"] == [{"key": "ecsbg.dev/owner", "value": "cluster-a/team/web"}]


def test_a_claim_overwritten_by_a_concurrent_one_backs_off_before_any_deployment():
    calls = Calls(racer="cluster-b/team/web")
    apply.tag_owner(calls, {"serviceArn": ARN}, "cluster-a/team/web")
    with pytest.raises(RequestBuildError) as refused:
        apply.check_claim(apply.describe_service(calls, TARGET), TARGET, "cluster-a/team/web")
    assert refused.value.code == "ServiceOwnedElsewhere" and "cluster-b/team/web" in str(refused.value)
    assert "UpdateService" not in calls.log
