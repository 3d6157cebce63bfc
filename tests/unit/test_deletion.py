"""We test what deleting a release does (ecsbg.deletion, ecsbg.handlers): only onDelete Rollback releases carry a
finalizer, the daemon none; deleting a Rollback release stops its deployment if ECS still runs it, retries a
retryable error, and lets the release go (with a Warning) on a terminal one or on its last try."""

from __future__ import annotations

from ecsbg.deletion import FINALIZER, rollback_on_delete
from ecsbg.domain.actions import ApplyResult, StopDeployment
from ecsbg.domain.model import AwsProblem, Observation, ObservedDeployment
from ecsbg.handlers import build_registry
from ecsbg.reconciler import LoopState
from ecsbg.settings import Settings
from tests.fakes.ecs import FakeEcsGateway
from tests.unit.test_reconciler import SERVICE, body, make_deps

ARN = "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/web/abc"
STATUS = {"attempt": 2, "phase": "AwaitingApproval", "deployment": {"attempt": 2, "arn": ARN, "status": "IN_PROGRESS"}}


def test_only_the_rollback_delete_handler_asks_for_a_finalizer():
    registry = build_registry(Settings())
    daemons = registry._spawning.get_all_handlers()  # the release loop and the release wave loop
    assert len(daemons) == 2
    assert not any(d.requires_finalizer for d in daemons), "kopf would otherwise block every deletion"
    wanting = [h for h in registry._changing.get_all_handlers() if h.requires_finalizer]
    [handler] = wanting
    assert handler.when(body=body(onDelete="Rollback")) is True
    assert handler.when(body=body(onDelete="Leave")) is False and handler.when(body=body()) is False
    assert handler.when(body={"spec": "hello"}) is False, "a body that bypassed the schema must not raise"
    assert FINALIZER.startswith("ecsbg.dev/")


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
