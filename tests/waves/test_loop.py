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


def _finish(api: FakeWaveApi, name: str, phase: str = "Succeeded") -> None:
    child = api.releases[name]
    child["status"] = {"observedGeneration": child["metadata"]["generation"], "phase": phase, "attempt": 1,
                       "source": {"taskDefinitionArn": "arn:td/web:1"}}


async def test_wave_metrics_follow_the_status_and_a_restart_counts_nothing_twice() -> None:
    from tests.fakes.metrics import RecordingMetrics

    api, events, metrics, clock = FakeWaveApi(), RecordingEvents(), RecordingMetrics(), FixedClock(T0)
    deps = WaveDeps(api=api, events=events, clock=clock, poll_fast=0.01, poll_idle=0.05, backoff_max=0.02,
                    metrics=metrics)
    body, state = wave_body([{**WAVES[0], "gate": {"bake": "5s"}}, WAVES[1]]), WaveState()
    info = lambda phase, current: metrics.sample("ecsbg_wave_info", namespace="ns", name="w",  # noqa: E731
                                                 phase=phase, current_wave=current)
    await wave_once(body, deps, state, lambda key: [])
    assert info("Progressing", "one") == 1 and metrics.sample("ecsbg_wave_targets", namespace="ns", name="w") == 3
    _finish(api, "w-t0")
    _finish(api, "w-t1")
    await wave_once(body, deps, state, lambda key: [])  # wave one done, its bake starts
    assert metrics.sample("ecsbg_wave_targets_done", namespace="ns", name="w") == 2
    clock.advance(6)
    await wave_once(body, deps, state, lambda key: [])  # baked: wave two starts
    assert info("Progressing", "two") == 1 and info("Progressing", "one") is None  # one series per wave
    _finish(api, "w-t2")
    await wave_once(body, deps, state, lambda key: [])
    await wave_once(body, deps, state, lambda key: [])
    assert info("Succeeded", "") == 1 and metrics.sample("ecsbg_wave_targets_done", namespace="ns", name="w") == 3
    restarted = WaveState()  # a new process: it reads the stored status back
    await wave_once({**body, "status": state.last_status}, deps, restarted, lambda key: [])
    assert metrics.sample("ecsbg_waves_finished_total", result="succeeded") == 1
    assert metrics.sample("ecsbg_wave_gate_verdicts_total", verdict="Baked") == 1
    assert metrics.sample("ecsbg_waves_finished_total", result="failed") == 0  # exported at 0 from the start
    metrics.forget_wave(namespace="ns", name="w")
    assert info("Succeeded", "") is None and metrics.sample("ecsbg_wave_targets", namespace="ns", name="w") is None


async def test_a_failure_waiting_for_targets_in_flight_ends_once_when_they_finish() -> None:
    from tests.fakes.metrics import RecordingMetrics

    api, events, metrics = FakeWaveApi(), RecordingEvents(), RecordingMetrics()
    deps = WaveDeps(api=api, events=events, clock=FixedClock(T0), poll_fast=0.01, poll_idle=0.05,
                    backoff_max=0.02, metrics=metrics)
    body, state = wave_body(WAVES), WaveState()
    await wave_once(body, deps, state, lambda key: [])
    _finish(api, "w-t0", "Failed")
    await wave_once(body, deps, state, lambda key: [])  # Failed, but w-t1 is still in flight
    assert state.last_status["phase"] == "Failed" and metrics.of("wave_finished") == []
    _finish(api, "w-t1")
    for _ in range(2):
        await wave_once(body, deps, state, lambda key: [])
    assert metrics.of("wave_finished") == [{"result": "failed"}]


async def test_an_analysis_gate_is_measured_by_the_releases_runner_and_its_verdict_lets_wave_two_go() -> None:
    from ecsbg.analysis.runner import AnalysisRunner
    from tests.fakes.analysis import FakeProvider, FakeTemplateSource
    from tests.waves.test_gates import ANALYSIS, TEMPLATE

    source, provider, clock = FakeTemplateSource(), FakeProvider(), FixedClock(T0)
    source.add(TEMPLATE)
    provider.script(0.01)
    runner = AnalysisRunner(templates=source, providers={"prometheus": provider}, clock=clock)
    api, events = FakeWaveApi(), RecordingEvents()
    deps = WaveDeps(api=api, events=events, clock=clock, poll_fast=0.01, poll_idle=0.05, backoff_max=0.02,
                    analysis=runner)
    body, state = wave_body([{**WAVES[0], "gate": {"analysis": ANALYSIS}}, WAVES[1]]), WaveState()
    await wave_once(body, deps, state, lambda key: [])
    _finish(api, "w-t0")
    _finish(api, "w-t1")
    await wave_once(body, deps, state, lambda key: [])  # the gate's run starts (recorded, nothing measured yet)
    assert state.last_status["waves"][0]["gate"]["state"] == "Analyzing" and provider.seen == []
    await wave_once(body, deps, state, lambda key: [])  # measured: successful, wave two starts in the same pass
    assert provider.seen == [{"address": "http://prom:9090", "query": "errors{service='web'}"}]  # args resolved
    gate = state.last_status["waves"][0]["gate"]
    assert gate["verdict"] == "AnalysisSuccessful" and gate["analysis"]["metrics"][0]["successful"] == 1
    assert api.creates == ["w-t0", "w-t1", "w-t2"]
    assert {"AnalysisStarted", "AnalysisSuccessful", "GatePassed"} <= set(events.reasons())
    await wave_once(body, deps, state, lambda key: [])
    assert len(provider.seen) == 1  # a run with its verdict is never measured again


async def test_a_gate_whose_template_is_missing_creates_no_child() -> None:
    from ecsbg.analysis.runner import AnalysisRunner
    from tests.fakes.analysis import FakeTemplateSource
    from tests.waves.test_gates import ANALYSIS

    runner = AnalysisRunner(templates=FakeTemplateSource(), providers={}, clock=FixedClock(T0))
    api, events = FakeWaveApi(), RecordingEvents()
    deps = WaveDeps(api=api, events=events, clock=FixedClock(T0), poll_fast=0.01, poll_idle=0.05, backoff_max=0.02,
                    analysis=runner)
    await wave_once(wave_body([{**WAVES[0], "gate": {"analysis": ANALYSIS}}, WAVES[1]]), deps, WaveState(),
                    lambda key: [])
    assert api.creates == [] and api.statuses[-1]["phase"] == "Invalid"
    assert events.reasons() == ["AnalysisTemplateNotFound"]
