"""Console scripts of the emulators' own distribution: `ecsbg-emulator` and `ecsbg-dev-cluster`.

The same modules back the operator's `ecsbg emulator` and `ecsbg dev-cluster` when both are installed.
"""

from __future__ import annotations

import argparse
import importlib


def _main(module_name: str, prog: str, argv: list[str] | None) -> int:
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=prog, description=(module.__doc__ or prog).strip().splitlines()[0])
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(argv)) or 0)


def ecs(argv: list[str] | None = None) -> int:
    return _main("ecsbg_emulators.ecs.cli", "ecsbg-emulator", argv)


def devcluster(argv: list[str] | None = None) -> int:
    return _main("ecsbg_emulators.devcluster.cli", "ecsbg-dev-cluster", argv)
