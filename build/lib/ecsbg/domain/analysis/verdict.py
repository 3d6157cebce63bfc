"""The measurement/verdict state machine (Argo Rollouts' analysis semantics, docs/analysis.md).

- A measurement is judged by its conditions: failureCondition true -> Failed; else successCondition true ->
  Successful, false -> Failed (with no failureCondition) or Inconclusive (with one); neither condition ->
  Successful. A provider error or a condition that cannot be evaluated is an Error.
- A metric is Failed once more than `failureLimit` measurements failed, Inconclusive once more than
  `inconclusiveLimit` were inconclusive or more than `consecutiveErrorLimit` errors came in a row (a human
  decides: never a silent success), Successful once `count` measurements (errors not counted) are in.
- A run is Failed as soon as one metric failed; when every metric is done it is Inconclusive if one is
  Inconclusive, else Successful; Running meanwhile.

Everything here is a function of the recorded runs, so a restarted operator continues a run where the status
left it: measurements already taken are never taken again.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ecsbg.domain.analysis.cel import CelError, evaluate
from ecsbg.domain.analysis.model import Measurement, MetricRun, MetricSpec, Template, Verdict

MAX_MEASUREMENTS = 10  # per metric in status; the counters keep the totals
MAX_VALUE_CHARS = 200


def judge(metric: MetricSpec, result: Any) -> tuple[Verdict, str | None]:
    """The phase of one measurement whose provider answered `result`."""
    try:
        if metric.failure is not None and evaluate(metric.failure.program, result):
            return Verdict.FAILED, f"failureCondition {metric.failure.expression!r} is true"
        if metric.success is not None:
            if evaluate(metric.success.program, result):
                return Verdict.SUCCESSFUL, None
            if metric.failure is None:
                return Verdict.FAILED, f"successCondition {metric.success.expression!r} is false"
            return Verdict.INCONCLUSIVE, "neither successCondition nor failureCondition is true"
    except CelError as exc:
        return Verdict.ERROR, f"condition could not be evaluated: {exc}"
    return Verdict.SUCCESSFUL, None


def measurement(metric: MetricSpec, result: Any, *, started: datetime, finished: datetime,
                error: str | None = None) -> Measurement:
    """A measurement from a provider's answer (`error` when the provider failed)."""
    if error is not None:
        return Measurement(Verdict.ERROR, started, finished, None, error)
    phase, message = judge(metric, result)
    return Measurement(phase, started, finished, compact(result), message)


def compact(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def record(metric: MetricSpec, run: MetricRun, taken: Measurement) -> MetricRun:
    """The metric's run after one more measurement: counters, newest measurements, and its phase."""
    counters = {
        Verdict.SUCCESSFUL: "successful", Verdict.FAILED: "failed",
        Verdict.INCONCLUSIVE: "inconclusive", Verdict.ERROR: "error",
    }
    field = counters[taken.phase]
    updated = replace(
        run,
        count=run.count + (0 if taken.phase is Verdict.ERROR else 1),
        consecutive_error=run.consecutive_error + 1 if taken.phase is Verdict.ERROR else 0,
        measurements=(*run.measurements, taken)[-MAX_MEASUREMENTS:],
        **{field: getattr(run, field) + 1},
    )
    phase, message = metric_phase(metric, updated)
    return replace(updated, phase=phase, message=message)


def metric_phase(metric: MetricSpec, run: MetricRun) -> tuple[Verdict, str | None]:
    if run.failed > metric.failure_limit:
        return Verdict.FAILED, (f"{run.failed} measurement(s) failed, more than failureLimit "
                                f"{metric.failure_limit}{_last_message(run, Verdict.FAILED)}")
    if run.inconclusive > metric.inconclusive_limit:
        return Verdict.INCONCLUSIVE, (f"{run.inconclusive} measurement(s) inconclusive, more than inconclusiveLimit "
                                      f"{metric.inconclusive_limit}")
    if run.consecutive_error > metric.consecutive_error_limit:
        return Verdict.INCONCLUSIVE, (f"{run.consecutive_error} consecutive measurement errors, more than "
                                      f"consecutiveErrorLimit {metric.consecutive_error_limit}"
                                      f"{_last_message(run, Verdict.ERROR)}")
    if metric.count is not None and run.count >= metric.count:
        return Verdict.SUCCESSFUL, f"{run.count} of {metric.count} measurement(s) taken"
    return Verdict.RUNNING, None


def _last_message(run: MetricRun, phase: Verdict) -> str:
    last = next((m for m in reversed(run.measurements) if m.phase is phase and m.message), None)
    return f"; last: {last.message}" if last else ""


def next_due(metric: MetricSpec, run: MetricRun, started: datetime) -> datetime | None:
    """When the metric's next measurement is due; None when the metric is done."""
    if run.phase.done:
        return None
    if not run.measurements:
        return started + timedelta(seconds=metric.initial_delay_seconds)
    return run.measurements[-1].finished_at + timedelta(seconds=metric.interval_seconds)


def due(template: Template, runs: tuple[MetricRun, ...], started: datetime, now: datetime) -> list[MetricSpec]:
    """The metrics whose next measurement is due at `now`."""
    by_name = {r.name: r for r in runs}
    out = []
    for metric in template.metrics:
        when = next_due(metric, by_name.get(metric.name, MetricRun(metric.name)), started)
        if when is not None and when <= now:
            out.append(metric)
    return out


def earliest_due(template: Template, runs: tuple[MetricRun, ...], started: datetime) -> datetime | None:
    by_name = {r.name: r for r in runs}
    times = [t for m in template.metrics if (t := next_due(m, by_name.get(m.name, MetricRun(m.name)), started))]
    return min(times, default=None)


def run_phase(template: Template, runs: tuple[MetricRun, ...]) -> tuple[Verdict, str | None]:
    """The run's phase from its metrics'; the message names the metric that decided it."""
    by_name = {r.name: r for r in runs}
    metric_runs = [by_name.get(m.name, MetricRun(m.name)) for m in template.metrics]
    failed = next((r for r in metric_runs if r.phase is Verdict.FAILED), None)
    if failed is not None:
        return Verdict.FAILED, f"metric {failed.name} failed: {failed.message}"
    if not all(r.phase.done for r in metric_runs):
        return Verdict.RUNNING, None
    stuck = next((r for r in metric_runs if r.phase in (Verdict.INCONCLUSIVE, Verdict.ERROR)), None)
    if stuck is not None:
        return Verdict.INCONCLUSIVE, f"metric {stuck.name} inconclusive: {stuck.message}"
    return Verdict.SUCCESSFUL, "every metric successful"


def stop(runs: tuple[MetricRun, ...]) -> tuple[Verdict, str]:
    """The phase of a background run stopped from outside (its bake time ended): Successful unless a measurement
    failed or was inconclusive (Argo's terminated background analysis)."""
    if any(r.failed or r.inconclusive for r in runs):
        return Verdict.INCONCLUSIVE, "stopped with failed or inconclusive measurements below their limits"
    return Verdict.SUCCESSFUL, "stopped when the bake time ended, no measurement failed"
