"""We test these aspects of the reconcile pipeline and loop, with fakes at every seam:

- bad input makes no AWS call, yields phase Invalid, one Warning Event, and nothing more on the next pass;
- starting is two-phase: the intent is written (no AWS write) and the start follows at once;
- status is patched only when it changed; Events only on transitions;
- requeue delays: fast while in flight, idle when finished, immediate after an intent;
- the loop survives a failing pass (counted as an error) and wakes early on a change.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecsbg import loop
from ecsbg.domain import actions
from ecsbg.domain.observation import Observation, ObservedDeployment, ObservedService
from ecsbg.loop import _one_pass, release_loop
from ecsbg.reconciler import NEXT_STEP_DELAY, Deps, LoopState, reconcile
from ecsbg.settings import Settings
from tests.fakes.clock import FixedClock
from tests.fakes.ecs import FakeEcsGateway
from tests.fakes.events import RecordingEvents
from tests.fakes.metrics import RecordingMetrics

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "bluegreen-pause.yaml").read_text())
TD1 = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
SERVICE = ObservedService(arn="arn:aws:ecs:us-east-1:123456789012:service/demo/web", status="ACTIVE",
                          task_definition_arn=TD1, desired_count=2, running_count=2)


class RecordingStatus:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    async def patch_status(self, *, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.patches.append(status)


def make_deps(gateway: FakeEcsGateway) -> Deps:
    return Deps(ecs=gateway, clock=FixedClock(), events=RecordingEvents(), status=RecordingStatus(),
                metrics=RecordingMetrics(), settings=Settings(poll_fast_seconds=5, poll_idle_seconds=300))


def body(**spec_changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(EXAMPLE)
    out["metadata"].update({"namespace": "default", "generation": 1})
    out["spec"].update(spec_changes)
    return out


async def test_invalid_spec_makes_no_aws_call_and_says_why() -> None:
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    bad = body(strategy={"type": "Sideways"})
    outcome = await reconcile(bad, {}, deps)
    assert outcome.status.phase is not None and outcome.status.phase.value == "Invalid"
    assert "spec.strategy.type" in outcome.status.message
    assert [e.reason for e in outcome.events] == ["InvalidSpec"]
    assert gateway.observed == [] and gateway.applied == []
    again = await reconcile(bad, outcome.status_dict, deps)
    assert again.events == [] and again.status_dict == outcome.status_dict
    assert again.requeue_after == deps.settings.poll_idle_seconds


async def test_start_is_two_phase_intent_then_update_service() -> None:
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    first = await reconcile(body(), {}, deps)
    assert isinstance(first.plan.action, actions.RecordIntent)
    assert gateway.writes() == [] and first.status.attempt == 1
    assert first.requeue_after == NEXT_STEP_DELAY
    assert first.status.base_task_definition_arn == TD1
    second = await reconcile(body(), first.status_dict, deps)
    assert isinstance(second.plan.action, actions.StartDeployment)
    assert len(gateway.writes()) == 1
    assert second.status.deployment is not None and second.status.deployment.attempt == 1
    assert second.requeue_after == deps.settings.poll_fast_seconds
    assert "DeploymentStarted" in [e.reason for e in second.events]


async def test_the_start_reuses_the_read_of_the_pass_that_recorded_the_intent(monkeypatch) -> None:
    """A spec change is read from ECS once: the intent pass's observation goes to the start that follows (only
    within CARRY_SECONDS; a later pass, or one after another kind of pass, reads afresh)."""
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps, state = make_deps(gateway), LoopState()
    await _one_pass(body=body(), namespace="default", name="web", deps=deps, state=state)  # the intent
    assert state.carried is not None
    await _one_pass(body=body(), namespace="default", name="web", deps=deps, state=state)  # the start
    assert gateway.reused[0] is None and gateway.reused[1] is state_observation(gateway)
    assert len(gateway.writes()) == 1 and state.carried is None  # a start's read is not carried further
    await _one_pass(body=body(), namespace="default", name="web", deps=deps, state=state)
    assert gateway.reused[2] is None
    state.carried = (0.0, Observation(service=SERVICE))  # an old read (the loop was busy): not reused
    monkeypatch.setattr(loop.time, "monotonic", lambda: loop.CARRY_SECONDS + 1.0)
    await _one_pass(body=body(), namespace="default", name="web", deps=deps, state=state)
    assert gateway.reused[3] is None


def state_observation(gateway: FakeEcsGateway) -> Observation:
    return gateway.observation  # the fake answers every read with this object


async def test_finished_release_polls_slowly_and_stays_quiet() -> None:
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    status = (await reconcile(body(), {}, deps)).status_dict
    started = await reconcile(body(), status, deps)
    arn = started.status.deployment.arn
    done = ObservedDeployment(arn=arn, status="SUCCESSFUL", lifecycle_stage="CLEAN_UP")
    service = ObservedService(**{**SERVICE.__dict__, "current_deployment_arn": arn})
    gateway.observation = Observation(service=service, current=done, tracked=done)
    finished = await reconcile(body(), started.status_dict, deps)
    assert finished.status.phase.value == "Succeeded"
    assert finished.requeue_after == deps.settings.poll_idle_seconds
    quiet = await reconcile(body(), finished.status_dict, deps)
    assert quiet.events == [] and quiet.status_dict == finished.status_dict
    assert len(gateway.writes()) == 1


class _Stopper:
    """Enough of kopf's DaemonStopped: falsy until set, awaitable wait()."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __bool__(self) -> bool:
        return self.event.is_set()

    async def wait(self) -> None:
        await self.event.wait()


