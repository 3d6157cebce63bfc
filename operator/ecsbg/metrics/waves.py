"""Prometheus metrics of release waves (EcsReleaseWave), on the operator's registry (docs/observability.md).

Cardinality is per wave object, never per target x stage: each target is a child EcsBlueGreenRelease and already
has its own `ecsbg_release_info`. A wave has one `ecsbg_wave_info` series (the info pattern, as releases: its
labels carry the phase and the entry of spec.waves in progress) and two gauges of targets; the counters' labels
are closed sets.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge

from ecsbg.metrics import vocabulary as v

_WAVE = ("namespace", "name")


class PrometheusWaveMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._info: dict[tuple[str, str], tuple[str, ...]] = {}  # the label values of each wave's info series
        self.info = Gauge("ecsbg_wave_info", "Always 1: one series per EcsReleaseWave whose labels carry its phase "
                          "and the wave (entry of spec.waves) in progress ('' when none).",
                          [*_WAVE, "phase", "current_wave"], registry=registry)
        self.targets = Gauge("ecsbg_wave_targets", "Targets of the wave's current attempt.", _WAVE, registry=registry)
        self.done = Gauge("ecsbg_wave_targets_done", "Targets of the wave's current attempt that succeeded (while "
                          "rolling back: that were returned to their previous task definition).", _WAVE,
                          registry=registry)
        self.finished = Counter("ecsbg_waves_finished", "Wave attempts that ended, by result.", ["result"],
                                registry=registry)
        self.gates = Counter("ecsbg_wave_gate_verdicts", "Gates between waves that reached a verdict, by verdict.",
                             ["verdict"], registry=registry)
        for result in v.WAVE_RESULTS:  # zeros first: increase() sees the first end (analysis.py says why)
            self.finished.labels(result)
        for verdict in v.WAVE_GATE_VERDICTS:
            self.gates.labels(verdict)

    def wave_state(self, *, namespace: str, name: str, phase: str, current_wave: str | None, done: int,
                   total: int) -> None:
        labels = (namespace, name, v.one_of(phase, v.WAVE_PHASES, "wave phase"), current_wave or "")
        with self._lock:
            before = self._info.get((namespace, name))
            if before != labels:
                if before is not None:
                    self.info.remove(*before)
                self.info.labels(*labels).set(1)
                self._info[namespace, name] = labels
        self.targets.labels(namespace, name).set(total)
        self.done.labels(namespace, name).set(done)

    def wave_finished(self, *, result: str) -> None:
        self.finished.labels(v.one_of(result, v.WAVE_RESULTS, "wave result")).inc()

    def wave_gate(self, *, verdict: str) -> None:
        self.gates.labels(v.one_of(verdict, v.WAVE_GATE_VERDICTS, "wave gate verdict")).inc()

    def forget_wave(self, *, namespace: str, name: str) -> None:
        with self._lock:
            labels = self._info.pop((namespace, name), None)
            if labels is None:
                return
            self.info.remove(*labels)
            self.targets.remove(namespace, name)
            self.done.remove(namespace, name)
