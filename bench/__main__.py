"""`make bench` / `python -m bench [NAME ...]`: run the project's benchmarks one after the other.

Each benchmark is a module in this package that prints its own figures and ratios against a baseline measured in
the same run (never against numbers from another machine or day). They run in separate processes so one's
threads and caches never skew the next.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ORDER = ("emulator", "devcluster", "operator", "parsing", "scale")


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or [n for n in ORDER if (here / f"{n}.py").exists()]
    failed = []
    for name in names:
        print(f"=== bench.{name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=here.parent)
        print(f"=== bench.{name}: exit {code} in {time.monotonic() - started:.1f} s\n", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
