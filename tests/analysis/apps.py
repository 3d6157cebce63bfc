"""Real neighbours for analysis tests: a small app Prometheus scrapes (its error ratio and latency set by the
test) and an HTTP endpoint standing in for the test listener (its answer set by the test)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, start_http_server


class ScrapedApp:
    """Serves `app_error_ratio` and `app_latency_seconds` gauges on /metrics (prometheus_client's own server)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.errors = Gauge("app_error_ratio", "Share of requests that failed.", ["service"], registry=self.registry)
        self.latency = Gauge("app_latency_seconds", "p99 latency.", ["service"], registry=self.registry)
        self._server, self._thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.port = self._server.server_port
        self.target = f"127.0.0.1:{self.port}"
        self.set(error_ratio=0.0, latency=0.05)

    def set(self, *, error_ratio: float | None = None, latency: float | None = None, service: str = "web") -> None:
        if error_ratio is not None:
            self.errors.labels(service).set(error_ratio)
        if latency is not None:
            self.latency.labels(service).set(latency)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Probe:
    """An HTTP endpoint whose status code and JSON body the test sets; counts the requests it answered."""

    def __init__(self) -> None:
        self.status, self.body = 200, {"ok": True}
        self.requests: list[dict[str, Any]] = []
        probe = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                probe.requests.append({"path": self.path, "headers": dict(self.headers)})
                payload = json.dumps(probe.body).encode()
                self.send_response(probe.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def answer(self, status: int, body: Any) -> None:
        self.status, self.body = status, body

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
