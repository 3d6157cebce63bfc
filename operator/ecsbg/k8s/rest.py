"""A small synchronous Kubernetes REST client: JSON in, JSON (dicts) out, over urllib3 (already here for botocore).

Why not the official `kubernetes` client: importing it costs about 59 MiB of RSS and half a second, for the dozen
calls the operator makes (issue 12). What this keeps of its behaviour, and what it changes:
- every request has a (connect, read) timeout: a half-open connection (bytes swallowed, no reset) fails after it
  instead of holding a release loop forever; the client's default, no timeout at all, is gone;
- no retries: the callers' loops retry with backoff and log once per error state;
- an answer >= 400 raises `ApiError` with `.status`, `.reason` and `.body` (the API's Status JSON, as text), as
  the official client's ApiException did, so 404/409/422 handling reads the same;
- a request that gets no answer raises a ConnectionError (`ApiUnreachable`; `ApiTimeout` for a timeout,
  `TlsConnectionFailed` for a TLS reset or a failed handshake): an outage, never a bug. The official client lost
  the TLS case (an AttributeError from its own error path, which k8s.client used to translate).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from urllib3 import exceptions as u3

from ecsbg.k8s.credentials import Credentials, load

JSON, MERGE_PATCH, JSON_PATCH = "application/json", "application/merge-patch+json", "application/json-patch+json"
DEFAULT_TIMEOUT = 30.0
Timeout = float | tuple[float, float]


class ApiError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, body: str = "") -> None:
        super().__init__(f"({status}) {reason}: {_message(body)}")
        self.status, self.reason, self.body = status, reason, body


class ApiUnreachable(ConnectionError):
    """No answer from the API server: refused, reset, cut, or a name that does not resolve."""


class ApiTimeout(ApiUnreachable, TimeoutError):
    """No connection or no answer within the request's timeout."""


class TlsConnectionFailed(ApiUnreachable):
    """The TLS connection to the Kubernetes API failed (reset or cut mid-handshake, or a certificate refused)."""


class RestClient:
    """One connection pool to one API server; safe to share between threads."""

    def __init__(self, credentials: Credentials, timeout: Timeout = DEFAULT_TIMEOUT, pool_size: int = 16) -> None:
        self.credentials = credentials
        self.timeout = timeout
        url = urlsplit(credentials.server)
        self._prefix = url.path.rstrip("/")  # a server behind a path (a proxy, Rancher) keeps it
        options: dict[str, Any] = {"maxsize": pool_size, "retries": False, "timeout": _timeout(timeout)}
        if url.scheme == "https":
            self._pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                url.hostname, url.port or 443, ssl_context=ssl_context(credentials),
                server_hostname=credentials.tls_server_name, **options)
        else:
            self._pool = urllib3.HTTPConnectionPool(url.hostname, url.port or 80, **options)

    @classmethod
    def from_environment(cls, timeout: Timeout = DEFAULT_TIMEOUT, kubeconfig: str | None = None) -> RestClient:
        """The pod's service account, else KUBECONFIG or ~/.kube/config (k8s.credentials.load)."""
        return cls(load(kubeconfig), timeout)

    def get(self, path: str, *, query: Mapping[str, Any] | None = None, timeout: Timeout | None = None) -> Any:
        return self.request("GET", path, query=query, timeout=timeout)

    def post(self, path: str, body: Any, *, query: Mapping[str, Any] | None = None,
             timeout: Timeout | None = None, decode: bool = True) -> Any:
        return self.request("POST", path, body=body, query=query, timeout=timeout, decode=decode)

    def put(self, path: str, body: Any, *, query: Mapping[str, Any] | None = None,
            timeout: Timeout | None = None) -> Any:
        return self.request("PUT", path, body=body, query=query, timeout=timeout)

    def patch(self, path: str, body: Any, *, content_type: str = MERGE_PATCH, timeout: Timeout | None = None,
              decode: bool = True) -> Any:
        return self.request("PATCH", path, body=body, content_type=content_type, timeout=timeout, decode=decode)

    def request(self, method: str, path: str, *, body: Any = None, query: Mapping[str, Any] | None = None,
                content_type: str = JSON, timeout: Timeout | None = None, decode: bool = True) -> Any:
        """The answer's JSON (None for an empty body; not decoded with `decode=False`: a status patch answers
        with the whole release, and decoding what nobody reads was 4 % of a mass start's CPU); ApiError for a
        status >= 400, ApiUnreachable for none."""
        headers = {"Accept": JSON, "User-Agent": "ecsbg-operator", **self._auth()}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        query = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        url = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        try:
            answer = self._pool.urlopen(method, url, body=data, headers=headers, redirect=False, retries=False,
                                        timeout=_timeout(self.timeout if timeout is None else timeout))
        except u3.HTTPError as exc:
            raise _unreachable(exc, method, path) from exc
        except OSError as exc:  # what urllib3 did not wrap is still the connection
            raise ApiUnreachable(f"{method} {path}: {exc}") from exc
        if answer.status >= 400:
            if answer.status == 401 and self.credentials.token is not None:
                self.credentials.token.invalidate()  # a rotated file or an expired plugin token: fetch anew
            raise ApiError(answer.status, answer.reason or "", answer.data.decode("utf-8", "replace"))
        if not decode:
            return None
        text = answer.data.decode("utf-8", "replace")
        return json.loads(text) if text.strip() else None

    def close(self) -> None:
        self._pool.close()

    def _auth(self) -> dict[str, str]:
        creds = self.credentials
        token = creds.token.get()[0] if creds.token is not None else None
        if token:
            return {"Authorization": f"Bearer {token}"}
        if creds.username and creds.password:
            basic = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
            return {"Authorization": f"Basic {basic}"}
        return {}


