"""The Prometheus implementation of MetricsRecorder, on its own CollectorRegistry (served by ecsbg.metrics.server).

Names, types and labels: docs/design.md "Metrics". A release's state is one series, `ecsbg_release_info`, the
info pattern of Argo Rollouts' `rollout_info` (its labels carry phase, ECS stage and target): select a phase
with `ecsbg_release_info{phase="Failed"}`, count with `count by (phase) (ecsbg_release_info)`. No StateSet
gauges (one 0/1 series per possible phase and stage) repeat it: they were 20 series per release, most of the
registry's memory and of each scrape's time at 1,000 releases (issue 12). controller_runtime_* mirror
controller-runtime's names, labels and buckets (pkg/internal/controller/metrics/metrics.go) so dashboards and
alerts written for Go operators work unchanged.
"""

from __future__ import annotations

import platform
import threading
from dataclasses import dataclass, field

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

import ecsbg
from ecsbg.metrics import vocabulary as v
from ecsbg.metrics.analysis import PrometheusAnalysisMetrics
from ecsbg.metrics.waves import PrometheusWaveMetrics

# Releases take minutes to hours; stages seconds to a day (bakeTimeInMinutes and hook timeouts go to 1440 min).
_RELEASE_BUCKETS = (60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 21600, 43200, 86400)
_STAGE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
_AWS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# controller-runtime's reconcile_time_seconds buckets, verbatim.
_RECONCILE_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
    1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
)  # fmt: skip

_RELEASE = ("namespace", "name")


@dataclass
class _Series:
    """The label values of one release's series, so a state change or a deletion removes exactly those."""

    info: tuple[str, ...]
    listeners: set[str] = field(default_factory=set)
    stepped: bool = False
    reported: tuple[object, ...] = ()  # release_state's arguments last time: most passes report the same again


