"""We test what deleting a release does (ecsbg.deletion, ecsbg.handlers): only onDelete Rollback releases carry a
finalizer (ours, kept by the watch handler; kopf's handlers ask for none); deleting a Rollback release stops its
deployment if ECS still runs it, retries a retryable error, and lets the release go (with a Warning) on a terminal
one or on its last try."""

from __future__ import annotations

import copy
from typing import Any

import kopf
import pytest

from ecsbg import deletion
from ecsbg.deletion import (
    FINALIZER,
    LEGACY_FINALIZER,
    finalizer_edit,
    must_roll_back,
    roll_back,
    rollback_on_delete,
)
from ecsbg.domain.actions import ApplyResult, StopDeployment
from ecsbg.domain.observation import AwsProblem, Observation, ObservedDeployment
from ecsbg.handlers import build_registry, configure_kopf
from ecsbg.reconciler import LoopState
from ecsbg.settings import Settings
from tests.fakes.ecs import FakeEcsGateway
from tests.unit.test_reconciler import SERVICE, body, make_deps

ARN = "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/abc"
STATUS = {"attempt": 2, "phase": "AwaitingApproval", "deployment": {"attempt": 2, "arn": ARN, "status": "IN_PROGRESS"}}


def test_no_kopf_handler_asks_for_kopfs_finalizer():
    registry = build_registry(Settings())
    daemons = registry._spawning.get_all_handlers()  # the release loop and the release wave loop
    assert len(daemons) == 2
    assert not any(d.requires_finalizer for d in daemons), "kopf would otherwise block every deletion"
    assert registry._changing.get_all_handlers() == [], "the deletion is ours (ecsbg.deletion), not kopf's"
    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    assert settings.persistence.finalizer != FINALIZER, "kopf would strip ours from every release"
    assert FINALIZER.startswith("ecsbg.dev/")


def _with(finalizers: list[str], deleting: bool = False, **spec: Any) -> dict[str, Any]:
    out = body(**spec)
    out["metadata"]["finalizers"] = finalizers
    if deleting:
        out["metadata"]["deletionTimestamp"] = "2026-12-04T12:00:00Z"
    return out


def _after(release: dict[str, Any]) -> list[str] | None:
    """The finalizers once the edit finalizer_edit asks for is applied, None when it asks for none."""
    edit = finalizer_edit(release)
    if edit is None:
        return None
    patched = copy.deepcopy(release)
    edit(patched)
    return patched["metadata"]["finalizers"]


@pytest.mark.parametrize(("finalizers", "deleting", "on_delete", "expected"), [
    ([], False, "Rollback", [FINALIZER]),
    (["other.io/keep"], False, "Rollback", ["other.io/keep", FINALIZER]),
    ([FINALIZER], False, "Rollback", None),
    ([FINALIZER], False, "Leave", []),
    (["other.io/keep", FINALIZER], False, None, ["other.io/keep"]),
    ([], False, "Leave", None),
    ([LEGACY_FINALIZER], False, "Leave", []),
    ([LEGACY_FINALIZER], False, "Rollback", [FINALIZER]),
    ([LEGACY_FINALIZER, FINALIZER], True, "Rollback", [FINALIZER]),
    ([], True, "Rollback", None),  # the API server refuses a new finalizer once deletion has started
    ([FINALIZER], True, "Leave", None),  # deleting: must_roll_back decides, not the edit
])
def test_the_finalizer_follows_on_delete(finalizers, deleting, on_delete, expected):
    spec = {} if on_delete is None else {"onDelete": on_delete}
    assert _after(_with(finalizers, deleting, **spec)) == expected


def test_a_body_that_bypassed_the_schema_gets_no_finalizer_and_raises_nothing():
    assert finalizer_edit({"spec": "hello", "metadata": {}}) is None
    assert finalizer_edit({"spec": "hello", "metadata": {"finalizers": [FINALIZER]}}) is not None
    assert not must_roll_back({"spec": "hello"})


def test_only_a_deletion_held_by_our_finalizer_rolls_back():
    assert must_roll_back(_with([FINALIZER], deleting=True, onDelete="Rollback"))
    assert must_roll_back(_with([FINALIZER], deleting=True, onDelete="Leave")), "the finalizer is the promise"
    assert not must_roll_back(_with([FINALIZER], onDelete="Rollback"))
    assert not must_roll_back(_with(["other.io/keep"], deleting=True, onDelete="Rollback"))
    released = _with(["other.io/keep", FINALIZER], deleting=True)
    deletion.without(FINALIZER)(released)
    assert released["metadata"]["finalizers"] == ["other.io/keep"]


