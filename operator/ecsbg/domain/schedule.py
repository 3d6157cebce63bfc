"""When a release loop reads ECS next: on a grid shared by every release of the same ECS cluster.

Each release polls at its own interval; left to itself, each would start at its own instant, and the reads of
idle releases (minutes apart, each at a random phase) would almost never meet in one coalescing window, so each
DescribeServices would carry one service instead of ten (ECS's limit per call). Rounding every sleep up to the
next tick of a per-cluster grid (period = the interval, phase from the cluster's name so clusters do not all
fire together) makes the releases of one cluster read together and share calls. A release never waits longer
than one interval plus a tenth, and never reads again sooner than a tenth of the interval.

One tick for a whole cluster made every idle release pass at one instant: with 1,000 releases a burst of about
2.7 s of the event loop every interval, and a spec change landing in it waited behind all of them (bench.scale:
write -> UpdateService p99 1.3 s). So a cluster's releases are dealt into groups of GROUP (the most one
DescribeServices carries), by their rank in the cluster (`slot`, `slots`: ecsbg.releasebook), and the groups'
ticks are spread over the first SPREAD of the interval: each call still carries ten services, and the loop
never has more than a group's passes at once.
"""

from __future__ import annotations

import math
import zlib

MIN_FRACTION = 0.1  # the shortest aligned sleep, as a share of the interval
GROUP = 10  # releases read together: DescribeServices takes "up to 10 services" (API reference)
SPREAD = 0.5  # the share of the interval a cluster's groups are spread over


def slot_of(rank: int, members: int) -> tuple[int, int]:
    """(the group of the release at `rank` among a cluster's `members`, how many groups the cluster has)."""
    return rank // GROUP, max(1, math.ceil(members / GROUP))


def aligned_delay(delay: float, now: float, key: str, slot: int = 0, slots: int = 1) -> float:
    """Seconds from `now` to the first tick of the grid of `key`'s group `slot` (of `slots`), period `delay`,
    that is at least a tenth of `delay` away."""
    if delay <= 0 or not math.isfinite(delay):
        return delay
    phase = (zlib.crc32(key.encode()) % 10_000) / 10_000 * delay
    phase = (phase + SPREAD * delay * (slot % max(1, slots)) / max(1, slots)) % delay
    tick = math.floor((now - phase) / delay) * delay + phase + delay  # the first tick after now
    if tick - now < MIN_FRACTION * delay:
        tick += delay
    return tick - now