class PrometheusRecorder:
    """MetricsRecorder on a CollectorRegistry of its own (a fresh one unless `registry` is given)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, revision: str = "unknown") -> None:
        # `_created` series are per-child timestamps nobody queries; prometheus_client only offers a
        # process-wide switch, and the operator process has no other metrics that want them.
        prometheus_client.disable_created_metrics()
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._releases: dict[tuple[str, str], _Series] = {}
        self._active_workers = 0
        self._strategies_seen: set[str] = set()
        self._define_release_metrics()
        self._define_outcome_metrics()
        self._define_runtime_metrics()
        self._initialise_known_series()
        # Which build runs (Kubernetes' `*_build_info` pattern): join it to any series, or alert on versions.
        Gauge("ecsbg_build_info", "Always 1: the operator's version, source revision and Python version.",
              ["version", "revision", "python_version"], registry=self.registry).labels(
            version=ecsbg.__version__, revision=revision or "unknown", python_version=platform.python_version()).set(1)
        self._analysis = PrometheusAnalysisMetrics(self.registry)
        self._waves = PrometheusWaveMetrics(self.registry)

    # automated analysis (ecsbg.analysis.runner.AnalysisMetrics), on the same registry
    def analysis_started(self, *, template: str) -> None:
        self._analysis.analysis_started(template=template)

    def analysis_run(self, *, template: str, verdict: str) -> None:
        self._analysis.analysis_run(template=template, verdict=verdict)

    def analysis_measurement(self, *, template: str, metric: str, phase: str, seconds: float) -> None:
        self._analysis.analysis_measurement(template=template, metric=metric, phase=phase, seconds=seconds)

    # release waves (ecsbg.waves), on the same registry: ecsbg.metrics.waves
    def wave_state(self, *, namespace: str, name: str, phase: str, current_wave: str | None, done: int,
                   total: int) -> None:
        self._waves.wave_state(namespace=namespace, name=name, phase=phase, current_wave=current_wave, done=done,
                               total=total)

    def wave_finished(self, *, result: str) -> None:
        self._waves.wave_finished(result=result)

    def wave_gate(self, *, verdict: str) -> None:
        self._waves.wave_gate(verdict=verdict)

    def forget_wave(self, *, namespace: str, name: str) -> None:
        self._waves.forget_wave(namespace=namespace, name=name)

    # ------------------------------------------------------------------------------------------ definitions

    def _define_release_metrics(self) -> None:
        r = self.registry
        self.release_info = Gauge(
            "ecsbg_release_info",
            "Always 1: one series per release whose labels carry its phase, ECS stage and target.",
            [*_RELEASE, "phase", "stage", "strategy", "cluster", "service"],
            registry=r,
        )
        self.traffic = Gauge(
            "ecsbg_release_traffic_percent", "Share of the listener's traffic on the green (target) revision.",
            [*_RELEASE, "listener"], registry=r,
        )  # fmt: skip
        self.step = Gauge(
            "ecsbg_release_step", "Linear/Canary production step in flight (1-based); absent between steps.",
            list(_RELEASE), registry=r,
        )  # fmt: skip
        self.steps = Gauge(
            "ecsbg_release_steps", "Number of production steps of the Linear/Canary deployment in flight.",
            list(_RELEASE), registry=r,
        )  # fmt: skip
        self.drifted = Gauge(
            "ecsbg_release_drifted", "1 while ECS no longer runs what the release's last successful attempt deployed.",
            _RELEASE, registry=r,
        )  # fmt: skip

    def _define_outcome_metrics(self) -> None:
        r = self.registry
        self.finished = Counter(
            "ecsbg_releases_finished", "Releases (attempts) that ended, by result.", ["strategy", "result"],
            registry=r,
        )  # fmt: skip
        self.release_duration = Histogram(
            "ecsbg_release_duration_seconds", "Time from an attempt's start to its end.",
            ["strategy", "result"], buckets=_RELEASE_BUCKETS, registry=r,
        )  # fmt: skip
        self.stage_duration = Histogram(
            "ecsbg_stage_duration_seconds",
            "Time spent in each ECS lifecycle stage, and in AWAITING_APPROVAL for paused hooks.",
            ["strategy", "stage"], buckets=_STAGE_BUCKETS, registry=r,
        )  # fmt: skip
        self.hooks = Counter(
            "ecsbg_hook_outcomes", "Lifecycle hook outcomes.", ["type", "stage", "outcome"], registry=r
        )
        self.drift_detected = Counter(
            "ecsbg_drift_detected", "Fields found differing from what a release deployed (out-of-band changes).",
            ["field"], registry=r,
        )  # fmt: skip
        self.requests = Counter(
            "ecsbg_requests", "approve/reject/abort/retry requests seen, by what became of them.",
            ["request", "result"], registry=r,
        )  # fmt: skip
        self.policy_refusals = Counter(
            "ecsbg_policy_refusals", "Releases refused by EcsReleasePolicy, by reason (once per refusal).",
            ["reason"], registry=r,
        )  # fmt: skip

    def _define_runtime_metrics(self) -> None:
        r = self.registry
        self.events_dropped_total = Counter(
            "ecsbg_events_dropped", "Kubernetes Events dropped because too many were waiting to be posted (the API "
            "server slow or unreachable; status still records every transition).", registry=r,
        )  # fmt: skip
        self.ecs_events = Counter(
            "ecsbg_ecs_events", "ECS events read from the events queue (ECSBG_EVENTS_QUEUE_URL): woke (a watched "
            "release's service), unmatched (a service no release watches here), ignored (not an ECS event).",
            ["result"], registry=r,
        )  # fmt: skip
        self.notifications = Counter(
            "ecsbg_notifications", "Notification delivery tries, by provider, provider type, trigger and outcome "
            "(delivered, retry: a failed try that is retried, failed: given up, misconfigured: provider or Secret "
            "unusable).", ["provider", "type", "trigger", "outcome"], registry=r,
        )  # fmt: skip
        self.aws_calls = Counter(
            "ecsbg_aws_api_calls", "AWS API calls made.", ["service", "operation"], registry=r
        )
        self.aws_errors = Counter(
            "ecsbg_aws_api_errors", "AWS API calls that failed, by error code.",
            ["service", "operation", "code"], registry=r,
        )  # fmt: skip
        self.aws_duration = Histogram(
            "ecsbg_aws_api_call_duration_seconds", "AWS API call latency, retries included.",
            ["service", "operation"], buckets=_AWS_BUCKETS, registry=r,
        )  # fmt: skip
        self.reconcile_total = Counter(
            "controller_runtime_reconcile", "Total number of reconciliations per controller.",
            ["controller", "result"], registry=r,
        )  # fmt: skip
        self.reconcile_errors = Counter(
            "controller_runtime_reconcile_errors", "Total number of reconciliation errors per controller.",
            ["controller"], registry=r,
        )  # fmt: skip
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds", "Length of time per reconciliation per controller.",
            ["controller"], buckets=_RECONCILE_BUCKETS, registry=r,
        )  # fmt: skip
        self.active_workers = Gauge(
            "controller_runtime_active_workers", "Number of currently used workers per controller.",
            ["controller"], registry=r,
        )  # fmt: skip
        self.backoff = Gauge(
            "ecsbg_release_backoff_seconds", "Extra delay before a release's next pass while AWS throttles or a "
            "pass fails (0: none).", ["namespace", "name"], registry=r,
        )  # fmt: skip
        self.loops_stuck = Gauge(
            "ecsbg_release_loops_stuck", "Release loops whose current pass has run longer than "
            "ECSBG_LOOP_STUCK_SECONDS.", registry=r,
        )  # fmt: skip
        self.starts_waiting_now = Gauge(
            "ecsbg_starts_waiting", "Deployment starts waiting for one of the ECSBG_MAX_CONCURRENT_STARTS slots.",
            registry=r,
        )  # fmt: skip
        self.api_unreachable = Gauge(
            "ecsbg_kubernetes_api_unreachable_seconds", "Seconds since the Kubernetes API last answered, while it "
            "does not (0 when it does).", registry=r,
        )  # fmt: skip

    def _initialise_known_series(self) -> None:
        """Export zeros for every closed label combination, as controller-runtime does for its results:
        `rate()` and `increase()` then see a counter's first increment instead of starting at 1."""
        for result in v.RECONCILE_RESULTS:
            self.reconcile_total.labels(v.CONTROLLER, result)
        self.reconcile_errors.labels(v.CONTROLLER)
        self.reconcile_time.labels(v.CONTROLLER)
        self.active_workers.labels(v.CONTROLLER).set(0)
        for strategy in v.STRATEGIES:
            for result in v.RELEASE_RESULTS:
                self.finished.labels(strategy, result)
        for request in v.REQUESTS:
            for result in v.REQUEST_RESULTS:
                self.requests.labels(request, result)
        for reason in v.POLICY_REFUSALS:
            self.policy_refusals.labels(reason)
        for drift_field in v.DRIFT_FIELDS:
            self.drift_detected.labels(drift_field)

    def _strategy_seen(self, strategy: str) -> None:
        """On the first release of a strategy, export its duration histograms at zero: a series born with
        its first observation has no earlier sample, so `rate()`/`increase()` would never see that first
        release or stage. Per strategy in use, not all up front, to keep idle operators' series count low."""
        if strategy in self._strategies_seen:
            return
        self._strategies_seen.add(strategy)
        for result in v.RELEASE_RESULTS:
            self.release_duration.labels(strategy, result)
        for stage in (*v.ECS_STAGES, v.AWAITING_APPROVAL):
            self.stage_duration.labels(strategy, stage)

    # ----------------------------------------------------------------------------------- MetricsRecorder

    def aws_call(self, *, service: str, operation: str, seconds: float, error_code: str | None) -> None:
        labels = (v.identifier(service, "service"), v.identifier(operation, "operation"))
        self.aws_calls.labels(*labels).inc()
        self.aws_duration.labels(*labels).observe(seconds)
        if error_code is not None:
            self.aws_errors.labels(*labels, v.error_code(error_code)).inc()

    def reconcile_started(self) -> None:
        with self._lock:
            self._active_workers += 1
            self.active_workers.labels(v.CONTROLLER).set(self._active_workers)

    def reconcile(self, *, result: str, seconds: float) -> None:
        self.reconcile_total.labels(v.CONTROLLER, v.one_of(result, v.RECONCILE_RESULTS, "result")).inc()
        if result == "error":
            self.reconcile_errors.labels(v.CONTROLLER).inc()
        self.reconcile_time.labels(v.CONTROLLER).observe(seconds)
        with self._lock:
            # Only a reconcile announced by reconcile_started() was counted as active.
            self._active_workers = max(0, self._active_workers - 1)
            self.active_workers.labels(v.CONTROLLER).set(self._active_workers)

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
        reported = (strategy, cluster, service, phase, stage, production, test)
        with self._lock:
            series = self._releases.get((namespace, name))
            if series is not None and series.reported == reported:
                return  # every series already holds these values (only this method and forget_release set them)
        phase = v.one_of(phase, v.PHASES, "phase")
        stage = v.stage(stage) if stage is not None else None
        info = (
            namespace, name, phase, stage or "", v.strategy(strategy),
            v.resource_name(cluster), v.resource_name(service),
        )  # fmt: skip
        with self._lock:
            self._strategy_seen(info[4])
            series = self._releases.get((namespace, name))
            if series is None:
                series = self._releases[(namespace, name)] = _Series(info=info)
            elif series.info != info:
                self.release_info.remove(*series.info)
                series.info = info
            self.release_info.labels(*info).set(1)
            self._set_traffic(series, namespace, name, {"production": production, "test": test})
            series.reported = reported

    def _set_traffic(
        self, series: _Series, namespace: str, name: str, shares: dict[str, float | None]
    ) -> None:
        for listener, percent in shares.items():
            if percent is not None:
                self.traffic.labels(namespace, name, listener).set(percent)
                series.listeners.add(listener)
            elif listener in series.listeners:
                # ECS reports no weight (no deployment yet, or a rolling one): no series beats a made-up 0.
                self.traffic.remove(namespace, name, listener)
                series.listeners.discard(listener)

    def release_step(self, *, namespace: str, name: str, number: int | None, count: int | None) -> None:
        with self._lock:
            series = self._releases.get((namespace, name))
            if series is None:
                return  # release_state comes first; a release it never saw has no series to extend
            if number is not None and count is not None:
                self.step.labels(namespace, name).set(number)
                self.steps.labels(namespace, name).set(count)
                series.stepped = True
            elif series.stepped:  # no step in flight: no series beats a made-up 0
                self.step.remove(namespace, name)
                self.steps.remove(namespace, name)
                series.stepped = False

    def stage_finished(self, *, strategy: str, stage: str, seconds: float) -> None:
        self.stage_duration.labels(v.strategy(strategy), v.stage(stage, awaiting_approval=True)).observe(
            seconds
        )

    def release_finished(self, *, strategy: str, result: str, seconds: float) -> None:
        labels = (v.strategy(strategy), v.one_of(result, v.RELEASE_RESULTS, "result"))
        self.finished.labels(*labels).inc()
        self.release_duration.labels(*labels).observe(seconds)

    def hook_outcome(self, *, hook_type: str, stage: str, outcome: str) -> None:
        self.hooks.labels(
            v.hook_type(hook_type),
            v.hook_stage(stage),
            v.one_of(outcome, v.HOOK_OUTCOMES, "hook outcome"),
        ).inc()

    def request(self, *, request: str, result: str) -> None:
        self.requests.labels(
            v.one_of(request, v.REQUESTS, "request"), v.one_of(result, v.REQUEST_RESULTS, "request result")
        ).inc()

    def policy_refused(self, *, reason: str) -> None:
        self.policy_refusals.labels(v.one_of(reason, v.POLICY_REFUSALS, "policy refusal reason")).inc()

    def release_drift(self, *, namespace: str, name: str, drifted: bool, detected: tuple[str, ...] = ()) -> None:
        for drift_field in detected:
            self.drift_detected.labels(v.one_of(drift_field, v.DRIFT_FIELDS, "drift field")).inc()
        self.drifted.labels(namespace, name).set(1 if drifted else 0)

    def release_backoff(self, *, namespace: str, name: str, seconds: float) -> None:
        self.backoff.labels(namespace, name).set(seconds)

    def notification(self, *, provider: str, type: str, trigger: str, outcome: str) -> None:
        """One try of one notification delivery (ecsbg.notify.sender). `provider` names an existing provider
        object ("<Kind>/<namespace>/<name>", cluster-scoped without the namespace): bounded like analysis templates."""
        self.notifications.labels(
            provider, v.one_of(type, v.NOTIFICATION_TYPES, "notification provider type"),
            v.one_of(trigger, v.NOTIFICATION_TRIGGERS, "notification trigger"),
            v.one_of(outcome, v.NOTIFICATION_OUTCOMES, "notification outcome")).inc()

    def events_dropped(self, *, count: int) -> None:
        self.events_dropped_total.inc(count)

    def ecs_event(self, *, result: str) -> None:
        self.ecs_events.labels(v.one_of(result, ("woke", "unmatched", "ignored"), "ECS event result")).inc()

    def runtime_health(self, *, loops_stuck: int, api_unreachable_seconds: float) -> None:
        self.loops_stuck.set(loops_stuck)
        self.api_unreachable.set(api_unreachable_seconds)

    def starts_waiting(self, *, count: int) -> None:
        self.starts_waiting_now.set(count)

    def forget_release(self, *, namespace: str, name: str) -> None:
        with self._lock:
            try:
                self.drifted.remove(namespace, name)
            except KeyError:  # never reported
                pass
            try:
                self.backoff.remove(namespace, name)
            except KeyError:
                pass
            series = self._releases.pop((namespace, name), None)
            if series is None:
                return
            self.release_info.remove(*series.info)
            for listener in series.listeners:
                self.traffic.remove(namespace, name, listener)
            if series.stepped:
                self.step.remove(namespace, name)
                self.steps.remove(namespace, name)