def _release(status=STATUS):
    out = body(onDelete="Rollback")
    out["status"] = status
    return out


def _observed(status: str) -> Observation:
    return Observation(service=SERVICE, tracked=ObservedDeployment(arn=ARN, status=status))


async def test_a_deployment_in_flight_is_stopped():
    ecs = FakeEcsGateway(_observed("IN_PROGRESS"))
    outcome = await rollback_on_delete(_release(), make_deps(ecs), LoopState())
    assert ecs.writes() == [StopDeployment(deployment_arn=ARN)]
    assert [e.reason for e in outcome.events] == ["RollbackOnDelete"] and not outcome.retry


async def test_an_ended_deployment_is_left_alone():
    ecs = FakeEcsGateway(_observed("SUCCESSFUL"))
    outcome = await rollback_on_delete(_release(), make_deps(ecs), None)
    assert ecs.writes() == [] and "nothing to stop" in outcome.events[0].message


async def test_nothing_started_nothing_to_stop():
    ecs = FakeEcsGateway(_observed("IN_PROGRESS"))
    outcome = await rollback_on_delete(_release({"attempt": 1, "phase": "Pending"}), make_deps(ecs), None)
    assert ecs.writes() == [] and not outcome.retry


async def test_retryable_errors_keep_the_finalizer_until_the_last_try():
    throttled = ApplyResult(problem=AwsProblem(code="ThrottlingException", message="slow down", terminal=False))
    ecs = FakeEcsGateway(_observed("IN_PROGRESS"))
    ecs.queue_result(throttled, throttled)
    assert (await rollback_on_delete(_release(), make_deps(ecs), None)).retry
    last = await rollback_on_delete(_release(), make_deps(ecs), None, give_up=True)
    assert not last.retry and [e.reason for e in last.events] == ["RollbackOnDeleteFailed"]


async def test_a_terminal_error_lets_the_release_go_with_a_warning():
    ecs = FakeEcsGateway(_observed("IN_PROGRESS"))
    ecs.queue_result(ApplyResult(problem=AwsProblem(code="AccessDeniedException", message="no", terminal=True)))
    outcome = await rollback_on_delete(_release(), make_deps(ecs), None)
    assert not outcome.retry and outcome.events[0].type == "Warning"


async def test_a_release_deployed_through_a_policy_role_is_stopped_through_that_role():
    from tests.unit.test_reconciler import POLICY_ROLE, policy_context

    ecs = FakeEcsGateway(observation=_observed("IN_PROGRESS"))
    state = LoopState(policy=policy_context(namespaces=["default"]))
    await rollback_on_delete(_release(), make_deps(ecs), state)
    (spec, _), = ecs.observed
    assert spec.target.role_arn == POLICY_ROLE and spec.target.session.external_id == "s3cret"
    [call] = ecs.applied
    assert isinstance(call.action, StopDeployment) and call.target.role_arn == POLICY_ROLE


async def test_roll_back_retries_until_stopped_with_one_event():
    throttled = ApplyResult(problem=AwsProblem(code="ThrottlingException", message="slow down", terminal=False))
    ecs = FakeEcsGateway(_observed("IN_PROGRESS"))
    ecs.queue_result(throttled, throttled)
    deps, slept = make_deps(ecs), []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    await roll_back(_release(), deps, None, sleep=sleep)
    assert len(ecs.writes()) == 3 and slept == [5, 5]
    assert deps.events.reasons() == ["RollbackOnDelete"]


async def test_roll_back_lets_go_after_its_last_try():
    throttled = ApplyResult(problem=AwsProblem(code="ThrottlingException", message="slow down", terminal=False))
    ecs = FakeEcsGateway(_observed("IN_PROGRESS"))
    ecs.queue_result(*[throttled] * deletion.DELETE_RETRIES)
    deps, slept = make_deps(ecs), []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    await roll_back(_release(), deps, None, sleep=sleep)
    assert len(ecs.writes()) == deletion.DELETE_RETRIES and len(slept) == deletion.DELETE_RETRIES - 1
    assert deps.events.reasons() == ["RollbackOnDeleteFailed"]
