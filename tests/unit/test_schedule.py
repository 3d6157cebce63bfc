"""domain.schedule: the releases of one ECS cluster read together; no read is late by more than a tenth."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from ecsbg.domain.schedule import GROUP, SPREAD, aligned_delay, slot_of


@pytest.mark.parametrize("delay", [5.0, 30.0, 300.0])
def test_releases_of_one_cluster_wake_on_the_same_ticks(delay: float) -> None:
    rng = random.Random(7)
    ends = {round(now + aligned_delay(delay, now, "us-east-1/demo"), 6)
            for now in (rng.uniform(1000, 1000 + delay) for _ in range(200))}
    assert len(ends) <= 2  # at most the tick in range and the one after it (for those too close to it)
    assert max(ends) - min(ends) in (0.0, pytest.approx(delay))


@pytest.mark.parametrize("now", [0.0, 0.3, 4.49, 4.51, 4.99, 123.456])
def test_a_sleep_is_between_a_tenth_and_one_and_a_tenth_intervals(now: float) -> None:
    waited = aligned_delay(5.0, now, "eu-west-1/prod")
    assert 0.5 - 1e-9 <= waited <= 5.5 + 1e-9


def test_after_a_pass_on_a_tick_the_next_read_is_one_interval_later() -> None:
    first = 100.0 + aligned_delay(5.0, 100.0, "k")
    assert aligned_delay(5.0, first + 0.02, "k") == pytest.approx(5.0 - 0.02)


def test_clusters_get_different_phases() -> None:
    phases = {round(aligned_delay(300.0, 0.0, f"us-east-1/c{i}"), 3) for i in range(20)}
    assert len(phases) > 15


@pytest.mark.parametrize("delay", [0.0, -1.0, float("inf")])
def test_no_grid_for_degenerate_delays(delay: float) -> None:
    assert aligned_delay(delay, 50.0, "k") == delay


@pytest.mark.parametrize(("members", "groups"), [(1, 1), (10, 1), (11, 2), (100, 10), (1000, 100), (1001, 101)])
def test_a_clusters_releases_are_dealt_into_groups_of_ten(members: int, groups: int) -> None:
    slots = [slot_of(rank, members) for rank in range(members)]
    assert {total for _, total in slots} == {groups}
    sizes = Counter(slot for slot, _ in slots)
    assert len(sizes) == groups and max(sizes.values()) == min(members, GROUP) and GROUP == 10
    assert all(size == GROUP for slot, size in sizes.items() if slot < groups - 1)  # only the last is partial


def test_groups_wake_on_their_own_ticks_spread_over_half_the_interval() -> None:
    """1,000 idle releases of one cluster: 100 ticks, ten releases each (one DescribeServices), spread over the
    first half of the interval instead of one burst; each group keeps one tick per interval."""
    delay, rng = 30.0, random.Random(3)
    ticks: dict[int, set[float]] = {}
    for rank in range(1000):
        slot, slots = slot_of(rank, 1000)
        now = rng.uniform(1000, 1000 + delay)
        ticks.setdefault(slot, set()).add(round((now + aligned_delay(delay, now, "us-east-1/demo", slot, slots))
                                                % delay, 6))
    assert len(ticks) == 100
    phases = sorted(min(t) for t in ticks.values())
    assert all(len(t) == 1 for t in ticks.values())  # every release of a group on one tick
    gaps = [b - a for a, b in zip(phases, phases[1:], strict=False)]
    assert min(gaps) == pytest.approx(SPREAD * delay / 100, abs=1e-6)  # evenly apart
    first = aligned_delay(delay, 0.0, "us-east-1/demo")  # the cluster's own phase: group 0's tick
    assert min(ticks[0]) == pytest.approx(first % delay, abs=1e-6)


def test_one_group_is_the_old_grid() -> None:
    assert aligned_delay(30.0, 12.3, "k", 0, 1) == aligned_delay(30.0, 12.3, "k")
