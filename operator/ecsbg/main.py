"""`ecsbg run`: the operator process."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namespace", action="append", default=[],
                        help="namespace to watch (repeatable); default: ECSBG_NAMESPACES, else all namespaces")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.add_argument("--require-policy", action="store_true",
                        help="refuse releases while no EcsReleasePolicy exists (default: ECSBG_REQUIRE_POLICY)")


def run(args: argparse.Namespace) -> int:
    import kopf

    from ecsbg.handlers import build_registry
    from ecsbg.settings import Settings

    settings = Settings.from_env()
    if args.require_policy:
        settings = dataclasses.replace(settings, require_policy=True)
    namespaces = tuple(args.namespace) or settings.namespaces
    _configure_logging(settings.log_format, "DEBUG" if args.verbose else settings.log_level)
    kopf.run(
        registry=build_registry(settings),
        standalone=True,  # one replica with strategy Recreate; no peering objects needed
        namespaces=namespaces,
        clusterwide=not namespaces,
        liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None,
    )
    return 0


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _configure_logging(log_format: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
