"""The operator process carries one Kubernetes client (issue 12): `ecsbg run` keeps kopf from loading the official
client and pykube, which kopf imports whenever they are installed (about 59 MiB and half a second)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# `ecsbg run` as far as its settings (kopf and the handlers imported by then), then every module the running
# operator imports later (wiring, the seams, leader election)
PROBE = """
import json, sys
from ecsbg.cli import build_parser
from ecsbg.settings import Settings

class Reached(Exception):
    pass

def reached(cls):
    raise Reached

Settings.from_env = classmethod(reached)
import ecsbg.main
try:
    ecsbg.main.run(build_parser().parse_args(["run"]))
except Reached:
    pass
import ecsbg.wiring, ecsbg.k8s.leader, ecsbg.k8s.listing, ecsbg.k8s.secrets, ecsbg.k8s.waves, ecsbg.k8s.notifications
import ecsbg.k8s.crds, ecsbg.demo, ecsbg.embedded
print(json.dumps({"kopf": "kopf" in sys.modules, "handlers": "ecsbg.handlers" in sys.modules,
                  "loaded": sorted(m for m, v in sys.modules.items()
                                   if v is not None and m.split(".")[0] in ("kubernetes", "pykube"))}))
"""


def _probe(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_ecsbg_run_imports_kopf_but_neither_the_official_client_nor_pykube():
    seen = _probe(PROBE)
    assert seen["kopf"] and seen["handlers"], "the probe got as far as kopf's import"
    assert seen["loaded"] == []


def test_once_kopf_is_imported_other_clients_stay_importable():
    """A process that imported kopf before (the tests, an embedder) loses nothing: kopf already looked."""
    seen = _probe("import json, sys, kopf\nfrom ecsbg.k8s.login import keep_other_clients_out\n"
                  "keep_other_clients_out()\nimport kubernetes.client, pykube\n"
                  "print(json.dumps({'loaded': sorted({m.split('.')[0] for m in sys.modules} & {'kubernetes', 'pykube'})}))")
    assert seen["loaded"] == ["kubernetes", "pykube"]
