"""Every `kubectl ecsrelease` subcommand against the dev cluster (tests/plugins/k8s.py fixtures).

The operator is simulated: the test creates the CR with kubectl and writes its status through the /status
subresource and its Events as the operator would (docs/design.md "Status", "Events").
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

import ecsbg
from ecsbg.plugin import kube
from ecsbg.plugin.cli import main
from tests.observability.tools import REPO

VENV_BIN = str(Path(sys.executable).parent)
T = "2026-11-22T10:00:00Z"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def create(kubectl, namespace: str, name: str) -> None:
    body = yaml.safe_load((REPO / "examples" / "bluegreen-pause.yaml").read_text())
    body["metadata"].update(name=name, namespace=namespace)
    kubectl("apply", "-f", "-", input=json.dumps(body))


def set_status(kubectl, namespace: str, name: str, phase: str, *, attempt: int = 1, stage: str | None = None,
               awaiting: bool = False, **extra) -> None:  # fmt: skip
    ready = "True" if phase == "Succeeded" else "False"
    status = {
        "observedGeneration": 1, "phase": phase, "stage": stage, "attempt": attempt, "message": f"{phase} now",
        "specHash": "1f0c9a2b7d3e4f50", "revision": "web:42",
        "hooks": [{"hookId": "ecs-pause-1", "stage": "POST_TEST_TRAFFIC_SHIFT", "type": "PAUSE",
                   "status": "AWAITING_ACTION" if awaiting else "SUCCEEDED", "expiresAt": "2026-11-22T11:00:00Z",
                   "timeoutAction": "ROLLBACK"}],
        "conditions": [{"type": "Ready", "status": ready, "reason": phase, "message": f"{phase} now",
                        "lastTransitionTime": T, "observedGeneration": 1}],
        **extra,
    }  # fmt: skip
    kubectl("patch", "ecsbluegreenrelease", name, "-n", namespace, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}))  # fmt: skip


def post_event(kubectl, namespace: str, name: str, reason: str, message: str, at: str = T) -> None:
    event = {"apiVersion": "v1", "kind": "Event",
             "metadata": {"name": f"{name}.{reason.lower()}", "namespace": namespace},
             "involvedObject": {"apiVersion": "ecsbg.dev/v1alpha1", "kind": "EcsBlueGreenRelease", "name": name,
                                "namespace": namespace},
             "reason": reason, "message": message, "type": "Normal", "count": 1,
             "firstTimestamp": at, "lastTimestamp": at, "source": {"component": "ecsbg"}}  # fmt: skip
    kubectl("create", "-f", "-", input=json.dumps(event))


def annotation(kubectl, namespace: str, name: str, request: str) -> str:
    jsonpath = "{.metadata.annotations.ecsbg\\.dev/" + request + "}"
    return kubectl("get", "ecsbluegreenrelease", name, "-n", namespace, "-o", f"jsonpath={jsonpath}").stdout


@pytest.fixture
def web(kubectl, k8s_namespace) -> str:
    create(kubectl, k8s_namespace, "web")
    return k8s_namespace


def test_get_shows_the_live_view(kubectl, web):
    set_status(kubectl, web, "web", "AwaitingApproval", attempt=3, stage="POST_TEST_TRAFFIC_SHIFT", awaiting=True,
               traffic={"production": 0, "test": 100},
               stages=[{"stage": "SCALE_UP", "startedAt": T, "finishedAt": "2026-11-22T10:04:00Z"}])  # fmt: skip
    post_event(kubectl, web, "web", "AwaitingApproval", "attempt 3 paused at POST_TEST_TRAFFIC_SHIFT")
    code, out, err = run("get", "web", "-n", web)
    assert (code, err) == (0, "")
    assert f"Name:        {web}/web" in out
    assert "Phase:       AwaitingApproval  [Ready=False]" in out
    assert "Traffic:     production 0% green, test 100% green" in out
    assert "ecs-pause-1  PAUSE  POST_TEST_TRAFFIC_SHIFT  AWAITING_ACTION" in out
    assert "SCALE_UP  2026-11-22T10:00:00Z  2026-11-22T10:04:00Z  4m" in out
    assert "AwaitingApproval  attempt 3 paused at POST_TEST_TRAFFIC_SHIFT" in out
    assert f"Next:        kubectl ecsrelease approve web -n {web}" in out


def test_a_missing_release_is_a_clear_error(web):
    assert run("get", "nope", "-n", web) == (
        1,
        "",
        f'error: ecsbluegreenrelease "nope" not found in namespace "{web}"\n',
    )
    assert run("approve", "nope", "-n", web)[0] == 1


def test_list_in_one_and_all_namespaces(kubectl, web):
    create(kubectl, web, "api")
    set_status(kubectl, web, "web", "Deploying", stage="SCALE_UP")
    code, out, _ = run("list", "-n", web)
    assert code == 0
    lines = out.splitlines()
    # api: just created, status.observedGeneration is the CRD's default -1: no phase, marked not observed
    assert [line.split()[:2] for line in lines[1:3]] == [["api", "-*"], ["web", "Deploying"]]
    assert lines[3].startswith("* the operator has not observed")
    code, out, _ = run("list", "-A")
    assert code == 0 and any(line.split()[:3] == [web, "web", "Deploying"] for line in out.splitlines())


@pytest.mark.parametrize("request_kind", ["approve", "reject"])
def test_approve_and_reject_name_the_current_attempt(kubectl, web, request_kind):
    set_status(kubectl, web, "web", "Deploying", attempt=3, stage="TEST_TRAFFIC_SHIFT")
    code, _, err = run(request_kind, "web", "-n", web)
    assert code == 1 and "no lifecycle hook of attempt 3 is awaiting approval (phase Deploying)" in err
    assert annotation(kubectl, web, "web", request_kind) == ""

    set_status(
        kubectl, web, "web", "AwaitingApproval", attempt=3, stage="POST_TEST_TRAFFIC_SHIFT", awaiting=True
    )
    code, _, err = run(request_kind, "web", "-n", web, "--attempt", "2")
    assert code == 1 and "attempt 2 is not the current attempt (3)" in err
    assert run(request_kind, "web", "-n", web) == (
        0, f"{request_kind} requested for attempt 3 of web (ecsbg.dev/{request_kind}=3)\n", "")  # fmt: skip
    assert annotation(kubectl, web, "web", request_kind) == "3"


def test_abort_only_while_the_attempt_is_in_flight(kubectl, web):
    set_status(kubectl, web, "web", "Succeeded", attempt=2)
    code, _, err = run("abort", "web", "-n", web)
    assert code == 1 and "it is Succeeded" in err
    set_status(kubectl, web, "web", "Baking", attempt=2, stage="BAKE_TIME")
    assert run("abort", "web", "-n", web, "--attempt", "2")[0] == 0
    assert annotation(kubectl, web, "web", "abort") == "2"


def test_retry_only_after_a_rollback_or_failure(kubectl, web):
    set_status(kubectl, web, "web", "Deploying", attempt=4, stage="SCALE_UP")
    code, _, err = run("retry", "web", "-n", web)
    assert code == 1 and "retry applies after the attempt ended RolledBack or Failed, or drifted; it is Deploying" in err
    set_status(kubectl, web, "web", "RolledBack", attempt=4)
    assert run("retry", "web", "-n", web)[0] == 0
    assert annotation(kubectl, web, "web", "retry") == "4"
    assert (
        run("retry", "web", "-n", web)[1] == "ecsbg.dev/retry already names attempt 4 of web: nothing to do\n"
    )


def test_history_lists_stages_and_attempt_events(kubectl, web):
    set_status(kubectl, web, "web", "RolledBack", attempt=2, requests={"retry": 1},
               stages=[{"stage": "SCALE_UP", "startedAt": T, "finishedAt": "2026-11-22T10:03:00Z"},
                       {"stage": "TEST_TRAFFIC_SHIFT", "startedAt": "2026-11-22T10:03:00Z",
                        "finishedAt": "2026-11-22T10:05:30Z"}])  # fmt: skip
    post_event(kubectl, web, "web", "AttemptStarted", "attempt 2 started (retry of 1)")
    post_event(kubectl, web, "web", "RolledBack", "attempt 2 rolled back by ECS", "2026-11-22T10:06:00Z")
    code, out, _ = run("history", "web", "-n", web)
    assert code == 0
    assert "Release " + web + "/web: attempt 2, RolledBack" in out
    assert "Requests seen: retry for attempt 1" in out
    assert "TEST_TRAFFIC_SHIFT  2026-11-22T10:03:00Z  2026-11-22T10:05:30Z  2m30s" in out
    assert out.index("attempt 2 started (retry of 1)") < out.index("attempt 2 rolled back by ECS")


def test_a_request_checked_on_an_outdated_object_is_refused(kubectl, web):
    """The annotation patch carries the resourceVersion the request was checked against (optimistic lock)."""
    set_status(kubectl, web, "web", "AwaitingApproval", attempt=1, awaiting=True)
    api, _ = kube.connect(None, None)
    checked = kube.get_release(api, web, "web")
    set_status(
        kubectl, web, "web", "Deploying", attempt=1, stage="PRODUCTION_TRAFFIC_SHIFT"
    )  # approved meanwhile
    with pytest.raises(kube.PluginError, match="the release changed"):
        kube.annotate(checked, "ecsbg.dev/approve", "1")
    assert annotation(kubectl, web, "web", "approve") == ""


def test_kubeconfig_and_context_flags(web):
    kubeconfig = os.environ["KUBECONFIG"]
    code, out, _ = run(
        "list", "-n", web, "--kubeconfig", kubeconfig, "--context", current_context(kubeconfig)
    )
    assert code == 0 and "web" in out
    code, out_before, _ = run("-n", web, "list")  # kubectl-style: global flags before the subcommand
    assert code == 0 and [line.split()[:2] for line in out_before.splitlines()] == [
        line.split()[:2] for line in out.splitlines()
    ]
    code, _, err = run("list", "-n", web, "--context", "nowhere")
    assert code == 1 and 'context "nowhere" not found' in err
    code, _, err = run("--kubeconfig", "/nonexistent/kubeconfig", "list")
    assert code == 1 and err.startswith("error: ")


def current_context(path: str) -> str:
    return yaml.safe_load(Path(path).read_text())["current-context"]


def test_kubectl_runs_the_installed_plugin(kubectl, web):
    """`kubectl ecsrelease` finds the console script kubectl-ecsrelease on PATH (kubectl's plugin mechanism)."""
    set_status(kubectl, web, "web", "Pending")
    env = {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ["PATH"]}
    done = subprocess.run([kubectl_binary(), "ecsrelease", "list", "-n", web], capture_output=True, text=True,
                          timeout=60, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split()[:2] == ["web", "Pending"]


def kubectl_binary() -> str:
    from tests.observability.tools import require

    return require("kubectl")


def test_get_watch_follows_the_release_until_it_succeeds(kubectl, web):
    set_status(kubectl, web, "web", "Pending")
    env = {**os.environ, "PATH": VENV_BIN + os.pathsep + os.environ["PATH"]}
    proc = subprocess.Popen(
        [os.path.join(VENV_BIN, "kubectl-ecsrelease"), "get", "web", "-n", web, "--watch", "--interval", "0.2",
         "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("Phase:       Pending ") for line in list(seen)), "Pending")
        for phase, stage in (("Deploying", "SCALE_UP"), ("Baking", "BAKE_TIME"), ("Succeeded", None)):
            set_status(kubectl, web, "web", phase, stage=stage)
            wait_for(lambda p=phase: any(line.startswith(f"Phase:       {p} ") for line in list(seen)), phase)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    reader.join(timeout=10)
    phases = [line.split()[1] for line in seen if line.startswith("Phase:")]
    assert phases == ["Pending", "Deploying", "Baking", "Succeeded"]


def wait_for(condition, what: str, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"the watch never showed {what}")


def test_every_file_of_kubeconfig_is_read_like_kubectl(web, tmp_path, monkeypatch):
    """KUBECONFIG=a:b merges both files: a context defined in the first file uses the cluster and user of the
    second, and the first file's current-context wins."""
    real = os.environ["KUBECONFIG"]
    doc = yaml.safe_load(Path(real).read_text())
    current = next(c for c in doc["contexts"] if c["name"] == doc["current-context"])["context"]
    extra = tmp_path / "team.yaml"
    extra.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "team",
                                     "contexts": [{"name": "team", "context": {**current, "namespace": web}}]}))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(extra), str(tmp_path / "missing.yaml"), real]))
    code, out, err = run("list")  # no -n: the namespace of the first file's context
    assert (code, err) == (0, "") and out.splitlines()[1].split()[0] == "web"
    code, out, _ = run("list", "--context", doc["current-context"], "-n", web)  # the second file's context
    assert code == 0 and "web" in out


