"""The operator process carries one Kubernetes client (issue 12): `ecsbg run` keeps kopf from loading the official
client and pykube, which kopf imports whenever they are installed (about 59 MiB and half a second). It also
collects the young generation less often than CPython's default (ecsbg.main.GC_YOUNG_THRESHOLD)."""

from __future__ import annotations

import functools
import gc
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# `ecsbg run` as far as its settings (kopf and the handlers imported by then), then every module the running
# operator imports later (wiring, the seams, leader election)
PROBE = """
import gc, json, sys
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
                  "gc_threshold": gc.get_threshold(),
                  "loaded": sorted(m for m, v in sys.modules.items()
                                   if v is not None and m.split(".")[0] in ("kubernetes", "pykube"))}))
"""


def _probe(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@functools.cache
def _run_probe() -> dict:
    return _probe(PROBE)


def test_ecsbg_run_imports_kopf_but_neither_the_official_client_nor_pykube():
    seen = _run_probe()
    assert seen["kopf"] and seen["handlers"], "the probe got as far as kopf's import"
    assert seen["loaded"] == []


def test_once_kopf_is_imported_other_clients_stay_importable():
    """A process that imported kopf before (the tests, an embedder) loses nothing: kopf already looked."""
    seen = _probe("import json, sys, kopf\nfrom ecsbg.k8s.login import keep_other_clients_out\n"
                  "keep_other_clients_out()\nimport kubernetes.client, pykube\n"
                  "print(json.dumps({'loaded': sorted({m.split('.')[0] for m in sys.modules} & {'kubernetes', 'pykube'})}))")
    assert seen["loaded"] == ["kubernetes", "pykube"]


def test_ecsbg_run_collects_the_young_generation_less_often_and_keeps_the_older_thresholds():
    from ecsbg.main import GC_YOUNG_THRESHOLD

    young, *older = _run_probe()["gc_threshold"]
    assert young == GC_YOUNG_THRESHOLD > 700  # CPython's default
    assert older == list(gc.get_threshold()[1:])  # this interpreter's: the defaults
