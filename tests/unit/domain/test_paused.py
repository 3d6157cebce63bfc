"""spec.paused: the next attempt is held (planning), the last attempt's phase stays with a Paused condition and
status.plan (status), AttemptHeld once per held spec (events), status.plan round-trips and is replaced, not
merged, by the status patch (codec)."""

from __future__ import annotations

from dataclasses import replace

from ecsbg.domain.actions import ApplyResult, HoldAttempt, RecordIntent, Wait
from ecsbg.domain.codec import merge_patch, status_from_dict, status_to_dict
from ecsbg.domain.events import transitions
from ecsbg.domain.model import HeldPlan, Phase
from ecsbg.domain.planning import plan
from ecsbg.domain.status import compute_status
from tests.unit.domain import builders as b

PLAN = {"service": b.SERVICE_ARN, "runningTaskDefinition": b.BASE_TD_ARN, "taskDefinition": {"action": "Register"},
        "diff": "-  \"image\": \"v1\"\n+  \"image\": \"v2\"", "updateService": {"taskDefinition": "(next)"}}


def _paused(paused: bool = True, annotations=None):
    return b.release(b.containers_spec(paused=paused), annotations)


def _succeeded(spec_hash: str = "0ld", attempt: int = 2):
    return b.prior(spec_hash, attempt, Phase.SUCCEEDED, attempt, "SUCCESSFUL", message=f"attempt {attempt} succeeded")


def _reconcile(spec, prior, result=None):
    obs = b.observe(b.deployment(prior.attempt, "SUCCESSFUL", stage=None)) if prior.attempt else b.observe()
    decided = plan(spec, obs, prior, generation=3)
    if result is None and isinstance(decided.action, HoldAttempt) and decided.action.refresh:
        result = ApplyResult(plan=PLAN)
    status = compute_status(spec=spec, invalid=None, observation=obs, plan=decided, result=result, prior=prior,
                            generation=3, now=b.at(5))
    return decided, status


def test_paused_is_not_part_of_the_spec_hash():
    assert _paused(True).spec_hash == _paused(False).spec_hash


def test_a_new_spec_is_held_and_the_plan_is_read_once():
    spec, prior = _paused(), _succeeded()
    decided, status = _reconcile(spec, prior)
    assert decided.action == HoldAttempt(attempt=3, spec=spec, base_task_definition_arn=b.TD_ARN, refresh=True)
    assert (status.phase, status.attempt, status.spec_hash) == (Phase.SUCCEEDED, 2, "0ld")  # nothing recorded
    assert status.plan == HeldPlan(attempt=3, spec_hash=spec.spec_hash, base_task_definition_arn=b.TD_ARN,
                                   plan=PLAN, computed_at=b.at(5))
    conditions = {c.type: (c.status, c.reason) for c in status.conditions}
    assert conditions == {"Ready": ("True", "Succeeded"), "Paused": ("True", "SpecPaused")}
    assert status.message.startswith(f"spec.paused holds attempt 3 (spec {spec.spec_hash})")
    assert status.message.endswith("; attempt 2 succeeded: web:42 serves production traffic")
    again, kept = _reconcile(spec, status)
    assert again.action == replace(decided.action, refresh=False)  # the next poll does not read ECS again
    assert kept.plan == status.plan and kept.message == status.message


def test_unpausing_starts_the_held_attempt_and_clears_the_plan():
    _, held = _reconcile(_paused(), _succeeded())
    decided, status = _reconcile(_paused(False), held)
    assert isinstance(decided.action, RecordIntent) and decided.action.attempt == 3
    assert status.plan is None and status.attempt == 3 and "Paused" not in {c.type for c in status.conditions}
    reasons = [e.reason for e in transitions(held, status, decided)]
    assert "AttemptStarted" in reasons and "HoldEnded" not in reasons


def test_a_spec_changed_while_held_reads_the_plan_again():
    _, held = _reconcile(_paused(), _succeeded())
    other = b.release(b.containers_spec(paused=True, containers=[{"name": "app", "image": "nginx:1.29"}]))
    decided, status = _reconcile(other, held)
    assert decided.action.refresh and status.plan.spec_hash == other.spec_hash


def test_a_plan_that_could_not_be_read_says_why_and_is_read_again():
    _, held = _reconcile(_paused(), _succeeded(), ApplyResult(plan_error="DescribeServices failed with AccessDenied"))
    assert held.plan.error == "DescribeServices failed with AccessDenied" and held.plan.plan == {}
    assert "(the plan could not be read: DescribeServices failed with AccessDenied)" in held.message
    decided, _ = _reconcile(_paused(), held)
    assert decided.action.refresh


def test_a_release_paused_from_its_creation_is_pending():
    decided, status = _reconcile(_paused(), b.prior(None, 0, None, base=None))
    assert isinstance(decided.action, HoldAttempt) and decided.action.attempt == 1
    assert status.phase is Phase.PENDING and status.attempt == 0
    conditions = {c.type: (c.status, c.reason) for c in status.conditions}
    assert conditions == {"Ready": ("False", "Paused"), "Paused": ("True", "SpecPaused")}


def test_a_retry_is_held_too():
    rolled_back = b.prior("h", 2, Phase.ROLLED_BACK, 2, "ROLLBACK_SUCCESSFUL")
    spec = b.release(b.containers_spec(paused=True), {"ecsbg.dev/retry": "2"})
    spec = replace(spec, spec_hash="h")
    decided = plan(spec, b.observe(b.deployment(2, "ROLLBACK_SUCCESSFUL", stage=None)), rolled_back, generation=3)
    assert isinstance(decided.action, HoldAttempt) and decided.action.attempt == 3


def test_an_attempt_already_started_goes_on():
    spec = _paused()
    recorded = b.prior(spec.spec_hash, 3, Phase.PENDING)  # intent written before spec.paused was set
    decided = plan(spec, b.observe(), recorded, generation=3)
    assert type(decided.action).__name__ == "StartDeployment"


def test_events_once_per_held_spec_and_when_the_hold_ends_by_a_revert():
    prior = _succeeded()
    decided, held = _reconcile(_paused(), prior)
    assert [e.reason for e in transitions(prior, held, decided)] == ["AttemptHeld"]
    again_decided, again = _reconcile(_paused(), held)
    assert transitions(held, again, again_decided) == []
    reverted = replace(_paused(), spec_hash="0ld")  # Git reverted to what attempt 2 deployed
    back_decided, back = _reconcile(reverted, held)
    assert back_decided.action == Wait("nothing to do") and back.plan is None
    assert [e.reason for e in transitions(held, back, back_decided)] == ["HoldEnded"]


def test_status_plan_round_trips_and_its_patch_nulls_removed_keys():
    _, held = _reconcile(_paused(), _succeeded())
    stored = status_to_dict(held)
    assert stored["plan"]["taskDefinition"] == {"action": "Register"} and stored["plan"]["attempt"] == 3
    assert status_from_dict(stored).plan == held.plan
    reuse = replace(held, plan=replace(held.plan, plan={**PLAN, "taskDefinition": {"action": "Reuse", "arn": "x"},
                                                        "diff": None}))
    patch = merge_patch(stored, reuse)
    assert patch["plan"]["taskDefinition"] == {"action": "Reuse", "arn": "x"} and patch["plan"]["diff"] is None
    back = merge_patch(status_to_dict(reuse), held)
    assert back["plan"]["taskDefinition"] == {"action": "Register", "arn": None}
    assert merge_patch(stored, replace(held, plan=None))["plan"] is None