def test_merge_resolves_relative_paths_against_their_file(tmp_path):
    (tmp_path / "a").mkdir()
    first = tmp_path / "a" / "config"
    first.write_text(yaml.safe_dump({"clusters": [{"name": "c", "cluster": {"server": "https://x",
                                                                            "certificate-authority": "ca.crt"}}],
                                     "users": [{"name": "u", "user": {"client-key": "/abs/key"}}]}))
    second = tmp_path / "config"
    second.write_text(yaml.safe_dump({"current-context": "z", "clusters": [{"name": "c", "cluster": {
        "server": "https://ignored"}}], "contexts": [{"name": "z", "context": {"cluster": "c", "user": "u"}}]}))
    merged = kube.merge_kubeconfigs([first, second])
    assert merged["clusters"] == [{"name": "c", "cluster": {"server": "https://x",
                                                            "certificate-authority": str(tmp_path / "a" / "ca.crt")}}]
    assert merged["users"] == [{"name": "u", "user": {"client-key": "/abs/key"}}]
    assert merged["current-context"] == "z"


@pytest.mark.parametrize("phase, until, code", [
    ("Succeeded", "succeeded", 0), ("AwaitingApproval", "paused", 0), ("RolledBack", "succeeded", 1),
])
def test_wait_exit_codes_against_the_api(kubectl, web, phase, until, code):
    set_status(kubectl, web, "web", phase, attempt=2, awaiting=phase == "AwaitingApproval")
    got, out, err = run("wait", "web", "-n", web, "--until", until, "--timeout", "30", "--interval", "0.2")
    assert got == code, (out, err)


