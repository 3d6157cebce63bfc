"""We test that `ecsbg demo` (README's first command after `make venv`) runs a complete release and says so.

It runs the real command in a subprocess, from a copy of the repository's crds/ and examples/, at a higher
emulator speed than the default so the suite stays fast; everything else is what a user runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_a_blue_green_a_linear_and_an_analysed_release_to_success(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "crds", tmp_path / "crds")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "AWS_", "ECSBG_"))}
    done = subprocess.run([sys.executable, "-m", "ecsbg", "demo", "--speed", "60", "--timeout", "100"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "result: every release succeeded" in out
    assert "web-bluegreen    AwaitingApproval" in out
    assert "web-bluegreen    approved attempt 1" in out
    assert "web-auto         approved" not in out, "the analysis promotes web-auto, nobody approves it"
    assert "analysis EcsAnalysisTemplate/smoke Successful after 3 measurement(s): ContinueServiceDeployment CONTINUE" in out
    assert "3 UpdateService" in out
    assert "/metrics" in out
    assert (tmp_path / ".demo" / "kubeconfig").read_text().startswith("apiVersion")
    records = [json.loads(line) for line in (tmp_path / ".demo" / "ecs-requests.jsonl").read_text().splitlines()]
    assert sum(1 for r in records if r["operation"] == "UpdateService") == 3
    assert {r["operation"] for r in records} >= {"DescribeServices", "DescribeServiceDeployments",
                                                  "ContinueServiceDeployment", "RegisterTaskDefinition"}
