"""The GitOps engines' own health code, built from Go modules by scripts/build-go-tools.sh (`make tools`):

- `kstatus`: sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute, the library Flux's health checks call
  (tools/go/kstatus);
- `argocd-lua`: a health script run in gopher-lua with the libraries Argo CD opens (tools/go/lua).

Both take a list of objects and answer one {"status", "message"} (or {"error"}) per object, in order.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.observability.tools import REPO, require

HEALTH_LUA = REPO / "deploy" / "argocd" / "resource_customizations" / "ecsbg.dev" / "EcsBlueGreenRelease" / "health.lua"


def _run(argv: list[str], objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    answer = subprocess.run(argv, input=json.dumps(objects), capture_output=True, text=True, timeout=60,
                            check=False)
    assert answer.returncode == 0, f"{argv[0]} failed ({answer.returncode}): {answer.stderr}"
    verdicts = json.loads(answer.stdout)
    assert len(verdicts) == len(objects)
    return verdicts


def kstatus(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    return _run([require("kstatus")], objects)


def argocd_health(objects: list[dict[str, Any]], script: Path = HEALTH_LUA) -> list[dict[str, str]]:
    return _run([require("argocd-lua"), str(script)], objects)
