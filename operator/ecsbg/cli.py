"""The `ecsbg` command: one entry point, one subcommand per tool.

Each subcommand module exposes `add_arguments(parser)` and `run(args) -> int`, and keeps its heavy imports
inside `run()`, so `ecsbg emulator` never imports kopf and `ecsbg run` never starts an emulator.
"""

from __future__ import annotations

import argparse
import importlib

# subcommand -> (module, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "emulator": ("ecsbg.emulator.cli", "serve a local Amazon ECS API (native blue/green) over HTTP"),
    "dev-cluster": ("ecsbg.devcluster.cli", "serve a local Kubernetes API and write a kubeconfig"),
    "run": ("ecsbg.main", "run the operator"),
    "demo": ("ecsbg.demo", "run a complete blue/green release locally and print its stages"),
    "crds-upgrade": ("ecsbg.k8s.crds", "create or replace the CRDs of a directory (the chart's pre-upgrade hook)"),
    "iam-policy": ("ecsbg.aws.iam", "print the operator's IAM policy for the accounts and role paths you list"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecsbg", description="ECS native blue/green releases from Kubernetes")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        importlib.import_module(module_name).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)
