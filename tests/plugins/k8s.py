"""Fixtures for the Kubernetes API: the local devcluster (default) or the current context (`K8S_E2E=1`).

KUBECONFIG is set here, at import time, because kopf decides when `import kopf` runs whether to register its
kubeconfig login (../shared/reference/k8s-testing.md, section 4b); tests/conftest.py loads this plugin first.

Fixtures:
- `dev_cluster` (session): a started DevCluster with every `crds/*.yaml` applied; None under K8S_E2E=1.
- `kubectl`: `kubectl(*args, input=None, check=True, timeout=30) -> CompletedProcess`, the real binary.
- `k8s_namespace`: a fresh namespace per test, deleted afterwards.
- `run_kopf`: `run_kopf(registry, *, namespaces=("default",), memo=None, settings=None)` starts
  `kopf.operator(...)` in a thread with its own loop, waits until ready and returns a handle with `.stop()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecsbg.embedded import OperatorThread

E2E = os.environ.get("K8S_E2E") == "1"
REPO_ROOT = Path(__file__).resolve().parents[2]
_TMP_DIR = Path(tempfile.mkdtemp(prefix="ecsbg-k8s-"))
if not E2E:
    KUBECONFIG_PATH = _TMP_DIR / "kubeconfig"
    os.environ["KUBECONFIG"] = str(KUBECONFIG_PATH)
    # kubectl caches discovery per host:port; keep the cache of these short-lived servers out of ~/.kube
    os.environ.setdefault("KUBECACHEDIR", str(_TMP_DIR / "kube-cache"))
else:
    KUBECONFIG_PATH = None


def product_crds() -> list[Path]:
    return sorted((REPO_ROOT / "crds").glob("*.yaml"))


def pytest_sessionfinish(session, exitstatus) -> None:
    shutil.rmtree(_TMP_DIR, ignore_errors=True)


def _kubectl_binary() -> str:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not on PATH (`make tools` installs it into .tools/bin)")
    return binary


def run_kubectl(*args: str, input: str | None = None, check: bool = True,
                timeout: float = 30) -> subprocess.CompletedProcess:
    result = subprocess.run([_kubectl_binary(), *args], input=input, capture_output=True, text=True,
                            timeout=timeout, env=os.environ.copy())
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def dev_cluster() -> Iterator[object]:
    if E2E:
        # a real cluster: install our CRDs and wait until they are served (docs/devcluster.md)
        for path in product_crds():
            run_kubectl("apply", "-f", str(path))
            run_kubectl("wait", "--for=condition=Established", "-f", str(path), "--timeout=60s")
        yield None
        return
    from ecsbg_emulators.devcluster import DevCluster

    cluster = DevCluster(host="127.0.0.1", port=0)
    cluster.start()
    try:
        cluster.write_kubeconfig(KUBECONFIG_PATH)
        for path in product_crds():
            cluster.apply(path)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def kubectl(dev_cluster):
    return run_kubectl


@pytest.fixture
def k8s_namespace(dev_cluster, kubectl) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        # don't wait: objects whose finalizers belong to an already stopped operator keep it Terminating
        kubectl("delete", "namespace", name, "--wait=false", check=False)


def _ensure_login(registry) -> None:
    """A bare OperatorRegistry has no login handler (only kopf's default registry gets them at import)."""
    import kopf

    activities = registry._activities.get_all_handlers()  # no public accessor in kopf 1.45
    if not any(str(getattr(h.activity, "value", h.activity)) == "authentication" for h in activities):
        kopf.on.login(registry=registry, id="kubeconfig")(kopf.login_with_kubeconfig)


def fast_settings():
    """kopf settings for tests: short backoffs so retries and reconnects don't stall a test."""
    import kopf

    settings = kopf.OperatorSettings()
    settings.watching.reconnect_backoff = 0.2
    settings.queueing.idle_timeout = 0.5
    settings.queueing.exit_timeout = 0.5
    settings.posting.level = 20  # INFO: kopf.info() events are posted
    return settings


@pytest.fixture
def run_kopf(dev_cluster) -> Iterator[object]:
    import kopf

    saved_registry = kopf.get_default_registry()
    handles: list[OperatorThread] = []

    def start(registry, *, namespaces=("default",), memo=None, settings=None) -> OperatorThread:
        _ensure_login(registry)
        handle = OperatorThread(registry, namespaces, memo, settings or fast_settings())
        handles.append(handle)
        return handle.start()

    yield start
    errors = []
    for handle in handles:
        try:
            handle.stop()
        except TimeoutError as exc:
            errors.append(exc)
    kopf.set_default_registry(saved_registry)
    assert not errors, errors
