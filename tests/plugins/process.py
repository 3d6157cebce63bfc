"""Helpers to run the operator as its own process (`ecsbg run`) and to break its Kubernetes API connection.

- `TcpProxy(upstream)`: a small TCP proxy in front of the API server. `forward()` (default) relays bytes,
  `swallow()` keeps every connection open but relays nothing (a half-open connection: bytes swallowed, no reset),
  `refuse()` closes new and current connections at once (an outage); going back to `forward()` drops the
  swallowed connections so clients reconnect.
- `OperatorProcess`: `ecsbg run` in a subprocess with a kubeconfig of our choosing, its stderr in a file.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

FORWARD, SWALLOW, REFUSE = "forward", "swallow", "refuse"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = FORWARD
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def forward(self) -> None:
        self._set(FORWARD)

    def swallow(self) -> None:
        self._set(SWALLOW)

    def refuse(self) -> None:
        self._set(REFUSE)

    def _set(self, mode: str) -> None:
        with self._lock:
            previous, self.mode = self.mode, mode
            if mode == REFUSE or (mode == FORWARD and previous == SWALLOW):
                for client, server in self._pairs:
                    _close(client, server)
                self._pairs.clear()

    def close(self) -> None:
        self._closed = True
        self._set(REFUSE)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == REFUSE:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        sockets = [client, server]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 0.2)
                if self.mode == REFUSE or all(s.fileno() < 0 for s in sockets):
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if self.mode == FORWARD:
                        (server if sock is client else client).sendall(data)
                    # SWALLOW: read and drop, never answer, never reset
        except (OSError, ValueError):  # ValueError: _set closed a socket while select waited on it (fd -1)
            return
        finally:
            _close(client, server)


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    sock.close()


def _close(*socks: socket.socket | None) -> None:
    for sock in socks:
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


def kubeconfig_via(source: Path, server: str, target: Path) -> Path:
    """A copy of `source` whose cluster server is `server` (e.g. a TcpProxy's url)."""
    config = yaml.safe_load(source.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = server
    target.write_text(yaml.safe_dump(config))
    return target


class OperatorProcess:
    def __init__(self, *, kubeconfig: Path, namespace: str | tuple[str, ...], log_path: Path, env: dict[str, str],
                 verbose: bool = False, source: Path | None = None) -> None:
        """`source`: another checkout's `operator/` directory to run instead of this one (bench baselines)."""
        binary = shutil.which("ecsbg", path=str(Path(sys.executable).parent)) or "ecsbg"
        command = [sys.executable, "-m", "ecsbg"] if source else [binary]
        if source:
            env = {**env, "PYTHONPATH": str(source)}
        self.health_port = free_port()
        self.metrics_port = free_port()
        full_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECSBG_"))},
                    "KUBECONFIG": str(kubeconfig), "ECSBG_HEALTH_PORT": str(self.health_port),
                    "ECSBG_METRICS_PORT": str(self.metrics_port), "ECSBG_LOG_FORMAT": "json", **env}
        self.log_path = log_path
        self._log = log_path.open("wb")
        watched = (namespace,) if isinstance(namespace, str) else namespace
        args = [*command, "run", *(a for ns in watched for a in ("-n", ns))] + (["--verbose"] if verbose else [])
        self.proc = subprocess.Popen(args, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def healthz(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=15) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return 0

    def metrics(self, *names: str) -> str:
        """/metrics, or only the series of `names` (prometheus_client's `name[]` filter: a full scrape of 1,000
        releases renders thousands of lines, which polling it for a figure would charge to the operator)."""
        query = "?" + "&".join(f"name[]={n}" for n in names) if names else ""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics{query}", timeout=5) as answer:
                return answer.read().decode()
        except OSError:
            return ""

    def wait_for(self, predicate: Any, what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the operator exited ({self.proc.returncode}) waiting for {what}:\n"
                                     + self.log()[-3000:])
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; operator log tail:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
