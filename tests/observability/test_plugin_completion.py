"""Shell completion of the plugin: the candidates (from the argparse parser), the bash script run by a real bash,
and kubectl's own plugin completion (kubectl 1.26+ runs kubectl_complete-ecsrelease), with release names read
from a cluster."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecsbg.plugin import cli
from ecsbg.plugin.completion import DEFAULT, NO_FILES, candidates
from tests.plugins.apiserver import tool

BIN = Path(sys.executable).parent  # kubectl-ecsrelease and kubectl_complete-ecsrelease are installed here
PARSER = cli.build_parser()


def names(namespace, kubeconfig, context):
    return {None: ["api", "web", "worker"], "shop": ["web-eu", "web-us"]}.get(namespace, [])


@pytest.mark.parametrize("words, want", [
    ([""], (["abort", "approve", "completion", "get", "history", "lint", "list", "plan", "reject", "retry",
             "version", "wait"], NO_FILES)),
    (["ap"], (["approve"], NO_FILES)),
    (["get", "w"], (["web", "worker"], NO_FILES)),
    (["-n", "shop", "approve", ""], (["web-eu", "web-us"], NO_FILES)),
    (["approve", "--namespace=shop", "web-e"], (["web-eu"], NO_FILES)),
    (["get", "web", ""], ([], NO_FILES)),                       # one release per command
    (["wait", "web", "--until", "st"], (["stage:BAKE_TIME", "stage:TEST_TRAFFIC_SHIFT",
                                         "stage:PRODUCTION_TRAFFIC_SHIFT"], NO_FILES)),
    (["plan", "-f", ""], ([], DEFAULT)),                        # a file: the shell completes paths
    (["lint", ""], ([], DEFAULT)),
    (["plan", "--no"], (["--no-assume-role"], NO_FILES)),
    (["completion", ""], (["bash", "zsh"], NO_FILES)),
    (["get", "-w", "we"], (["web"], NO_FILES)),                 # a flag without a value is not the name
])
def test_candidates(words, want):
    assert candidates(PARSER, words, names) == want


def test_the_hidden_callback_speaks_cobras_protocol():
    out = io.StringIO()
    assert cli.main(["__complete", "wait", "x", "--until", "succ"], out=out) == 0
    assert out.getvalue() == "succeeded\n:4\n"


def _bash(script: str, line: list[str]) -> list[str]:
    program = (f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in line)}); COMP_CWORD={len(line) - 1}\n"
               "_kubectl_ecsrelease; printf '%s\\n' \"${COMPREPLY[@]}\"")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "KUBECONFIG": "/nonexistent"}
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env=env, timeout=60, check=True)
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completes_through_the_program(tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    out = io.StringIO()
    cli.main(["completion", "bash"], out=out)
    script = out.getvalue()
    assert _bash(script, ["kubectl-ecsrelease", "re"]) == ["reject", "retry"]
    assert _bash(script, ["kubectl-ecsrelease", "wait", "web", "--until", "de"]) == ["deployed"]
    (tmp_path / "web.yaml").write_text("kind: EcsBlueGreenRelease\n")
    assert _bash(script, ["kubectl-ecsrelease", "plan", "-f", str(tmp_path / "we")]) == [str(tmp_path / "web.yaml")]


def test_kubectl_completes_the_plugin_with_release_names_from_the_cluster(dev_cluster, tmp_path):
    if dev_cluster is None:
        pytest.skip("K8S_E2E: a real cluster's releases are not ours to create here")
    kubeconfig = tmp_path / "kubeconfig"
    dev_cluster.write_kubeconfig(kubeconfig)
    for name in ("web", "worker"):
        dev_cluster.apply({"apiVersion": "ecsbg.dev/v1alpha1", "kind": "EcsBlueGreenRelease",
                           "metadata": {"name": name, "namespace": "default"},
                           "spec": {"target": {"region": "us-east-1", "cluster": "c", "service": name},
                                    "taskDefinition": {"arn": "arn:aws:ecs:us-east-1:111122223333:task-definition/"
                                                              f"{name}:1"},
                                    "strategy": {"type": "BlueGreen"}}})
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "KUBECONFIG": str(kubeconfig)}
    done = subprocess.run([tool("kubectl"), "__complete", "ecsrelease", "get", "w"], capture_output=True, text=True,
                          env=env, timeout=60, check=True)
    assert done.stdout.splitlines() == ["web", "worker", ":4"], done.stderr
