"""The metrics seam: what the operator reports, independent of Prometheus.

The reconciler and the AWS layer call a MetricsRecorder; ecsbg.metrics.prometheus implements it on its own
CollectorRegistry, and tests use RecordingMetrics (tests/fakes) or NullRecorder. Names and labels: docs/design.md.
"""

from __future__ import annotations

from typing import Protocol


class MetricsRecorder(Protocol):
    def aws_call(self, *, service: str, operation: str, seconds: float, error_code: str | None) -> None: ...

    def reconcile_started(self) -> None:
        """A reconcile began (controller_runtime_active_workers); each is ended by one reconcile() call."""

    def reconcile(self, *, result: str, seconds: float) -> None: ...

    def release_state(
        self,
        *,
        namespace: str,
        name: str,
        strategy: str,
        cluster: str,
        service: str,
        phase: str,
        stage: str | None,
        production: float | None,
        test: float | None,
    ) -> None: ...

    def release_step(self, *, namespace: str, name: str, number: int | None, count: int | None) -> None:
        """The Linear/Canary step in flight (number of count), or None; called after release_state."""

    def stage_finished(self, *, strategy: str, stage: str, seconds: float) -> None: ...

    def release_finished(self, *, strategy: str, result: str, seconds: float) -> None: ...

    def hook_outcome(self, *, hook_type: str, stage: str, outcome: str) -> None: ...

    def request(self, *, request: str, result: str) -> None: ...

    def policy_refused(self, *, reason: str) -> None: ...  # a release refused by EcsReleasePolicy (ecsbg.gating)

    def release_drift(self, *, namespace: str, name: str, drifted: bool, detected: tuple[str, ...] = ()) -> None:
        """ecsbg_release_drifted; ecsbg_drift_detected_total +1 for each field in `detected` (newly found)."""
        ...

    def forget_release(self, *, namespace: str, name: str) -> None: ...

    def release_backoff(self, *, namespace: str, name: str, seconds: float) -> None: ...

    def runtime_health(self, *, loops_stuck: int, api_unreachable_seconds: float) -> None: ...

    def starts_waiting(self, *, count: int) -> None: ...  # deployment starts waiting for a slot (aws.apply)

    def events_dropped(self, *, count: int) -> None: ...  # Kubernetes Events dropped from a full backlog

    def ecs_event(self, *, result: str) -> None: ...  # an ECS event from SQS: woke | unmatched | ignored

    # release waves (ecsbg.waves): one info series and two target gauges per wave, closed-set counters
    def wave_state(self, *, namespace: str, name: str, phase: str, current_wave: str | None, done: int,
                   total: int) -> None: ...

    def wave_finished(self, *, result: str) -> None: ...  # succeeded | failed | rolled_back | aborted

    def wave_gate(self, *, verdict: str) -> None: ...  # a gate between waves reached a verdict (GATE_VERDICTS)

    def forget_wave(self, *, namespace: str, name: str) -> None: ...


class NullRecorder:
    """Records nothing: for tools (the kubectl plugin, scripts) that reuse operator code without metrics."""

    def aws_call(self, *, service: str, operation: str, seconds: float, error_code: str | None) -> None:
        pass

    def reconcile_started(self) -> None:
        pass

    def reconcile(self, *, result: str, seconds: float) -> None:
        pass

    def release_state(self, **_: object) -> None:
        pass

    def release_step(self, *, namespace: str, name: str, number: int | None, count: int | None) -> None:
        pass

    def stage_finished(self, *, strategy: str, stage: str, seconds: float) -> None:
        pass

    def release_finished(self, *, strategy: str, result: str, seconds: float) -> None:
        pass

    def hook_outcome(self, *, hook_type: str, stage: str, outcome: str) -> None:
        pass

    def request(self, *, request: str, result: str) -> None:
        pass

    def policy_refused(self, *, reason: str) -> None:
        pass

    def release_drift(self, *, namespace: str, name: str, drifted: bool, detected: tuple[str, ...] = ()) -> None:
        pass

    def forget_release(self, *, namespace: str, name: str) -> None:
        pass

    def release_backoff(self, *, namespace: str, name: str, seconds: float) -> None:
        pass

    def notification(self, *, provider: str, type: str, trigger: str, outcome: str) -> None:
        pass

    def runtime_health(self, *, loops_stuck: int, api_unreachable_seconds: float) -> None:
        pass

    def starts_waiting(self, *, count: int) -> None:
        pass

    def events_dropped(self, *, count: int) -> None:
        pass

    def ecs_event(self, *, result: str) -> None:
        pass

    def wave_state(self, **_: object) -> None:
        pass

    def wave_finished(self, *, result: str) -> None:
        pass

    def wave_gate(self, *, verdict: str) -> None:
        pass

    def forget_wave(self, *, namespace: str, name: str) -> None:
        pass
