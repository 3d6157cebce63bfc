"""Prometheus metrics of automated analysis, on the operator's registry (docs/observability.md "Analysis").

Labels are bounded: `template` is "<Kind>/<name>" of a template that exists in the cluster, `metric` a metric
name of it (a DNS label), `verdict`/`phase` closed sets.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

VERDICTS = ("Successful", "Failed", "Inconclusive", "Error")
_MEASUREMENT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class PrometheusAnalysisMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter("ecsbg_analysis_runs", "Analysis runs that reached a verdict, by template and verdict.",
                            ["template", "verdict"], registry=registry)
        self.measurements = Counter(
            "ecsbg_analysis_measurements", "Analysis measurements taken, by template, metric and phase.",
            ["template", "metric", "phase"], registry=registry)
        self.latency = Histogram(
            "ecsbg_analysis_measurement_duration_seconds", "Time one measurement took (the provider's call).",
            ["template", "metric"], buckets=_MEASUREMENT_BUCKETS, registry=registry)

    def analysis_started(self, *, template: str) -> None:
        """A run of `template` started: its verdict series exist from now on at 0, so the first verdict is an
        increase Prometheus can see (a series born with its first increment has no earlier sample)."""
        for verdict in VERDICTS[:3]:
            self.runs.labels(template, verdict)

    def analysis_run(self, *, template: str, verdict: str) -> None:
        if verdict not in VERDICTS:
            raise ValueError(f"unknown analysis verdict {verdict!r}")
        self.runs.labels(template, verdict).inc()

    def analysis_measurement(self, *, template: str, metric: str, phase: str, seconds: float) -> None:
        if phase not in VERDICTS:
            raise ValueError(f"unknown measurement phase {phase!r}")
        self.measurements.labels(template, metric, phase).inc()
        self.latency.labels(template, metric).observe(seconds)