def test_wait_times_out_with_exit_3(kubectl, web):
    set_status(kubectl, web, "web", "Deploying", attempt=1, stage="SCALE_UP")
    got, out, _ = run("wait", "web", "-n", web, "--until", "succeeded", "--timeout", "0.5", "--interval", "0.2")
    assert got == 3 and "web: Deploying" in out


def test_version_needs_no_cluster():
    code, out, _ = run("--kubeconfig", "/nonexistent/kubeconfig", "version")
    assert code == 0 and out == f"kubectl-ecsrelease {ecsbg.__version__}\nAPI: ecsbg.dev/v1alpha1 EcsBlueGreenRelease\n"


@pytest.mark.parametrize("action, phase, awaiting", [
    ("approve", "AwaitingApproval", True), ("abort", "Baking", False), ("retry", "RolledBack", False),
])
def test_argocd_actions_on_a_live_release(kubectl, web, action, phase, awaiting):
    """The Argo CD action scripts run in Lua over the object read from the API server; the resulting change is
    sent as a merge patch, as Argo CD does, and the annotation is the one the operator reads."""
    from tests.observability.argocd_lua import run as run_lua

    set_status(kubectl, web, "web", phase, attempt=4, awaiting=awaiting)
    live = json.loads(kubectl("get", "ecsbluegreenrelease", "web", "-n", web, "-o", "json").stdout)
    actions = REPO / "deploy/argocd/resource_customizations/ecsbg.dev/EcsBlueGreenRelease/actions"
    assert run_lua((actions / "discovery.lua").read_text(), live)[action]["disabled"] is False
    after = run_lua((actions / action / "action.lua").read_text(), live)
    patch = {"metadata": {"annotations": {k: v for k, v in after["metadata"]["annotations"].items()
                                          if live["metadata"].get("annotations", {}).get(k) != v}}}
    assert patch == {"metadata": {"annotations": {f"ecsbg.dev/{action}": "4"}}}
    kubectl("patch", "ecsbluegreenrelease", "web", "-n", web, "--type=merge", "-p", json.dumps(patch))
    assert annotation(kubectl, web, "web", action) == "4"
