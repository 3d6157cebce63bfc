"""When a release loop reads ECS next: on a grid shared by every release of the same ECS cluster.

Each release polls at its own interval; left to itself, each would start at its own instant, and the reads of
idle releases (minutes apart, each at a random phase) would almost never meet in one coalescing window, so each
DescribeServices would carry one service instead of ten (ECS's limit per call). Rounding every sleep up to the
next tick of a per-cluster grid (period = the interval, phase from the cluster's name so clusters do not all
fire together) makes the releases of one cluster read together and share calls. A release never waits longer
than one interval plus a tenth, and never reads again sooner than a tenth of the interval.
"""

from __future__ import annotations

import math
import zlib

MIN_FRACTION = 0.1  # the shortest aligned sleep, as a share of the interval


def aligned_delay(delay: float, now: float, key: str) -> float:
    """Seconds from `now` to the first tick of `key`'s grid of period `delay` that is at least a tenth of
    `delay` away."""
    if delay <= 0 or not math.isfinite(delay):
        return delay
    phase = (zlib.crc32(key.encode()) % 10_000) / 10_000 * delay
    tick = math.floor((now - phase) / delay) * delay + phase + delay  # the first tick after now
    if tick - now < MIN_FRACTION * delay:
        tick += delay
    return tick - now
