"""Builds the production dependencies of the reconcile pipeline from the settings."""

from __future__ import annotations

import os
from typing import Any

from ecsbg.analysis.runner import AnalysisMetrics, AnalysisRunner
from ecsbg.clock import Clock, SystemClock
from ecsbg.health import Health
from ecsbg.k8s.events import KubeEventSink
from ecsbg.k8s.status import KubeStatusWriter
from ecsbg.notify.sender import Notifier, SenderSettings
from ecsbg.reconciler import Deps
from ecsbg.settings import Settings


async def build_deps(settings: Settings) -> Deps:
    from ecsbg.aws.gateway import AwsSettings, Boto3EcsGateway
    from ecsbg.aws.session import ClientSettings
    from ecsbg.metrics.prometheus import PrometheusRecorder
    from ecsbg.metrics.server import add_process_metrics, start_metrics_server
    from ecsbg.registry.oci import OciResolver

    metrics = PrometheusRecorder(revision=os.environ.get("ECSBG_REVISION", "unknown"))
    add_process_metrics(metrics)
    server = start_metrics_server(settings.metrics_port, metrics) if settings.metrics_port else None
    clock = SystemClock()
    aws = AwsSettings(clients=ClientSettings(external_id=settings.external_id),
                      cache_idle_seconds=cache_idle_seconds(settings),
                      max_concurrent_starts=settings.max_concurrent_starts or None)
    ecs = Boto3EcsGateway(endpoint_url=settings.aws_endpoint_url, coalesce_seconds=settings.coalesce_ms / 1000.0,
                          metrics=metrics, clock=clock, settings=aws, registry=OciResolver())
    events = KubeEventSink(timeout=settings.k8s_timeout_seconds, on_drop=lambda n: metrics.events_dropped(count=n))
    deps = Deps(
        ecs=ecs, clock=clock, events=events, status=KubeStatusWriter(settings.k8s_timeout_seconds),
        metrics=metrics, settings=settings,
        health=Health(stuck_after=settings.loop_stuck_seconds, api_unreachable_after=settings.api_unreachable_seconds),
    )
    from ecsbg.aws.cloudwatch import CloudWatchProvider

    deps.analysis = build_analysis(clock, metrics, CloudWatchProvider(ecs.factory.cloudwatch))
    deps.notifier = build_notifier(settings, events, metrics)
    deps.digests = ecs.digests  # release waves resolve image tags once, with the releases' resolver
    deps.closers.append(ecs.close)  # the AWS worker threads
    deps.closers.append(events.close)  # posts what is queued, then stops its threads
    if server is not None:
        deps.closers.append(server.stop)
    return deps


def build_analysis(clock: Clock, metrics: AnalysisMetrics, cloudwatch: Any = None) -> AnalysisRunner:
    """The automated-analysis runner: templates and Secrets from the Kubernetes API, one provider per system,
    metrics on the operator's recorder (PrometheusRecorder implements AnalysisMetrics)."""
    from ecsbg.analysis.prometheus import PrometheusProvider
    from ecsbg.analysis.web import WebProvider
    from ecsbg.k8s.templates import KubeTemplateSource

    providers: dict[str, Any] = {"web": WebProvider(), "prometheus": PrometheusProvider()}
    if cloudwatch is not None:
        providers["cloudWatch"] = cloudwatch
    return AnalysisRunner(templates=KubeTemplateSource(), providers=providers, clock=clock, metrics=metrics)


def build_notifier(settings: Settings, events: Any, metrics: Any, providers: Any = None) -> Notifier:
    """The notification sender: providers and Secrets from the Kubernetes API, POSTs with aiohttp."""
    from ecsbg.k8s.notifications import KubeProviderSource
    from ecsbg.notify.transport import AiohttpTransport

    return Notifier(providers=providers or KubeProviderSource(), transport=AiohttpTransport(), events=events,
                    metrics=metrics, settings=SenderSettings(tries=settings.notify_tries,
                                                             backoff_seconds=settings.notify_backoff_seconds))


async def close_deps(deps: Deps) -> None:
    if deps.notifier is not None:
        await deps.notifier.close()
    for close in reversed(deps.closers):
        close()


def cache_idle_seconds(settings: Settings) -> float:
    """How long the AWS layer keeps an unused immutable fact (a finished deployment, a revision): two of the longest
    idle sleeps. With an events queue the idle poll is ECSBG_EVENTS_IDLE_SECONDS; kept for two ECSBG_POLL_IDLE
    only, every idle release read its deployment and revisions again at each poll (bench.scale, events idle:
    0.025 x naive where DescribeServices alone makes 0.017)."""
    longest = max(settings.poll_idle_seconds, settings.events_idle_seconds if settings.events_queue_url else 0.0)
    return 2 * longest
