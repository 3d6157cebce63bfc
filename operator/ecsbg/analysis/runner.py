"""Drives a release's analysis runs, one reconcile pass at a time (docs/analysis.md).

Each pass: the places where an analysis must run now (domain.analysis.places), the template of each live run
(read and resolved again: a fixed template or a created Secret takes effect at the next pass), the measurements
that are due (each provider call is one measurement, recorded at once), the run's verdict, and the ECS call the
verdict makes (ContinueServiceDeployment CONTINUE / ROLLBACK for a Pause hook, StopServiceDeployment ROLLBACK
during the bake). The runs live in status, so a restarted operator continues where the last written status
left off and a verdict's call is recorded with it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ecsbg.clock import Clock
from ecsbg.domain import actions
from ecsbg.domain.analysis import places, verdict
from ecsbg.domain.analysis.model import AnalysisRef, AnalysisRun, MetricRun, SecretRef, Template, Verdict
from ecsbg.domain.analysis.provider import MeasurementError, Provider
from ecsbg.domain.analysis.templates import InvalidTemplate, parse_template, resolve, secret_refs
from ecsbg.domain.events import EventRecord
from ecsbg.domain.model import ReleaseSpec, ReleaseStatus

logger = logging.getLogger(__name__)


class TemplateSource(Protocol):
    """Reads templates and Secrets by reference (ecsbg.k8s.templates; a dict-backed fake in tests)."""

    async def template(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    async def secret(self, namespace: str, name: str, key: str) -> str | None: ...


class AnalysisMetrics(Protocol):
    def analysis_started(self, *, template: str) -> None: ...

    def analysis_run(self, *, template: str, verdict: str) -> None: ...

    def analysis_measurement(self, *, template: str, metric: str, phase: str, seconds: float) -> None: ...


class NoMetrics:
    def analysis_started(self, *, template: str) -> None:
        pass

    def analysis_run(self, *, template: str, verdict: str) -> None:
        pass

    def analysis_measurement(self, *, template: str, metric: str, phase: str, seconds: float) -> None:
        pass


Apply = Callable[[actions.Action], Awaitable[actions.ApplyResult]]


@dataclass
class AnalysisRunner:
    templates: TemplateSource
    providers: Mapping[str, Provider]
    clock: Clock
    metrics: AnalysisMetrics = field(default_factory=NoMetrics)

    async def step(self, *, spec: ReleaseSpec, namespace: str, name: str, status: ReleaseStatus,
                   prior: ReleaseStatus, may_act: bool, apply: Apply) -> tuple[ReleaseStatus, list[EventRecord]]:
        """The status with this pass's runs (and a message saying what they decided), and their Events.
        `may_act` is False when the planner already acts on the release this pass (a person's request wins)."""
        now = self.clock.now()
        live = places.active_places(spec, status)
        by_key = {(status.attempt, p.hook_id or "bake"): p for p in live}
        runs = places.carry(prior.analysis_runs, live, status.attempt, now)
        known = {r.key for r in prior.analysis_runs}
        for run in runs:
            if run.key not in known:
                self.metrics.analysis_started(template=run.template)
        facts = release_facts(namespace, name, status)
        for i, run in enumerate(runs):
            place = by_key.get(run.key)
            if place is None or run.finished_at is not None:
                continue
            run = await self.advance(run, place.ref, namespace, {**facts, "hookId": run.hook_id or ""})
            if may_act:
                run = await self._act(run, status, apply)
            runs[i] = run
        new_status = places.describe(replace(status, analysis_runs=tuple(runs)), runs)
        return new_status, places.run_events(prior.analysis_runs, runs)

    async def advance(self, run: AnalysisRun, ref: AnalysisRef, namespace: str,
                       facts: Mapping[str, Any]) -> AnalysisRun:
        try:
            template = await self._resolved(ref, namespace, facts)
        except InvalidTemplate as exc:
            return replace(run, phase=Verdict.ERROR, message=f"{exc.reason}: {exc}")
        if run.phase is Verdict.ERROR:  # the template (or its Secret) was fixed: measure again
            run = replace(run, phase=Verdict.RUNNING, message=None)
        if run.phase.done:
            return run
        metric_runs = {m.name: m for m in run.metrics}
        for metric in verdict.due(template, run.metrics, run.started_at, self.clock.now()):
            taken = await self._measure(run.template, metric, namespace)
            metric_runs[metric.name] = verdict.record(metric, metric_runs.get(metric.name, MetricRun(metric.name)),
                                                      taken)
        ordered = tuple(metric_runs.get(m.name, MetricRun(m.name)) for m in template.metrics)
        phase, message = verdict.run_phase(template, ordered)
        if phase.done:
            self.metrics.analysis_run(template=run.template, verdict=phase.value)
        return replace(run, metrics=ordered, phase=phase, message=message)

    async def _resolved(self, ref: AnalysisRef, namespace: str, facts: Mapping[str, Any]) -> Template:
        try:
            obj = await self.templates.template(ref.kind, namespace, ref.template_name)
        except Exception as exc:  # e.g. 403: the operator's RBAC lacks the template kinds
            raise InvalidTemplate("AnalysisTemplateUnreadable", f"{ref.display}: {type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
        if obj is None:
            where = "cluster-scoped" if ref.cluster_scope else f"in namespace {namespace}"
            raise InvalidTemplate("AnalysisTemplateNotFound", f"{ref.display} not found ({where})")
        template = parse_template(obj)
        secrets: dict[SecretRef, str | None] = {}
        for secret in secret_refs(template, ref):
            try:
                secrets[secret] = await self.templates.secret(namespace, secret.name, secret.key)
            except Exception as exc:
                raise InvalidTemplate("SecretUnreadable", f"{ref.display}: Secret {secret.name}: "
                                      f"{type(exc).__name__}") from exc
        return resolve(template, ref, facts, secrets)

    async def _measure(self, template: str, metric: Any, namespace: str) -> Any:
        provider = self.providers.get(metric.provider)
        started, clock_start = self.clock.now(), time.monotonic()
        result, error = None, None
        if provider is None:
            error = f"the {metric.provider} provider is not configured in this operator"
        else:
            try:
                result = await provider.measure(metric.config, namespace=namespace)
            except MeasurementError as exc:
                error = str(exc)
            except Exception as exc:  # a provider bug must not look like success nor kill the pass
                logger.exception("analysis provider %s failed", metric.provider)
                error = f"{metric.provider}: {type(exc).__name__}: {exc}"
        taken = verdict.measurement(metric, result, started=started, finished=self.clock.now(), error=error)
        self.metrics.analysis_measurement(template=template, metric=metric.name, phase=taken.phase.value,
                                          seconds=time.monotonic() - clock_start)
        return taken

    async def _act(self, run: AnalysisRun, status: ReleaseStatus, apply: Apply) -> AnalysisRun:
        action = places.act(run, status)
        if action is None:
            return run
        result = await apply(action)
        if result.problem is not None:  # retried next pass: the run has no `action` yet
            return replace(run, message=f"{run.message} (acting failed: {result.problem.operation} "
                           f"{result.problem.code}: {result.problem.message}; retrying)")
        return replace(run, action=places.acted(action), finished_at=self.clock.now())


def release_facts(namespace: str, name: str, status: ReleaseStatus) -> dict[str, Any]:
    """What `{{release.X}}` may name in a template's provider blocks."""
    target = status.target
    return {
        "namespace": namespace, "name": name, "attempt": status.attempt, "revision": status.revision,
        "stage": status.stage, "targetTaskDefinitionArn": target.task_definition_arn if target else None,
        "productionWeight": status.production_traffic, "testWeight": status.test_traffic,
    }