async def test_loop_patches_only_changes_survives_errors_and_wakes_early() -> None:
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    state, stopped = LoopState(), _Stopper()
    boom = {"left": 1}
    real_observe = gateway.observe

    async def flaky_observe(spec: Any, prior: Any) -> Observation:
        if boom["left"]:
            boom["left"] -= 1
            raise RuntimeError("API server hiccup")
        return await real_observe(spec, prior)

    gateway.observe = flaky_observe  # type: ignore[method-assign]
    deps.settings = Settings(poll_fast_seconds=0.01, poll_idle_seconds=60)
    task = asyncio.create_task(release_loop(body=body(), namespace="default", name="web", deps=deps,
                                            state=state, stopped=stopped))
    for _ in range(200):
        if gateway.writes():
            break
        await asyncio.sleep(0.01)
    assert len(gateway.writes()) == 1, "the start happened after the failing pass"
    metrics: RecordingMetrics = deps.metrics  # type: ignore[assignment]
    assert [c["result"] for c in metrics.of("reconcile")][:1] == ["error"]
    await asyncio.sleep(0.05)  # let the pass after the start record what it saw
    patches_before = len(deps.status.patches)  # type: ignore[attr-defined]
    passes_before = len(gateway.observed)
    await asyncio.sleep(0.1)  # in flight: polls every 10 ms, nothing changes, nothing is patched
    assert len(gateway.observed) > passes_before + 3, "the loop kept polling"
    assert len(deps.status.patches) == patches_before  # type: ignore[attr-defined]
    stopped.event.set()
    state.wake.set()
    await asyncio.wait_for(task, 1.0)


@pytest.mark.parametrize("delay", [60.0])
async def test_wake_cuts_an_idle_sleep_short(delay: float) -> None:
    from ecsbg.loop import _sleep

    wake, stopped = asyncio.Event(), _Stopper()
    asyncio.get_running_loop().call_later(0.05, wake.set)
    await asyncio.wait_for(_sleep(wake, stopped, delay), 2.0)
    assert not wake.is_set(), "the wake flag is consumed"


async def test_a_service_owned_by_an_older_release_is_left_alone() -> None:
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    claims = {("us-east-1", "demo", "web"): [("2026-11-22T09:00:00Z", "team-a/web"),
                                              ("2026-11-22T10:00:00Z", "default/web-bluegreen")]}
    outcome = await reconcile(body(), {}, deps, lambda key: claims.get(key, []))
    assert outcome.status.phase.value == "Invalid"
    assert "already released by team-a/web" in outcome.status.message
    assert gateway.observed == [] and gateway.applied == []
    assert outcome.requeue_after == deps.settings.poll_fast_seconds, "looks again soon: it costs no AWS call"
    claims[("us-east-1", "demo", "web")].pop(0)  # the owner was deleted
    taken_over = await reconcile(body(), outcome.status_dict, deps, lambda key: claims.get(key, []))
    assert taken_over.status.attempt == 1 and gateway.observed


async def test_a_release_external_id_is_ignored_with_one_warning_per_spec_change() -> None:
    gateway = FakeEcsGateway(Observation(service=SERVICE))
    deps = make_deps(gateway)
    release = body(target={**EXAMPLE["spec"]["target"], "roleArn": "arn:aws:iam::123456789012:role/ecsbg/deployer",
                           "externalId": "tenant-chosen"})
    first = await reconcile(release, {}, deps)
    second = await reconcile(release, first.status_dict, deps)
    assert [e.reason for e in first.events].count("ExternalIdIgnored") == 1
    assert "ExternalIdIgnored" not in [e.reason for e in second.events]


