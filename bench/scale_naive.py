"""The naive baseline of bench.scale's API economy: what polling costs without any sharing.

One loop per release, each calling DescribeServices for its own service every `interval` seconds from its own
random instant (as independent per-release pollers do), counted from the emulator's record over `window`
seconds. Run against the same emulator, services and poll interval as the operator it is compared with.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

CLUSTER = "demo"  # where tests.plugins.ecs.seed_service puts the services


def naive_rate(url: str, services: list[str], interval: float, window: float, probe: Any) -> float:
    """Describe* calls per release-minute of the naive pollers, measured."""
    local = threading.local()

    def describe(service: str) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = boto3.client("ecs", endpoint_url=url, region_name="us-east-1",
                                                 aws_access_key_id="naive", aws_secret_access_key="naive")
        client.describe_services(cluster=CLUSTER, services=[service])

    rng = random.Random(12)
    started = time.time()
    due = [(started + rng.uniform(0, interval), s) for s in services]
    heapq.heapify(due)
    with ThreadPoolExecutor(8) as pool:
        while due and due[0][0] < started + window:
            at, service = heapq.heappop(due)
            time.sleep(max(0.0, at - time.time()))
            pool.submit(describe, service)
            heapq.heappush(due, (at + interval, service))
    ended = started + window
    return probe.describes(started, ended + 5) / len(services) / (window / 60)
