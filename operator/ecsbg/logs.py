"""Operator logging: credentials never reach a log line, and every line about a release names it.

- `RedactingFilter` (installed on every handler by `configure`, kopf's Event poster included) rewrites each record
  before any handler formats it: AWS access key ids, secret keys, session tokens, ExternalIds, Authorization
  and security-token headers, bearer tokens, and every value registered with `register_secret`.
- botocore, boto3 and urllib3 (under botocore and the operator's Kubernetes client, k8s.rest) log requests and
  responses (signed headers, the AssumeRole answer) at DEBUG: `configure` floors them at INFO unless the
  documented unsafe switch (ECSBG_UNSAFE_WIRE_LOGGING=true) is set, so `--verbose` never dumps the wire.
- `release_context(namespace, name)` binds the release a task works on (a contextvar, so each release loop has
  its own); the filter copies it onto the record and the JSON formatter writes `namespace` and `name` keys.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

REDACTED = "***"
MIN_SECRET_LENGTH = 8
WIRE_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
_RELEASE: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("ecsbg_release", default=None)

_KEYS = (r"SecretAccessKey|secret_access_key|aws_secret_access_key|secret_key|SessionToken|session_token|"
         r"security_token|x-amz-security-token|ExternalId|external_id|externalId|Authorization|Credentials?|"
         r"AccessKeyId|access_key|aws_access_key_id|token")
_PATTERNS = (
    # XML: <SecretAccessKey>...</SecretAccessKey> (STS query protocol answers)
    re.compile(rf"(<(?:{_KEYS})>)[^<]*(</)", re.IGNORECASE),
    # dict / JSON / header forms: 'SessionToken': 'x', "ExternalId": "x", 'Authorization': b'x', key=value
    re.compile(rf"""((?:{_KEYS})['"]?\s*[:=]\s*b?['"])[^'"]*(['"])""", re.IGNORECASE),
    # canonical request lines and query strings: x-amz-security-token:value, ExternalId=value&...
    re.compile(rf"""((?:{_KEYS})[:=])(?!\s*b?['"])[^\s&,'"}}<>]+()""", re.IGNORECASE),
)
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|ABIA|ACCA)[A-Z0-9]{12,}\b")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_SIGNATURE = re.compile(r"(Credential=|Signature=)[^\s,'\"]+")


class _Secrets:
    """Known secret values (ExternalIds, credentials the operator holds), matched verbatim."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()

    def add(self, value: str | None) -> None:
        # Short values ("testing" in a dev setup) would blank out ordinary words in every line; real keys, tokens
        # and ExternalIds are longer, and the patterns still catch short ones next to their field names.
        if value and len(value) >= MIN_SECRET_LENGTH:
            with self._lock:
                self._values = self._values | {value}

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text


_SECRETS = _Secrets()


def register_secret(value: str | None) -> None:
    """Never log `value` (an ExternalId, a credential) verbatim, at any level, from any logger."""
    _SECRETS.add(value)


def redact(text: str) -> str:
    text = _SECRETS.scrub(text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(2)}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _SIGNATURE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _ACCESS_KEY_ID.sub(REDACTED, text)


@contextmanager
def release_context(namespace: str, name: str) -> Iterator[None]:
    token = _RELEASE.set((namespace, name))
    try:
        yield
    finally:
        _RELEASE.reset(token)


def bind_release(namespace: str, name: str) -> None:
    """Bind the release for the rest of the current task (each asyncio task has its own context)."""
    _RELEASE.set((namespace, name))


class RedactingFilter(logging.Filter):
    """Redacts the rendered message, the traceback and the stack; adds the release's namespace and name."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what can be shown
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if _failed_probe(record):  # kopf logged the reason already ("Activity ... failed permanently: ...")
            record.exc_info, record.exc_text = None, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        if not hasattr(record, "release_namespace"):
            bound = _RELEASE.get() or _kopf_ref(record)
            record.release_namespace, record.release_name = bound if bound else (None, None)
        return True


def _failed_probe(record: logging.LogRecord) -> bool:
    """aiohttp's "Error handling request" for a liveness probe that failed on purpose (handlers.probe raises):
    one traceback per kubelet probe during an outage would bury the line that says why."""
    exc = record.exc_info[1] if record.exc_info else None
    return record.name == "aiohttp.server" and type(exc).__name__ == "ActivityError"


def _kopf_ref(record: logging.LogRecord) -> tuple[str, str] | None:
    """kopf's per-object loggers carry the object as `k8s_ref`."""
    ref = getattr(record, "k8s_ref", None)
    if isinstance(ref, dict) and ref.get("name"):
        return str(ref.get("namespace") or ""), str(ref["name"])
    return None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        namespace, name = getattr(record, "release_namespace", None), getattr(record, "release_name", None)
        if name:
            entry["namespace"], entry["name"] = namespace, name
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry)


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(release)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        name = getattr(record, "release_name", None)
        record.release = f"[{getattr(record, 'release_namespace', '')}/{name}] " if name else ""
        return super().format(record)


def configure(log_format: str, level: str, *, unsafe_wire_logging: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else PlainFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    install_filter()
    floor = logging.NOTSET if unsafe_wire_logging else max(logging.INFO, logging.getLogger().level)
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(floor)  # NOTSET: inherit root's level, DEBUG included


def install_filter() -> None:
    """The redacting filter on every handler that exists now (root's, kopf's Event poster, ...)."""
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
