"""Build the krew archives of `kubectl ecsrelease` and the krew plugin manifest (docs/install.md "kubectl plugin").

    python scripts/krew.py --out dist/krew --url-base https://example.org/releases/v0.1.0 \
        [--platform linux/amd64 ...] [--python 3.11 ...]

One archive per platform, each holding the launcher `kubectl-ecsrelease`, the project's wheel and the wheels of
the plugin's dependencies for every Python version asked (`pip download` from the package index, versions pinned
by constraints.txt). The launcher makes a private virtualenv beside itself on first use, from those wheels only
(no network then), with `python3` (or $ECSBG_PYTHON) of version 3.11 or newer. The manifest
(`krew.googlecontainertools.github.com/v1alpha2`, kind Plugin) names each archive by `--url-base` and its
sha256; publishing the archives there is the release's job. tests/delivery/test_krew.py installs the result with
a real krew and runs the plugin.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NAME = "ecsrelease"
# What the plugin imports (ecsbg.plugin, and ecsbg.aws for `plan`); the project's wheel is installed without its
# own dependencies, which are the operator's (kopf, aiohttp, ...).
REQUIREMENTS = ("pykube-ng", "PyYAML", "requests", "jsonschema", "cel-python", "boto3", "prometheus-client")
PYTHONS = ("3.11", "3.12", "3.13")
PLATFORMS = {  # krew selector -> pip platform tags (wheels built for older glibc/macOS run on newer ones)
    "linux/amd64": ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"),
    "linux/arm64": ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"),
    "darwin/amd64": ("macosx_10_12_x86_64", "macosx_10_9_x86_64", "macosx_11_0_x86_64"),
    "darwin/arm64": ("macosx_11_0_arm64", "macosx_12_0_arm64"),
}

LAUNCHER = r"""#!/bin/sh
# kubectl-ecsrelease as installed by krew: a private virtualenv beside this file, made on first use from the
# wheels of this archive only (no network), with python3 (or $ECSBG_PYTHON), version 3.11 or newer.
set -eu
self=$(readlink -f "$0" 2>/dev/null || realpath "$0")
here=$(dirname "$self")
venv="$here/venv"
if [ ! -f "$venv/.complete" ]; then
    py=${ECSBG_PYTHON:-python3}
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "kubectl-ecsrelease needs Python 3.11 or newer: install it, or set ECSBG_PYTHON to one" >&2
        exit 1
    fi
    rm -rf "$venv"
    echo "kubectl-ecsrelease: first use, making its virtualenv in $venv" >&2
    "$py" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$here/wheels" \
        -r "$here/requirements.txt" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
        "$here"/wheels/ecs_bluegreen_operator-*.whl >&2
    touch "$venv/.complete"
fi
exec "$venv/bin/python" -m ecsbg.plugin.cli "$@"
"""


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def pinned() -> list[str]:
    """REQUIREMENTS at the versions constraints.txt pins (names compared as pip normalises them)."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, rest = line.partition("==")
            pins[_norm(name)] = rest.split(";")[0].split()[0]
    missing = [r for r in REQUIREMENTS if _norm(r) not in pins]
    if missing:
        raise SystemExit(f"krew: constraints.txt pins none of {missing}")
    return [f"{r}=={pins[_norm(r)]}" for r in REQUIREMENTS]


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def project_wheel(into: Path) -> Path:
    """The project's wheel, built from a copy (setuptools leaves build/ beside the sources it builds)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, src / name)
        shutil.copytree(ROOT / "operator", src / "operator",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(into), str(src)],
                       check=True)
    return next(into.glob("ecs_bluegreen_operator-*.whl"))


def download(wheels: Path, requirements: list[str], platform: str, pythons: tuple[str, ...]) -> None:
    for python in pythons:
        tags = [arg for tag in PLATFORMS[platform] for arg in ("--platform", tag)]
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                        "--only-binary=:all:", "--implementation", "cp", "--python-version", python, *tags,
                        "-d", str(wheels), *requirements], check=True)


def archive(out: Path, platform: str, wheel: Path, requirements: list[str], pythons: tuple[str, ...]) -> Path:
    path = out / f"kubectl-{NAME}-v{version()}-{platform.replace('/', '-')}.tar.gz"
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp) / "wheels"
        wheels.mkdir()
        download(wheels, requirements, platform, pythons)
        shutil.copy2(wheel, wheels / wheel.name)
        with tarfile.open(path, "w:gz") as tar:
            _add(tar, "kubectl-ecsrelease", LAUNCHER.encode(), 0o755)
            _add(tar, "requirements.txt", "".join(f"{r}\n" for r in requirements).encode(), 0o644)
            for file in sorted(wheels.iterdir()):
                tar.add(file, arcname=f"wheels/{file.name}")
    return path


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def manifest(archives: dict[str, Path], url_base: str) -> dict:
    platforms = []
    for platform, path in archives.items():
        os_name, arch = platform.split("/")
        platforms.append({
            "selector": {"matchLabels": {"os": os_name, "arch": arch}},
            "uri": f"{url_base.rstrip('/')}/{path.name}",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "files": [{"from": "*", "to": "."}],
            "bin": "kubectl-ecsrelease",
        })
    return {
        "apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
        "kind": "Plugin",
        "metadata": {"name": NAME},
        "spec": {
            "version": f"v{version()}",
            "homepage": url_base.split("/releases/")[0],
            "shortDescription": "See and steer Amazon ECS native blue/green releases (ecsbg)",
            "description": "Live view, approve/reject/abort/retry, wait, plan and lint for the EcsBlueGreenRelease "
                           "resources of the ecsbg operator.",
            "caveats": "Needs Python 3.11 or newer (python3 on PATH, or ECSBG_PYTHON). The first use makes a "
                       "private virtualenv from the wheels in the archive, without network access. `plan` "
                       "reads ECS with your AWS credentials.",
            "platforms": platforms,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--url-base", required=True, help="where the archives will be published")
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS), help="default: all")
    parser.add_argument("--python", action="append", help=f"default: {', '.join(PYTHONS)}")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    requirements = pinned()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = project_wheel(Path(tmp))
        archives = {p: archive(args.out, p, wheel, requirements, tuple(args.python or PYTHONS))
                    for p in args.platform or sorted(PLATFORMS)}
    path = args.out / f"{NAME}.yaml"
    path.write_text(yaml.safe_dump(manifest(archives, args.url_base), sort_keys=False))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
