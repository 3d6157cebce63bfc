"""The krew plugin manifest and archive (scripts/krew.py), installed with a real krew (built from its Go module
by scripts/build-go-tools.sh) and run through a real kubectl, in an environment without the project's
virtualenv: the launcher makes its own from the archive's wheels, and `version`, `lint` and `plan` (against the
ECS emulator, so boto3 and the request builders are in the archive) work from it."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import ecsbg
from tests.integration.conftest import release_manifest
from tests.plugins.apiserver import tool
from tests.plugins.ecs import make_client, seed_service

ROOT = Path(__file__).resolve().parents[2]
URL_BASE = "https://example.org/ecsbg/releases/download/v" + ecsbg.__version__
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

pytestmark = pytest.mark.skipif(sys.platform != "linux" or platform.machine() != "x86_64",
                                reason="the test builds and installs the linux/amd64 archive")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("krew")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "krew.py"), "--out", str(out), "--url-base", URL_BASE,
                    "--platform", "linux/amd64", "--python", PYTHON], check=True, timeout=900)
    return out, yaml.safe_load((out / "ecsrelease.yaml").read_text())


def test_the_manifest_names_the_archive_by_its_checksum(built):
    out, manifest = built
    assert (manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"]) == (
        "krew.googlecontainertools.github.com/v1alpha2", "Plugin", "ecsrelease")
    assert manifest["spec"]["version"] == f"v{ecsbg.__version__}"
    (entry,) = manifest["spec"]["platforms"]
    archive = out / entry["uri"].rsplit("/", 1)[1]
    assert entry["uri"] == f"{URL_BASE}/{archive.name}" and archive.exists()
    assert entry["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert entry["selector"] == {"matchLabels": {"os": "linux", "arch": "amd64"}}
    assert entry["bin"] == "kubectl-ecsrelease"


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory) -> Path:
    out, manifest = built
    root = tmp_path_factory.mktemp("krew-root")
    archive = out / manifest["spec"]["platforms"][0]["uri"].rsplit("/", 1)[1]
    subprocess.run([tool("krew"), "install", f"--manifest={out / 'ecsrelease.yaml'}", f"--archive={archive}"],
                   env={**os.environ, "KREW_ROOT": str(root)}, check=True, timeout=300, capture_output=True)
    return root


def _kubectl(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """kubectl with only krew's bin and the system's on PATH: not the project's virtualenv."""
    clean = {"HOME": str(root), "PATH": f"{root / 'bin'}{os.pathsep}/usr/bin:/bin", "ECSBG_PYTHON": sys.executable,
             "KUBECONFIG": str(root / "no-kubeconfig"), **(env or {})}
    return subprocess.run([tool("kubectl"), "ecsrelease", *args], env=clean, capture_output=True, text=True,
                          timeout=600)


def test_kubectl_runs_the_krew_installed_plugin(installed):
    first = _kubectl(installed, "version")
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"kubectl-ecsrelease {ecsbg.__version__}\nAPI: ecsbg.dev/v1alpha1 EcsBlueGreenRelease\n"
    assert "first use, making its virtualenv" in first.stderr
    again = _kubectl(installed, "version")
    assert again.returncode == 0 and again.stderr == ""  # made once


def test_lint_and_plan_work_from_the_archives_wheels_alone(installed, ecs_emulator, tmp_path):
    manifest = release_manifest("web", "shop", image="public.ecr.aws/nginx/nginx:1.29")
    (tmp_path / "web.yaml").write_text(yaml.safe_dump(manifest))
    linted = _kubectl(installed, "lint", str(tmp_path / "web.yaml"))
    assert linted.returncode == 0 and linted.stdout.endswith(": web: ok\n"), linted.stdout + linted.stderr
    seed_service(make_client(ecs_emulator.url))
    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "ECSBG_AWS_ENDPOINT_URL": ecs_emulator.url}
    planned = _kubectl(installed, "plan", "-f", str(tmp_path / "web.yaml"), env=aws)
    assert planned.returncode == 0, planned.stderr
    assert "task definition: register a new revision" in planned.stdout
    assert '+      "image": "public.ecr.aws/nginx/nginx:1.29",' in planned.stdout
