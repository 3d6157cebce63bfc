"""We test, end to end, that a spec ECS would refuse (or that would deploy to the wrong place) is refused before
any AWS write, with a specific condition, and leaves no orphan task definition revision; and that the
one-release-per-service rule tells two accounts apart.

Each case prints `writes=<n>` (write requests that reached the emulator, refused ones included), the figure
reported for issue 18.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.conftest import ReleaseEnv, release_manifest
from tests.plugins.ecs import ACCOUNT

WRITES = ("UpdateService", "RegisterTaskDefinition", "ContinueServiceDeployment", "StopServiceDeployment")
OTHER = "999999999999"


def _writes(env: ReleaseEnv) -> int:
    """Write requests since seeding, whatever ECS answered: a refused UpdateService is still a write attempt."""
    return sum(1 for r in env.ecs.requests[env.seeded:] if r["operation"] in WRITES)


def _revisions(env: ReleaseEnv) -> int:
    return len(env.client.list_task_definitions(familyPrefix="web")["taskDefinitionArns"])


def _stalled(status: dict[str, Any]) -> dict[str, Any]:
    return {c["type"]: c for c in status.get("conditions") or []}.get("Stalled") or {}


def _other_account(body: dict[str, Any]) -> None:
    for lb in body["spec"]["loadBalancers"]:
        for key in lb:
            lb[key] = lb[key].replace(ACCOUNT, OTHER)


def _unused_target_group(body: dict[str, Any]) -> None:
    body["spec"]["loadBalancers"][0]["targetGroupArn"] = (
        f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/not-this-service/0123456789abcdef")


def _too_large(body: dict[str, Any]) -> None:
    body["spec"]["taskDefinition"]["containers"][0]["environment"] = [
        {"name": f"BLOB_{i}", "value": "x" * 1000} for i in range(70)]


CASES = [
    ("unknown-task-definition-arn",
     lambda b: b["spec"].update(taskDefinition={"arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:99"}),
     "Failed", "TaskDefinitionNotFound", "task-definition/web:99"),
    ("target-group-not-on-the-service", _unused_target_group, "Failed", "InvalidServiceConfiguration",
     "not-this-service"),
    ("task-definition-over-64-KiB", _too_large, "Failed", "TaskDefinitionTooLarge", "65536"),
    ("cluster-arn-in-another-region",
     lambda b: b["spec"]["target"].update(cluster=f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/demo"),
     "Invalid", "InvalidSpec", "is in region eu-west-1"),
    ("role-in-another-account",
     lambda b: b["spec"]["target"].update(roleArn=f"arn:aws:iam::{OTHER}:role/ecsbg-deployer"),
     "Invalid", "InvalidSpec", f"the release acts in account {OTHER}"),
    ("arns-of-another-account-than-ecs-answers", _other_account, "Invalid", "InvalidSpec",
     f"the operator acts in account {ACCOUNT}"),
]


@pytest.mark.parametrize(("change", "phase", "reason", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_invalid_spec_makes_no_aws_write(release_env: ReleaseEnv, change, phase: str, reason: str,
                                            fragment: str) -> None:
    env = release_env
    revisions = _revisions(env)
    env.start_operator()
    body = release_manifest("web", env.namespace)
    change(body)
    env.apply(body)
    status = env.wait_phase("web", phase, "Succeeded", "Deploying", "Pending", "Baking", timeout=30)
    status = env.wait_phase("web", "Invalid", "Failed", "Succeeded", timeout=30)
    time.sleep(0.5)  # several more polls: nothing is retried against AWS either
    print(f"writes={_writes(env)} revisions_added={_revisions(env) - revisions} phase={status['phase']}")
    assert status["phase"] == phase, status
    assert _stalled(status).get("reason") == reason, status
    assert fragment in status["message"], status["message"]
    assert _writes(env) == 0
    assert _revisions(env) == revisions, "no orphan task definition revision"


def test_a_step_percent_ecs_refuses_is_invalid_before_any_write(release_env: ReleaseEnv) -> None:
    """stepPercent 3.05 (ECS wants multiples of 0.1): the operator's parser refuses it, so nothing reaches ECS.
    The CRD cannot say it: kube-apiserver refuses every integral value against a fractional multipleOf."""
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace, strategy={"type": "Linear", "linear": {"stepPercent": 3.05}}))
    status = env.wait_phase("web", "Invalid")
    assert "multiple of 0.1" in status["message"], status["message"]
    assert _writes(env) == 0


def test_same_names_in_two_accounts_are_not_a_conflict(release_env: ReleaseEnv) -> None:
    """Release `a` names demo/web in account 999999999999 (its ARNs), release `b` names demo/web in the account
    ECS answers for (a release naming no account at all is taken to be in every account: domain.ownership). They are two services: `b` deploys; `a` is refused for its own reason (ECS answers for
    another account), never because of `b`."""
    env = release_env
    env.start_operator()
    first = release_manifest("a", env.namespace)
    first["spec"]["target"]["cluster"] = f"arn:aws:ecs:us-east-1:{OTHER}:cluster/demo"
    _other_account(first)
    env.apply(first)
    status_a = env.wait_phase("a", "Invalid", "Failed", "Succeeded")
    second = release_manifest("b", env.namespace)
    second["spec"]["target"]["cluster"] = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/demo"
    env.apply(second)
    status_b = env.wait_phase("b", "Invalid", "Failed", "Succeeded")
    conflicts = sum("already released by" in s["message"] for s in (env.status("a"), env.status("b")))
    print(f"conflicts={conflicts} a={status_a['phase']} b={status_b['phase']}")
    assert status_b["phase"] == "Succeeded", status_b
    assert conflicts == 0
    # ECS answers for its own account only: the other account's cluster is not found there (the emulator
    # partitions by account, as AWS does), or, where ECS named the service, the account check refuses it
    assert "already released" not in status_a["message"]
    assert "ClusterNotFound" in status_a["message"] or f"account {ACCOUNT}" in status_a["message"], status_a
