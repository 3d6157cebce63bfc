"""A scripted HTTP(S) server standing in for the Kubernetes API in unit tests of ecsbg.k8s.rest and its seams:
it records each request and answers from a queue of (status, JSON body), else 200 {}. Also the sockets that
misbehave: one that accepts and never answers, and one that cuts the TLS handshake."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    peer: str | None = None  # the client certificate's subject CN, over TLS


@dataclass
class StubApi:
    """`answers`: what the next requests get, in order; `seen`: what came."""

    context: ssl.SSLContext | None = None
    answers: list[tuple[int, Any]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
                peer = dict(x[0] for x in cert["subject"]).get("commonName") if cert else None
                stub.seen.append(Seen(self.command, self.path, dict(self.headers), json.loads(raw) if raw else None,
                                      peer))
                status, body = stub.answers.pop(0) if stub.answers else (200, {})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815 - http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.context is not None:
            self._server.socket = self.context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True, name="stub-api").start()

    @property
    def url(self) -> str:
        return f"{'https' if self.context else 'http'}://127.0.0.1:{self._server.server_address[1]}"

    def kubeconfig(self, path: Path, user: dict[str, Any] | None = None, **cluster: Any) -> Path:
        """A kubeconfig whose current context is this server, as `user`."""
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "stub",
                  "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub"}}],
                  "clusters": [{"name": "stub", "cluster": {"server": self.url, **cluster}}],
                  "users": [{"name": "stub", "user": user or {"token": "stub-token"}}]}
        path.write_text(yaml.safe_dump(config))
        return path

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Listener:
    """A TCP listener on 127.0.0.1:<free port> handing each accepted connection to `_serve`."""

    scheme = "http"

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True, name=type(self).__name__.lower()).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError


class Silent(_Listener):
    """Accepts connections and never answers: a half-open API server (bytes swallowed, no reset)."""

    def __init__(self) -> None:
        self._held: list[socket.socket] = []
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        self._held.append(conn)

    def close(self) -> None:
        self._listener.close()
        for conn in self._held:
            conn.close()


class HandshakeCutter(_Listener):
    """Reads the TLS ClientHello, then closes the connection: cleanly (EOF) or with a reset (RST)."""

    scheme = "https"

    def __init__(self, reset: bool) -> None:
        self._reset = reset
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        conn.recv(4096)
        if self._reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    def close(self) -> None:
        self._listener.close()
