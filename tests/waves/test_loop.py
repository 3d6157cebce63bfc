"""The wave loop's I/O order (ecsbg.waves) against the fake seam: children are written before the status that
records them, so a pass whose status patch fails is repeated without writing any child twice."""

from __future__ import annotations

import asyncio

from ecsbg.waves import WaveDeps, WaveState, wave_loop, wave_once
from tests.fakes.clock import FixedClock
from tests.fakes.events import RecordingEvents
from tests.fakes.waves import FakeWaveApi
from tests.waves.world import T0, wave_body

WAVES = [{"name": "one", "targets": ["t0", "t1"]}, {"name": "two", "targets": ["t2"]}]


def _deps(api: FakeWaveApi, events: RecordingEvents) -> WaveDeps:
    return WaveDeps(api=api, events=events, clock=FixedClock(T0), poll_fast=0.01, poll_idle=0.05, backoff_max=0.02)


async def test_a_lost_status_patch_writes_no_child_twice_and_the_events_come_once() -> None:
    api, events = FakeWaveApi(), RecordingEvents()
    body, state = wave_body(WAVES), WaveState()
    api.fail_status = True
    for _ in range(3):
        try:
            await wave_once(body, _deps(api, events), state, lambda key: [])
        except ConnectionError:
            pass
    assert api.creates == ["w-t0", "w-t1"] and events.records == []  # nothing announced what is not recorded
    api.fail_status = False
    await wave_once(body, _deps(api, events), state, lambda key: [])
    assert api.creates == ["w-t0", "w-t1"] and api.statuses[-1]["phase"] == "Progressing"
    assert events.reasons() == ["AttemptStarted", "WaveStarted"]
    await wave_once(body, _deps(api, events), state, lambda key: [])
    assert len(api.statuses) == 1 and len(events.records) == 2  # nothing changed: no patch, no Event


async def test_the_loop_keeps_going_through_errors_and_stops_when_the_wave_is_gone() -> None:
    api, events, state = FakeWaveApi(), RecordingEvents(), WaveState()
    api.fail_status = True
    task = asyncio.create_task(wave_loop(wave_body(WAVES), _deps(api, events), state, lambda key: [], False))
    await asyncio.sleep(0.1)
    assert state.failure is not None and "ConnectionError" in state.failure and not task.done()
    api.fail_status = False
    await asyncio.sleep(0.1)
    assert state.failure is None and api.statuses
    state.gone = True
    state.wake.set()
    await asyncio.wait_for(task, 1)