def custom_path(group: str, version: str, plural: str, namespace: str | None = None, name: str | None = None,
                subresource: str | None = None) -> str:
    """/apis/{group}/{version}[/namespaces/{namespace}]/{plural}[/{name}[/{subresource}]]"""
    return _path(f"/apis/{group}/{version}", plural, namespace, name, subresource)


def core_path(resource: str, namespace: str | None = None, name: str | None = None) -> str:
    """/api/v1[/namespaces/{namespace}]/{resource}[/{name}]"""
    return _path("/api/v1", resource, namespace, name, None)


def _path(base: str, plural: str, namespace: str | None, name: str | None, subresource: str | None) -> str:
    parts = [base] + ([f"namespaces/{quote(namespace, safe='')}"] if namespace else []) + [plural]
    parts += [quote(name, safe="")] if name else []
    parts += [subresource] if subresource else []
    return "/".join(parts)


def ssl_context(creds: Credentials) -> ssl.SSLContext:
    """The CA to trust (the system's when none is named) and the client certificate, if any."""
    context = ssl.create_default_context(cafile=creds.ca_file, cadata=creds.ca_data)
    if creds.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if creds.cert_file or creds.cert_data:
        _load_client_certificate(context, creds)
    return context


def _load_client_certificate(context: ssl.SSLContext, creds: Credentials) -> None:
    # ssl loads a certificate chain from files only: inline data goes through private temporary files, deleted
    # as soon as it is loaded
    written: list[str] = []
    try:
        def file_of(path: str | None, data: str | None) -> str | None:
            if path or not data:
                return path
            fd, name = tempfile.mkstemp(prefix="ecsbg-", suffix=".pem")  # mode 0600
            written.append(name)
            with os.fdopen(fd, "w") as out:
                out.write(data)
            return name

        certfile = file_of(creds.cert_file, creds.cert_data)
        context.load_cert_chain(certfile or "", file_of(creds.key_file, creds.key_data))
    finally:
        for name in written:
            os.unlink(name)


def _timeout(value: Timeout) -> urllib3.Timeout:
    connect, read = value if isinstance(value, tuple) else (value, value)
    return urllib3.Timeout(connect=connect, read=read)


def _unreachable(exc: u3.HTTPError, method: str, path: str) -> ApiUnreachable:
    what = f"{method} {path}: {exc}"
    if isinstance(exc, u3.NewConnectionError):  # refused, unresolvable: a ConnectTimeoutError only by lineage
        return ApiUnreachable(what)
    if isinstance(exc, u3.TimeoutError):
        return ApiTimeout(what)
    if isinstance(exc, u3.SSLError):
        return TlsConnectionFailed(what)
    return ApiUnreachable(what)


def _message(body: str) -> str:
    """The Status message of an error body, else its start."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else body[:200]