async def test_the_loop_ends_when_the_release_is_gone() -> None:
    """Releases carry no finalizer, so kopf may never stop the daemon: a DELETED event or a 404 ends the loop."""
    from ecsbg.k8s.status import ReleaseGone

    class GoneStatus:
        async def patch_status(self, **_: Any) -> None:
            raise ReleaseGone("default/web")

    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    deps.status = GoneStatus()  # type: ignore[assignment]
    await asyncio.wait_for(release_loop(body=body(), namespace="default", name="web", deps=deps, state=LoopState(),
                                        stopped=_Stopper()), 1.0)
    state = LoopState(gone=True)
    passes = len(gateway.observed)
    await asyncio.wait_for(release_loop(body=body(), namespace="default", name="web", deps=make_deps(gateway),
                                        state=state, stopped=_Stopper()), 1.0)
    assert len(gateway.observed) == passes, "a release seen DELETED gets no further pass"


class Secrets:
    def __init__(self, values: dict[tuple[str, str, str], str]) -> None:
        self.values, self.reads = values, 0

    async def read(self, *, namespace: str, name: str, key: str) -> str:
        from ecsbg.k8s.secrets import SecretUnavailable

        self.reads += 1
        if (namespace, name, key) not in self.values:
            raise SecretUnavailable(f"Secret {namespace}/{name} not found")
        return self.values[(namespace, name, key)]


POLICY_ROLE = "arn:aws:iam::123456789012:role/ecsbg/team"


def policy_context(*, namespaces: list[str], secret: bool = True, require: bool = False, policies: bool = True):
    from ecsbg.gating import PolicyContext

    body_ = {"metadata": {"name": "team"}, "spec": {
        "namespaceSelector": {"names": namespaces}, "targets": {"regions": ["us-east-1"]},
        "role": {"arn": POLICY_ROLE, "externalIdSecretRef": {"namespace": "sys", "name": "ext"}}}}
    values = {("sys", "ext", "externalId"): "s3cret"} if secret else {}
    return PolicyContext(policies=lambda: [body_] if policies else [], namespace_labels=lambda ns: {},
                         secrets=Secrets(values), require_policy=require)


@pytest.mark.parametrize("ctx, reason", [
    (dict(namespaces=["other"]), "NamespaceNotSelected"),
    (dict(namespaces=["default"], secret=False), "ExternalIdUnavailable"),
    (dict(namespaces=[], policies=False, require=True), "NoPolicy"),
])
async def test_a_release_refused_by_policy_makes_no_aws_call(ctx, reason) -> None:
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    policy = policy_context(**ctx)
    outcome = await reconcile(body(), {}, deps, policy=policy)
    assert gateway.observed == [] and gateway.applied == []
    assert outcome.status.phase.value == "Invalid"
    stalled = [c for c in outcome.status.conditions if c.type == "Stalled"]
    assert [c.reason for c in stalled] == [reason]
    assert outcome.status_dict["policy"]["decision"] == "Refused" and outcome.patch["policy"]["reason"] == reason
    assert [e.reason for e in outcome.events] == ["PolicyDenied"] and outcome.policy_refusal == reason
    assert outcome.requeue_after == deps.settings.poll_fast_seconds  # a new or fixed policy is seen soon
    again = await reconcile(body(), outcome.status_dict, deps, policy=policy)
    assert again.events == [] and again.policy_refusal is None and again.status_dict == outcome.status_dict


async def test_an_allowed_release_acts_through_the_policy_role_and_records_the_decision() -> None:
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    outcome = await reconcile(body(), {}, deps, policy=policy_context(namespaces=["default"]))
    (spec, _), = gateway.observed
    assert spec.target.role_arn == POLICY_ROLE and spec.target.session.external_id == "s3cret"
    assert spec.target.session.name == "ecsbg@default.web-bluegreen"
    assert outcome.status_dict["policy"] == {"decision": "Allowed", "reason": "PolicyAllows", "name": "team",
                                             "roleArn": POLICY_ROLE, "message": "allowed by EcsReleasePolicy team"}


async def test_the_loop_counts_a_refusal_once() -> None:
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    state = LoopState(policy=policy_context(namespaces=["other"]))

    for _ in range(3):
        await _one_pass(body=body(), namespace="default", name="web-bluegreen", deps=deps, state=state)
    assert [c.kwargs for c in deps.metrics.calls if c.method == "policy_refused"] == [
        {"reason": "NamespaceNotSelected"}]
    assert len(deps.status.patches) == 1 and gateway.observed == []


