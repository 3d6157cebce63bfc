"""We test that the production wiring builds every seam and that cleanup releases what it started."""

from __future__ import annotations

import socket
import urllib.request

from ecsbg.settings import Settings
from ecsbg.wiring import build_deps, close_deps


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_cleanup_stops_the_metrics_server_the_aws_workers_and_the_events_thread(dev_cluster,
                                                                                    monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    port = _free_port()
    deps = await build_deps(Settings(metrics_port=port, aws_endpoint_url="http://127.0.0.1:9"))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert b"controller_runtime_reconcile_total" in answer.read()
    assert len(deps.closers) == 3
    await close_deps(deps)
    assert deps.ecs._executor._shutdown  # type: ignore[attr-defined]
    assert deps.events.closed and not any(t.is_alive() for t in deps.events._threads)  # type: ignore[attr-defined]
    with socket.socket() as sock:
        sock.settimeout(2)
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the metrics port is closed"
