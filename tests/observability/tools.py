"""External tools the observability tests run. They are required, not optional: `make test` installs them
(scripts/install-tools.sh), so a missing one is a broken environment and the test fails saying how to fix it."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def require(binary: str) -> str:
    search = os.pathsep.join([str(REPO / ".tools" / "bin"), os.environ.get("PATH", "")])
    path = shutil.which(binary, path=search)
    if path is None:
        pytest.fail(
            f"{binary} is not installed: run `make tools` (scripts/install-tools.sh) first", pytrace=False
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