async def test_a_notification_is_recorded_with_its_transition_before_it_is_sent() -> None:
    from ecsbg.notify.sender import Notifier, SenderSettings
    from tests.fakes.notify import FakeProviders, FakeTransport

    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    seen_at_post: list[list[dict[str, Any]]] = []

    class Checking(FakeTransport):
        async def post(self, url, body, *, headers, timeout):
            seen_at_post.append([p for p in deps.status.patches if p.get("notifications")])
            return await super().post(url, body, headers=headers, timeout=timeout)

    deps.notifier = Notifier(
        providers=FakeProviders({("EcsNotificationProvider", "default", "chat"): {"spec": {
            "type": "webhook", "secretRef": {"name": "hook"}}}}, {("default", "hook", "address"): "http://x/y"}),
        transport=Checking(200), events=deps.events, metrics=deps.metrics, settings=SenderSettings(workers=1))
    state = LoopState()

    release = body(notifications=[{"providerRef": {"name": "chat"}, "triggers": ["AttemptStarted"]}])
    await _one_pass(body=release, namespace="default", name="web-bluegreen", deps=deps, state=state)
    (entry,) = deps.status.patches[-1]["notifications"]
    assert (entry["id"], entry["deliveries"][0]["state"]) == ("1/AttemptStarted", "Pending")
    for _ in range(100):
        if state.wake.is_set():
            break
        await asyncio.sleep(0.01)
    assert state.wake.is_set() and len(seen_at_post) == 1 and seen_at_post[0], "sent before it was recorded"
    await _one_pass(body=release, namespace="default", name="web-bluegreen", deps=deps, state=state)
    states = [d["state"] for e in state.last_status["notifications"] for d in e["deliveries"]]
    assert states[0] == "Delivered" and deps.notifier.results("default", "web-bluegreen") == {}
    await deps.notifier.close()


async def test_without_a_notifier_status_notifications_are_kept() -> None:
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    kept = [{"id": "1/Succeeded", "trigger": "Succeeded", "deliveries": [{"provider": "x/y", "state": "Delivered"}]}]
    state = LoopState(last_status={"notifications": kept})

    await _one_pass(body=body(), namespace="default", name="web-bluegreen", deps=deps, state=state)
    assert state.last_status["notifications"] == kept
    assert "notifications" not in deps.status.patches[-1]


async def test_a_stored_version_is_parsed_once(monkeypatch) -> None:
    """parse_release runs once per version of what it reads: passes over an unchanged object reuse it, and so do
    passes after a status write (a new resourceVersion, the same generation); a spec change (generation) or an
    annotation change parses again; without a generation, any new resourceVersion does; an invalid version stays
    invalid without a parse per pass."""
    from ecsbg import reconciler as pipeline

    calls = []
    real = pipeline.parse_release
    monkeypatch.setattr(pipeline, "parse_release", lambda b: calls.append(1) or real(b))
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    stored = body()
    stored["metadata"].update(uid="u-1", resourceVersion="7")
    first = await reconcile(stored, {}, deps)
    await reconcile(stored, first.status_dict, deps)
    assert len(calls) == 1
    stored["metadata"]["resourceVersion"] = "8"  # our status write: the same generation
    await reconcile(stored, first.status_dict, deps)
    assert len(calls) == 1
    stored["metadata"].update(generation=3, resourceVersion="9")  # a spec change
    await reconcile(stored, first.status_dict, deps)
    stored["metadata"]["resourceVersion"] = "10"
    await reconcile(stored, first.status_dict, deps)
    assert len(calls) == 2
    stored["metadata"]["annotations"] = {"ecsbg.dev/approve": "1"}
    await reconcile(stored, first.status_dict, deps)
    assert len(calls) == 3
    del stored["metadata"]["generation"]  # no generation: any write parses again
    for version in ("11", "11", "12"):
        stored["metadata"]["resourceVersion"] = version
        await reconcile(stored, first.status_dict, deps)
    assert len(calls) == 5
    calls.clear()
    bad = body(strategy={"type": "Sideways"})
    bad["metadata"].update(uid="u-2", resourceVersion="1")
    outcomes = [await reconcile(bad, {}, deps) for _ in range(3)]
    assert len(calls) == 1 and {o.status.phase.value for o in outcomes} == {"Invalid"}
    assert all("spec.strategy.type" in o.status.message for o in outcomes)
