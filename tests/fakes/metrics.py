"""RecordingMetrics: a MetricsRecorder that records every call, for tests of the reconciler and the AWS layer.

Each call is also passed to a real PrometheusRecorder on a private registry, so a label value outside the
metrics vocabulary (an ARN, an unknown phase or result) raises ValueError in the test that made the call, exactly
as it would in the operator, and `sample()` reads what Prometheus would scrape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecsbg.metrics.prometheus import PrometheusRecorder


@dataclass(frozen=True)
class Call:
    method: str
    kwargs: dict[str, Any]


class RecordingMetrics:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.prometheus = PrometheusRecorder()

    def _record(self, method: str, **kwargs: Any) -> None:
        getattr(self.prometheus, method)(**kwargs)  # validates the labels first: a rejected call is not kept
        self.calls.append(Call(method, kwargs))

    # ------------------------------------------------------------------------------------ MetricsRecorder

    def analysis_started(self, *, template: str) -> None:
        self._record("analysis_started", template=template)

    def analysis_run(self, *, template: str, verdict: str) -> None:
        self._record("analysis_run", template=template, verdict=verdict)

    def analysis_measurement(self, *, template: str, metric: str, phase: str, seconds: float) -> None:
        self._record("analysis_measurement", template=template, metric=metric, phase=phase, seconds=seconds)

    def aws_call(self, *, service: str, operation: str, seconds: float, error_code: str | None) -> None:
        self._record("aws_call", service=service, operation=operation, seconds=seconds, error_code=error_code)

    def reconcile_started(self) -> None:
        self._record("reconcile_started")

    def reconcile(self, *, result: str, seconds: float) -> None:
        self._record("reconcile", result=result, seconds=seconds)

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
    ) -> None:
        self._record(
            "release_state", namespace=namespace, name=name, strategy=strategy, cluster=cluster,
            service=service, phase=phase, stage=stage, production=production, test=test,
        )  # fmt: skip

    def release_step(self, *, namespace: str, name: str, number: int | None, count: int | None) -> None:
        self._record("release_step", namespace=namespace, name=name, number=number, count=count)

    def stage_finished(self, *, strategy: str, stage: str, seconds: float) -> None:
        self._record("stage_finished", strategy=strategy, stage=stage, seconds=seconds)

    def release_finished(self, *, strategy: str, result: str, seconds: float) -> None:
        self._record("release_finished", strategy=strategy, result=result, seconds=seconds)

    def hook_outcome(self, *, hook_type: str, stage: str, outcome: str) -> None:
        self._record("hook_outcome", hook_type=hook_type, stage=stage, outcome=outcome)

    def request(self, *, request: str, result: str) -> None:
        self._record("request", request=request, result=result)

    def policy_refused(self, *, reason: str) -> None:
        self._record("policy_refused", reason=reason)
    def release_drift(self, *, namespace: str, name: str, drifted: bool, detected: tuple[str, ...] = ()) -> None:
        self._record("release_drift", namespace=namespace, name=name, drifted=drifted, detected=detected)

    def forget_release(self, *, namespace: str, name: str) -> None:
        self._record("forget_release", namespace=namespace, name=name)

    def release_backoff(self, *, namespace: str, name: str, seconds: float) -> None:
        self._record("release_backoff", namespace=namespace, name=name, seconds=seconds)

    def notification(self, *, provider: str, type: str, trigger: str, outcome: str) -> None:
        self._record("notification", provider=provider, type=type, trigger=trigger, outcome=outcome)

    def events_dropped(self, *, count: int) -> None:
        self._record("events_dropped", count=count)

    def ecs_event(self, *, result: str) -> None:
        self._record("ecs_event", result=result)

    def wave_state(self, *, namespace: str, name: str, phase: str, current_wave: str | None, done: int,
                   total: int) -> None:
        self._record("wave_state", namespace=namespace, name=name, phase=phase, current_wave=current_wave,
                     done=done, total=total)

    def wave_finished(self, *, result: str) -> None:
        self._record("wave_finished", result=result)

    def wave_gate(self, *, verdict: str) -> None:
        self._record("wave_gate", verdict=verdict)

    def forget_wave(self, *, namespace: str, name: str) -> None:
        self._record("forget_wave", namespace=namespace, name=name)

    def runtime_health(self, *, loops_stuck: int, api_unreachable_seconds: float) -> None:
        self._record("runtime_health", loops_stuck=loops_stuck, api_unreachable_seconds=api_unreachable_seconds)

    def starts_waiting(self, *, count: int) -> None:
        self._record("starts_waiting", count=count)

    # ------------------------------------------------------------------------------------------- queries

    def of(self, method: str, **match: Any) -> list[dict[str, Any]]:
        """The keyword arguments of every `method` call whose arguments include `match`, in call order."""
        return [
            c.kwargs
            for c in self.calls
            if c.method == method and all(c.kwargs.get(k) == want for k, want in match.items())
        ]

    def last_state(self, namespace: str, name: str) -> dict[str, Any] | None:
        states = self.of("release_state", namespace=namespace, name=name)
        return states[-1] if states else None

    def sample(self, metric: str, **labels: str) -> float | None:
        """The value Prometheus would scrape for `metric` (full sample name, e.g. `..._total`), or None."""
        return self.prometheus.registry.get_sample_value(metric, labels)
