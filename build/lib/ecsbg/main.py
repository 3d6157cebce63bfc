"""`ecsbg run`: the operator process."""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecsbg.settings import Settings


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
    _configure_logging(settings, "DEBUG" if args.verbose else settings.log_level)
    kopf.run(
        registry=build_registry(settings),
        standalone=True,  # one replica with strategy Recreate; no peering objects needed
        namespaces=namespaces,
        clusterwide=not namespaces,
        liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None,
    )
    return 0


def _configure_logging(settings: Settings, level: str) -> None:
    from ecsbg import logs

    logs.configure(settings.log_format, level, unsafe_wire_logging=settings.unsafe_wire_logging)
    for key in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"):
        logs.register_secret(os.environ.get(key))  # the operator's own credentials, wherever they would show
