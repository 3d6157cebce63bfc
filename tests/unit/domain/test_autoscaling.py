"""domain.autoscaling: the state to restore is recorded with the intent, handed on by a superseding attempt,
restored once the attempt is over (planning), and cleared only when the restore was written (table tests)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ecsbg.domain.actions import RestoreScaling, StartDeployment
from ecsbg.domain.autoscaling import (
    ALL_SUSPENDED,
    AutoScalingMode,
    ObservedScaling,
    ScalingStatus,
    Suspended,
    from_dict,
    next_status,
    to_dict,
)
from ecsbg.domain.codec import status_patch
from ecsbg.domain.model import Phase, ReleaseStatus
from ecsbg.domain.parsing import parse_release
from ecsbg.domain.planning import plan
from tests.unit.domain import builders as b

BEFORE = Suspended(scheduled=True)
SEEN = ObservedScaling(min_capacity=1, max_capacity=10, suspended=BEFORE, policies=("cpu (TargetTrackingScaling)",))
SUSPENDED_SEEN = replace(SEEN, suspended=ALL_SUSPENDED)
OWED = ScalingStatus(1, 10, ALL_SUSPENDED, restore=BEFORE, restore_attempt=1)
SUSPEND = AutoScalingMode.SUSPEND


def step(prior, observed, *, mode=SUSPEND, intent=None, restored=False, suspended_now=False, desired=2):
    return next_status(prior, observed, mode=mode, intent_attempt=intent, desired_count=desired, restored=restored,
                       suspended_now=suspended_now)


CASES = [
    ("intent records what it finds", step(None, SEEN, intent=1), (BEFORE, 1, BEFORE)),
    ("Observe records nothing", step(None, SEEN, mode=AutoScalingMode.OBSERVE, intent=1), (None, None, BEFORE)),
    ("the start suspended it", step(step(None, SEEN, intent=1), SEEN, suspended_now=True), (BEFORE, 1, ALL_SUSPENDED)),
    ("a superseding intent keeps the first state", step(OWED, SUSPENDED_SEEN, intent=2), (BEFORE, 2, ALL_SUSPENDED)),
    ("a restore clears what is owed", step(OWED, SUSPENDED_SEEN, restored=True), (None, None, BEFORE)),
    ("a failed read keeps what is owed", step(OWED, None), (BEFORE, 1, ALL_SUSPENDED)),
    ("no scalable target, nothing owed", step(None, None, intent=1), None),
]


@pytest.mark.parametrize(("case", "got", "want"), CASES, ids=[c[0] for c in CASES])
def test_next_status(case, got, want):
    if want is None:
        assert got is None
    else:
        assert (got.restore, got.restore_attempt, got.suspended) == want


def test_capacity_warning_when_twice_the_desired_count_exceeds_max():
    assert step(None, SEEN, desired=5).warning is None
    assert "above the scalable target's maxCapacity 10" in step(None, SEEN, desired=6).warning


def test_status_form_round_trips_and_a_done_restore_is_nulled_in_the_patch():
    assert from_dict(to_dict(OWED)) == OWED
    patch = status_patch(ReleaseStatus(auto_scaling=replace(OWED, restore=None, restore_attempt=None)))
    assert patch["autoScaling"]["restore"] is None  # a merge patch must remove the stored one


def _spec(mode="SuspendDuringDeployment"):
    body = b.body()
    body["spec"]["autoScaling"] = mode
    return parse_release(body)


@pytest.mark.parametrize("phase", [Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED])
def test_an_ended_attempt_restores_before_anything_else(phase):
    spec = _spec()
    prior = ReleaseStatus(phase=phase, attempt=1, spec_hash="older", auto_scaling=OWED)
    action = plan(spec, b.observe(), prior, generation=1).action
    assert action == RestoreScaling(attempt=1, suspended=BEFORE, target=spec.target)


def test_nothing_is_restored_while_the_attempt_runs_and_its_start_suspends():
    spec = _spec()
    prior = ReleaseStatus(phase=Phase.PENDING, attempt=1, spec_hash=spec.spec_hash, auto_scaling=OWED)
    action = plan(spec, b.observe(), prior, generation=1).action
    assert isinstance(action, StartDeployment) and action.suspend_scaling
    observe_only = plan(_spec("Observe"), b.observe(), replace(prior, auto_scaling=None), generation=1).action
    assert isinstance(observe_only, StartDeployment) and not observe_only.suspend_scaling
