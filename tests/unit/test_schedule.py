"""domain.schedule: the releases of one ECS cluster read together; no read is late by more than a tenth."""

from __future__ import annotations

import random

import pytest

from ecsbg.domain.schedule import aligned_delay


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
