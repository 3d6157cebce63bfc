"""The `ecsbg` command: one entry point, one subcommand per tool.

Each subcommand module exposes `add_arguments(parser)` and `run(args) -> int`, and keeps its heavy imports
inside `run()`, so `ecsbg emulator` never imports kopf and `ecsbg run` never starts an emulator.

`emulator` and `dev-cluster` come from the separate `ecsbg-emulators` distribution (emulators/): the operator
image does not carry it, so there the two commands only say how to get it. They are imported by name
(importlib), never statically: import-linter's contract "the operator never imports the emulators" holds.
"""

from __future__ import annotations

import argparse
import importlib

# subcommand -> (module, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "emulator": ("ecsbg_emulators.ecs.cli", "serve a local Amazon ECS API (native blue/green) over HTTP"),
    "dev-cluster": ("ecsbg_emulators.devcluster.cli", "serve a local Kubernetes API and write a kubeconfig"),
    "run": ("ecsbg.main", "run the operator"),
    "demo": ("ecsbg.demo", "run a complete blue/green release locally and print its stages"),
    "crds-upgrade": ("ecsbg.k8s.crds", "create or replace the CRDs of a directory (the chart's pre-upgrade hook)"),
    "iam-policy": ("ecsbg.aws.iam", "print the operator's IAM policy for the accounts and role paths you list"),
}


EMULATORS = "ecsbg_emulators"
MISSING = ("the {name} command comes from the ecsbg-emulators distribution, which is not installed here "
           "(pip install ./emulators from the ecsbg source tree, or `make venv`)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecsbg", description="ECS native blue/green releases from Kubernetes")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not exc.name.startswith(EMULATORS):
                raise
            sub.set_defaults(_module=None, _missing=MISSING.format(name=name))
            continue
        sub.set_defaults(_module=module_name)
        module.add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args._module is None:  # an emulator command without the emulators: say so, exit 2 like a usage error
        parser.exit(2, f"ecsbg {args.command}: {args._missing}\n")
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return int(importlib.import_module(args._module).run(args) or 0)
