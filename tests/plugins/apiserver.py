"""Fixtures for a real kube-apiserver + etcd (tests/plugins/controlplane.py), one per test run.

- `real_cluster` (session): the control plane started, the product CRDs applied with the real kubectl and
  `Established`, and the operator's identity installed from the Helm chart (`helm template`: its ServiceAccount,
  ClusterRole and ClusterRoleBinding). It gives an admin kubeconfig, the operator's kubeconfig (a ServiceAccount
  token from the TokenRequest API), a `kubectl` bound to the admin, and a `client` with the DevCluster helper
  surface (apply/get/list/create/patch/delete), so tests written for the dev cluster run here unchanged.

The binaries are required: `make tools` (and so `make test`) builds them (scripts/build-go-tools.sh); without them
the fixture fails saying so. ECSBG_K8S_BACKENDS=devcluster leaves the parametrized integration tests on the dev
cluster only.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugins.controlplane import REPO_ROOT, ControlPlane, binary

CHART = REPO_ROOT / "charts" / "ecs-bluegreen-operator"
RELEASE, RELEASE_NAMESPACE = "ecsbg", "ecsbg-system"
PATCH_TYPES = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
               "strategic": "application/strategic-merge-patch+json"}


class ApiError(Exception):
    def __init__(self, code: int, body: dict[str, Any]) -> None:
        super().__init__(f"{code}: {body.get('message', body)}")
        self.code, self.body = code, body
        self.message = body.get("message", "")


def tool(name: str) -> str:
    found = shutil.which(name) or (str(binary(name)) if binary(name) else None)
    if found is None:
        pytest.skip(f"{name} is not on PATH (`make tools` installs it into .tools/bin)")
    return found


def run_kubectl(kubeconfig: Path, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 30) -> subprocess.CompletedProcess:
    result = subprocess.run([tool("kubectl"), f"--kubeconfig={kubeconfig}", *args], input=input,
                            capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


class KubeClient:
    """DevCluster's helpers over HTTPS; `apply` is the real `kubectl apply` (client-side, last-applied)."""

    def __init__(self, url: str, context: ssl.SSLContext, kubeconfig: Path) -> None:
        self.url, self._context, self.kubeconfig = url, context, kubeconfig

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                query: dict[str, str] | None = None) -> dict[str, Any]:
        url = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=30) as answer:
                return json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = {"message": raw.decode(errors="replace")}
            raise ApiError(exc.code, payload) from None

    @staticmethod
    def path(group_version: str, plural: str, namespace: str | None, name: str | None = None,
             subresource: str | None = None) -> str:
        base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        parts = [base, *(["namespaces", namespace] if namespace else []), plural, name, subresource]
        return "/".join(p for p in parts if p)

    def apply(self, obj_or_path: dict | str | Path) -> list[dict]:
        if isinstance(obj_or_path, dict):
            args, text = ("-f", "-"), json.dumps(obj_or_path)
        else:
            args, text = ("-f", str(obj_or_path)), None
        out = run_kubectl(self.kubeconfig, "apply", *args, "-o", "json", input=text).stdout
        found = json.loads(out)
        return found.get("items", [found]) if found.get("kind", "").endswith("List") else [found]

    def get(self, group_version: str, plural: str, namespace: str | None, name: str) -> dict | None:
        try:
            return self.request("GET", self.path(group_version, plural, namespace, name))
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def list(self, group_version: str, plural: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[dict]:
        query = {"labelSelector": label_selector} if label_selector else None
        return self.request("GET", self.path(group_version, plural, namespace), query=query).get("items", [])

    def create(self, group_version: str, plural: str, namespace: str | None, body: dict) -> dict:
        return self.request("POST", self.path(group_version, plural, namespace), body)

    def patch(self, group_version: str, plural: str, namespace: str | None, name: str, patch: Any, *,
              subresource: str | None = None, patch_type: str = "merge") -> dict:
        return self.request("PATCH", self.path(group_version, plural, namespace, name, subresource), patch,
                            PATCH_TYPES[patch_type])

    def delete(self, group_version: str, plural: str, namespace: str | None, name: str) -> dict:
        return self.request("DELETE", self.path(group_version, plural, namespace, name))


def render_chart(release: str, namespace: str, *values: str, only: tuple[str, ...] = (
        "templates/serviceaccount.yaml", "templates/rbac.yaml")) -> list[dict[str, Any]]:
    """`helm template` of the chart's identity: its ServiceAccount and RBAC objects, as a user would install."""
    args = [tool("helm"), "template", release, str(CHART), "--namespace", namespace]
    for path in only:
        args += ["--show-only", path]
    for value in values:
        args += ["--set", value]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


class RealCluster:
    """The control plane plus what the tests need on it: CRDs, the chart's identity and kubeconfigs."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        workdir = plane.workdir
        self.admin_kubeconfig = plane.kubeconfig(workdir / "admin.kubeconfig", user="ecsbg-admin")
        self.client = KubeClient(plane.url, plane.ssl_context(), self.admin_kubeconfig)
        self.operator_kubeconfig = workdir / "operator.kubeconfig"
        self.operator_user = ""

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 30) -> subprocess.CompletedProcess:
        """The `kubectl` fixture's signature, as the cluster admin."""
        return run_kubectl(self.admin_kubeconfig, *args, input=input, check=check, timeout=timeout)

    def install(self) -> RealCluster:
        for path in sorted((REPO_ROOT / "crds").glob("*.yaml")):
            self.kubectl("apply", "-f", str(path))
            self.kubectl("wait", "--for=condition=Established", "-f", str(path), "--timeout=60s")
        self.kubectl("create", "namespace", RELEASE_NAMESPACE)
        identity = render_chart(RELEASE, RELEASE_NAMESPACE)
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(identity))
        account = next(d for d in identity if d["kind"] == "ServiceAccount")["metadata"]["name"]
        self.operator_user = f"system:serviceaccount:{RELEASE_NAMESPACE}:{account}"
        self.service_account_kubeconfig(self.operator_kubeconfig, RELEASE_NAMESPACE, account)
        return self

    def service_account_kubeconfig(self, path: Path, namespace: str, account: str) -> Path:
        """A kubeconfig that authenticates as the ServiceAccount with a token from the TokenRequest API."""
        token = self.kubectl("create", "token", account, "-n", namespace, "--duration=24h").stdout.strip()
        return self.plane.kubeconfig(path, user=account, token=token, namespace=namespace)

    def create_namespace(self) -> str:
        name = f"t-{uuid.uuid4().hex[:10]}"
        self.kubectl("create", "namespace", name)
        return name

    def delete_namespace(self, name: str) -> None:
        # no controller-manager: the namespace stays Terminating, its objects are left in etcd (harmless)
        self.kubectl("delete", "namespace", name, "--wait=false", check=False)

    def audit(self) -> list[dict[str, Any]]:
        """The audit log's events so far (level Metadata: user, verb, resource, response code)."""
        path = self.plane.audit_log
        if path is None or not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory) -> Iterator[RealCluster]:
    if "apiserver" not in os.environ.get("ECSBG_K8S_BACKENDS", "devcluster,apiserver").split(","):
        pytest.skip("ECSBG_K8S_BACKENDS leaves the real API server out")
    if binary("etcd") is None or binary("kube-apiserver") is None:
        # required, not optional (`make test` builds them): a missing binary is a broken setup, not a skip
        pytest.fail("etcd/kube-apiserver are not built: run `make tools` (scripts/build-go-tools.sh), or set "
                    "ECSBG_K8S_BACKENDS=devcluster to leave the real API server out", pytrace=False)
    tool("kubectl"), tool("helm")
    plane = ControlPlane(tmp_path_factory.mktemp("apiserver")).start()
    try:
        yield RealCluster(plane).install()
    finally:
        plane.stop()
