"""ecsbg.aws.apply's limit of starts at once (ECSBG_MAX_CONCURRENT_STARTS): at most that many starts in their
checks and as many in their writes; the claim's settle time is waited holding neither a slot nor an AWS thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from types import SimpleNamespace

import pytest

from ecsbg.aws import apply
from ecsbg.aws.batching import Slots
from ecsbg.domain.model import Target
from ecsbg.settings import Settings

TARGET = Target(region="eu-west-1", cluster="prod", service="web")
ARN = "arn:aws:ecs:eu-west-1:111122223333:service/prod/web"


class Stages:
    """Fake checks and writes (in worker threads, as the real ones): each takes `seconds`, and the most of each
    kind seen running at once and the order they ran in are recorded."""

    def __init__(self, seconds: float, claimed: bool) -> None:
        self.seconds, self.claimed = seconds, claimed
        self.running = {"checks": 0, "writes": 0}
        self.most = {"checks": 0, "writes": 0}
        self.order: list[str] = []
        self._lock = threading.Lock()

    def _stage(self, kind: str, name: str) -> None:
        with self._lock:
            self.running[kind] += 1
            self.most[kind] = max(self.most[kind], self.running[kind])
            self.order.append(f"{kind} {name}")
        time.sleep(self.seconds)
        with self._lock:
            self.running[kind] -= 1

    def prepare(self, action, observation, described):
        self._stage("checks", action.name)
        return apply._Prepared(None, {"serviceArn": ARN}, {}, (), claimed=self.claimed)

    def finish(self, action, observation, prepared):
        self._stage("writes", action.name)
        return apply.ApplyResult(deployment_arn=f"deployment-{action.name}")


def _applier(monkeypatch, stages: Stages, limit: int | None, threads: int = 8, waiting=lambda count: None,
             ) -> apply.Applier:
    pool = concurrent.futures.ThreadPoolExecutor(threads)

    async def run(fn):
        return await asyncio.get_running_loop().run_in_executor(pool, fn)

    async def describe(target):
        return {"serviceArn": ARN, "tags": [{"key": "ecsbg.dev/owner", "value": "o"}]}

    applier = apply.Applier(lambda key: None, run=run, describe=describe, max_concurrent_starts=limit,
                            starts_waiting=waiting)
    monkeypatch.setattr(applier, "_prepare_start", stages.prepare)
    monkeypatch.setattr(applier, "_finish_start", stages.finish)
    return applier


def _action(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, spec=SimpleNamespace(target=TARGET, owner="o"))


async def _start_all(applier: apply.Applier, names: str) -> list[str | None]:
    results = await asyncio.gather(*(applier._start(_action(n), None) for n in names))
    return [r.deployment_arn for r in results]


@pytest.mark.parametrize(("limit", "most"), [(2, 2), (None, 6)])
async def test_at_most_the_limit_of_starts_check_and_write_at_once(monkeypatch, limit, most):
    monkeypatch.setattr(apply, "CLAIM_SETTLE_SECONDS", 0.0)
    stages = Stages(seconds=0.05, claimed=False)
    applier = _applier(monkeypatch, stages, limit)
    assert await _start_all(applier, "abcdef") == [f"deployment-{n}" for n in "abcdef"]
    assert stages.most == {"checks": most, "writes": most}


async def test_the_settle_time_holds_no_slot_so_later_checks_go_on_meanwhile(monkeypatch):
    """One start at a time: every claim's checks run while the first claim settles, then the writes in the order
    the starts came; a slot held through the settle time would run each start whole, one after the other."""
    monkeypatch.setattr(apply, "CLAIM_SETTLE_SECONDS", 0.3)
    stages = Stages(seconds=0.0, claimed=True)
    applier = _applier(monkeypatch, stages, limit=1)
    assert await _start_all(applier, "abc") == ["deployment-a", "deployment-b", "deployment-c"]
    assert stages.order == ["checks a", "checks b", "checks c", "writes a", "writes b", "writes c"]


async def test_the_starts_waiting_for_a_slot_are_counted_and_none_is_left_over(monkeypatch):
    """Four starts, two slots: the third and fourth wait for their checks (1, then 2), one at a time the count
    goes up and down, and every wait ends (the gauge ends at 0)."""
    monkeypatch.setattr(apply, "CLAIM_SETTLE_SECONDS", 0.0)
    counts: list[int] = []
    applier = _applier(monkeypatch, Stages(seconds=0.05, claimed=False), limit=2, waiting=counts.append)
    await _start_all(applier, "abcd")
    assert max(counts) == 2 and counts[-1] == 0 and counts[:2] == [1, 2]
    assert all(abs(a - b) == 1 for a, b in zip([0, *counts], counts, strict=False))


async def test_without_a_limit_nothing_waits(monkeypatch):
    monkeypatch.setattr(apply, "CLAIM_SETTLE_SECONDS", 0.0)
    counts: list[int] = []
    applier = _applier(monkeypatch, Stages(seconds=0.01, claimed=False), limit=None, waiting=counts.append)
    await _start_all(applier, "abcd")
    assert counts == []


async def test_the_settle_time_holds_no_aws_thread(monkeypatch):
    """Two first starts with one AWS worker thread: both settle at once on the loop (about one settle time, not
    two); with the settle slept in the thread, the second start waited for the first's."""
    monkeypatch.setattr(apply, "CLAIM_SETTLE_SECONDS", 0.3)
    applier = _applier(monkeypatch, Stages(seconds=0.0, claimed=True), limit=None, threads=1)
    began = time.monotonic()
    assert await _start_all(applier, "ab") == ["deployment-a", "deployment-b"]
    assert time.monotonic() - began < 0.5


def test_slots_serve_one_event_loop_after_another():
    """An asyncio.Semaphore that has made a task wait belongs to that loop; the next loop gets its own."""
    slots = Slots(1)

    async def contended() -> int:
        held = []

        async def hold(n: int) -> None:
            async with slots():
                held.append(n)
                await asyncio.sleep(0.01)

        await asyncio.gather(hold(1), hold(2))
        return len(held)

    assert asyncio.run(contended()) == 2
    assert asyncio.run(contended()) == 2


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)


@pytest.mark.parametrize(("raw", "expected"), [(None, 32), ("", 32), ("0", 0), ("128", 128), (" 8 ", 8)])
def test_the_setting_is_a_whole_number_and_zero_means_no_limit(raw, expected):
    env = {} if raw is None else {"ECSBG_MAX_CONCURRENT_STARTS": raw}
    assert Settings.from_env(env).max_concurrent_starts == expected


@pytest.mark.parametrize("raw", ["-1", "2.5", "many", "²"])
def test_a_setting_that_is_not_a_whole_number_is_refused_by_name(raw):
    with pytest.raises(ValueError, match="ECSBG_MAX_CONCURRENT_STARTS must be a whole number"):
        Settings.from_env({"ECSBG_MAX_CONCURRENT_STARTS": raw})
