"""The emulators are their own distribution (issue 10): the operator's wheel (and so its image) carries none of
their code, theirs carries none of the operator's, and they run where the operator, kopf and boto3 cannot be
imported at all."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("wheels")
    # built from a copy: setuptools leaves build/ and *.egg-info beside the sources it builds
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    shutil.copytree(ROOT / "operator", src / "operator", ignore=skip)
    shutil.copytree(ROOT / "emulators", src / "emulators", ignore=skip)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), str(src / "emulators"),
                    "-w", str(out)], check=True, timeout=600)
    found = {path.name.split("-")[0]: zipfile.ZipFile(path) for path in out.glob("*.whl")}
    assert set(found) == {"ecs_bluegreen_operator", "ecsbg_emulators"}, found
    return found


def _requires(wheel: zipfile.ZipFile) -> list[str]:
    meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    return Parser().parsestr(wheel.read(meta).decode()).get_all("Requires-Dist") or []


def test_the_operator_wheel_carries_no_emulator_code(wheels: dict[str, zipfile.ZipFile]) -> None:
    names = wheels["ecs_bluegreen_operator"].namelist()
    assert any(n == "ecsbg/reconciler.py" for n in names)
    assert [n for n in names if n.startswith("ecsbg_emulators/") or "/emulator/" in n or "/devcluster/" in n] == []
    assert not [r for r in _requires(wheels["ecs_bluegreen_operator"]) if "emulators" in r]


def test_the_emulators_wheel_carries_no_operator_code_and_does_not_require_it(
        wheels: dict[str, zipfile.ZipFile]) -> None:
    names = wheels["ecsbg_emulators"].namelist()
    assert "ecsbg_emulators/ecs/engine.py" in names and "ecsbg_emulators/devcluster/server.py" in names
    assert [n for n in names if n.startswith("ecsbg/")] == []
    requires = " ".join(_requires(wheels["ecsbg_emulators"]))
    for forbidden in ("ecs-bluegreen-operator", "kopf", "boto3", "kubernetes"):
        assert forbidden not in requires


BLOCKED = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("ecsbg", "kopf", "boto3", "botocore", "kubernetes"):
            raise ImportError(f"blocked: {name}")
sys.meta_path.insert(0, Block())
import pkgutil, importlib, ecsbg_emulators
for module in pkgutil.walk_packages(ecsbg_emulators.__path__, "ecsbg_emulators."):
    importlib.import_module(module.name)
from ecsbg_emulators.devcluster import DevCluster
from ecsbg_emulators.ecs import EmulatorServer
with EmulatorServer(port=0) as ecs, DevCluster(port=0) as cluster:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "alone"}})
    print("served", ecs.url.startswith("http"), cluster.get("v1", "namespaces", None, "alone")["metadata"]["name"])
"""


def test_the_emulators_run_where_the_operator_kopf_and_boto3_cannot_be_imported(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", BLOCKED], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "served True alone"


def test_the_operator_cli_says_how_to_get_the_emulators_when_they_are_missing(tmp_path: Path) -> None:
    script = ("import importlib.abc, sys\n"
              "class Block(importlib.abc.MetaPathFinder):\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name.split('.')[0] == 'ecsbg_emulators':\n"
              "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
              "sys.meta_path.insert(0, Block())\n"
              "from ecsbg.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    emulator = subprocess.run([sys.executable, "-c", script, "emulator", "--port", "0"], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
    assert emulator.returncode == 2
    assert "pip install ./emulators" in emulator.stderr and "Traceback" not in emulator.stderr
    operator = subprocess.run([sys.executable, "-c", script, "iam-policy", "--help"], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
    assert operator.returncode == 0, operator.stderr  # the rest of the CLI works without them
