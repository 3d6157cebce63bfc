"""The operator's /metrics endpoint: PrometheusRecorder's registry, with the process's own series."""

from __future__ import annotations

import threading

import prometheus_client

from ecsbg.metrics.prometheus import PrometheusRecorder


class MetricsServer:
    """A running /metrics endpoint; `port` is the bound port (useful with port 0)."""

    def __init__(self, httpd, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        self.port: int = httpd.server_port

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


def add_process_metrics(recorder: PrometheusRecorder) -> None:
    """process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, process_start_time_seconds, …
    (prometheus_client's ProcessCollector, from /proc): the operator process adds them to its registry; the
    recorder alone stays free of process state, so tests see only the operator's own series."""
    prometheus_client.ProcessCollector(registry=recorder.registry)


def start_metrics_server(port: int, recorder: PrometheusRecorder, *, addr: str = "0.0.0.0") -> MetricsServer:
    """Serve the recorder's registry on http://addr:port/metrics from a daemon thread (prometheus_client's
    threading WSGI server: scrapes never block the kopf event loop)."""
    httpd, thread = prometheus_client.start_http_server(port, addr=addr, registry=recorder.registry)
    return MetricsServer(httpd, thread)
