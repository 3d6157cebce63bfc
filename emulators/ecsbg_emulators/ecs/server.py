"""HTTP front end: the ECS JSON 1.1 protocol on POST / and the control API under /_emulator/.

Wire format [botocore model metadata: protocol json, jsonVersion 1.1, targetPrefix
AmazonEC2ContainerServiceV20141113]: the operation is in `X-Amz-Target`, the body is JSON, errors are
`{"__type": code, "message": ...}` with HTTP 400 for client errors (ThrottlingException included) and 500 for
ServerException. Signatures are not checked, but every request must be signed: its SigV4 credential scope says
the region and its access key the account (identity.py), and all state is partitioned by (account, region).

A region the emulator does not serve has no endpoint: with real AWS, botocore cannot resolve or reach
`ecs.<region>.amazonaws.com` and raises EndpointConnectionError. One local endpoint cannot refuse a TCP
connection by region (the region is only known once the request is read), so the emulator does the closest
thing: it resets the connection without answering a byte. See docs/emulator.md for what botocore raises.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import ops_deployments, ops_services, ops_setup  # noqa: F401 - registers the operation handlers
from .backend import Backend
from .control import Control
from .control_http import route
from .elbv2 import Elbv2Sink
from .errors import EcsError
from .events import SqsSink
from .faults import Faults
from .identity import Caller, caller
from .scheduler import Scheduler

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
CONTROL_PREFIX = "/_emulator/"


class Recorder:
    """srv.requests plus the optional --record JSON-lines file (flushed per line so it can be tailed)."""

    def __init__(self, path: str | None) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115 - closed in close()

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)
            if self._file is not None:
                self._file.write(json.dumps(entry, default=str) + "\n")
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses its connections
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm plus the
        # client's delayed ACK would add ~40 ms to every keep-alive response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        pass

    def _send(self, status: int, body: dict[str, Any], content_type: str = "application/x-amz-json-1.1") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", f"emulator-{time.monotonic_ns()}")
        try:
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the caller is gone (killed): nobody to answer
            self.close_connection = True

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if self.path.startswith(CONTROL_PREFIX):
            self.server.emulator.handle_control(self, "GET", self.path[len(CONTROL_PREFIX):], b"")
        else:
            self._send(404, {"message": "not found"}, "application/json")

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        if self.path.startswith(CONTROL_PREFIX):
            self.server.emulator.handle_control(self, "POST", self.path[len(CONTROL_PREFIX):], body)
        else:
            self.server.emulator.handle_ecs(self, body)

    def drop(self) -> None:
        """Close the connection without an answer (a 'dropped connection' fault)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def reset(self) -> None:
        """Abort the connection with a TCP reset before any byte of an answer (an endpoint that is not there)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: EmulatorServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller killed mid-request (the fault campaign, bench.scale's handover) is not the emulator's error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class EmulatorServer:
    """A local Amazon ECS endpoint: `srv.start()`, then `boto3.client("ecs", endpoint_url=srv.url)`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, speed: float = 1.0,
                 record_path: str | None = None, faults: str | None = None,
                 regions: set[str] | frozenset[str] | list[str] | None = None, elbv2_url: str | None = None,
                 events_queue_url: str | None = None) -> None:
        """`regions`: the regions this endpoint serves (default: identity.AWS_REGIONS, the commercial regions);
        `elbv2_url`: an ELBv2 endpoint whose listener rules follow the traffic shifts (ecs.elbv2)."""
        self.host, self.port = host, port
        self.scheduler = Scheduler(speed)
        self.backend = Backend(self.scheduler, frozenset(regions) if regions else None)
        self.backend.world.elbv2 = Elbv2Sink(elbv2_url) if elbv2_url else None
        self.backend.world.events = SqsSink(events_queue_url) if events_queue_url else None
        self.faults = Faults(faults)
        self.control = Control(self.backend, self.faults)
        self.recorder = Recorder(record_path)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.recorder.requests

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        self._httpd = _HTTPServer((self.host, self.port), _Handler)
        self._httpd.emulator = self
        self.port = self._httpd.server_address[1]
        self.scheduler.start()
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="ecs-emulator-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.scheduler.stop()
        self.backend.engine.hooks.shutdown()
        self.recorder.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- ECS requests ------------------------------------------------------------------------------------
    def handle_ecs(self, handler: _Handler, body: bytes) -> None:
        target = handler.headers.get("X-Amz-Target", "")
        operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else target
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = None
        entry = {"time": self.scheduler.iso(), "operation": operation, "account": None, "region": None,
                 "parameters": params if isinstance(params, dict) else {}, "statusCode": None, "errorCode": None}
        who = self._admit(handler, entry)
        if who is None:
            return
        outcome = self.faults.decide(operation)
        if outcome.delay:
            time.sleep(outcome.delay)  # network latency: real time, not scaled by speed
        if outcome.drop:
            entry["errorCode"] = "DroppedConnection"
            self.recorder.add(entry)
            handler.drop()
            return
        status, answer = self._answer(operation, params, who, outcome.error)
        entry["statusCode"] = status
        entry["errorCode"] = answer.get("__type") if status >= 400 else None
        if outcome.lost:  # handled (statusCode says how), but the caller never hears of it
            entry["errorCode"] = "LostResponse"
            self.recorder.add(entry)
            handler.drop()
            return
        self.recorder.add(entry)
        handler._send(status, answer)

    def _admit(self, handler: _Handler, entry: dict[str, Any]) -> Caller | None:
        """The caller's account and region; None when the request got its answer already (unsigned, or for a
        region without an endpoint here)."""
        try:
            who = caller(handler.headers.get("Authorization"), handler.headers.get("Host"))
        except EcsError as err:
            entry.update(statusCode=err.status, errorCode=err.code)
            self.recorder.add(entry)
            handler._send(err.status, err.body())
            return None
        entry.update(account=who.account, region=who.region)
        if not self.backend.serves(who.region):
            entry["errorCode"] = "UnknownEndpoint"  # no answer: as if ecs.<region>.amazonaws.com did not exist
            self.recorder.add(entry)
            handler.reset()
            return None
        return who

    def _answer(self, operation: str, params: Any, who: Caller, injected: Any) -> tuple[int, dict[str, Any]]:
        try:
            if injected is not None:
                code, status, message = injected
                raise EcsError(code, message, status)
            if not isinstance(params, dict):
                raise EcsError("SerializationException", "The request body is not a JSON object.")
            return 200, self.backend.dispatch(operation, params, who.account, who.region)
        except EcsError as err:
            return err.status, err.body()
        except Exception as exc:  # an emulator bug must still answer like AWS does
            return 500, {"__type": "ServerException", "message": f"{type(exc).__name__}: {exc}"}

    # -- control API -------------------------------------------------------------------------------------
    def handle_control(self, handler: _Handler, method: str, path: str, body: bytes) -> None:
        status, answer = route(self, method, path.split("?", 1)[0], body)
        handler._send(status, answer, "application/json")
