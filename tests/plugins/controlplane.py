"""A real Kubernetes control plane for the tests: etcd and kube-apiserver, started the way envtest starts them.

The flags follow controller-runtime's pkg/internal/testing/controlplane (apiserver.go, etcd.go, auth.go): etcd on
loopback ports with a temporary data dir and no fsync; kube-apiserver with a throwaway CA and serving cert, client
certificate authentication against that CA, a service-account issuer and signing key, RBAC authorization and the
ServiceAccount admission plugin off (no controller-manager creates the `default` ServiceAccounts). Certificates
come from the `openssl` command, so no Python dependency is added for them.

The binaries are built by scripts/build-go-tools.sh (`make tools`) into .tools/bin. There is no
controller-manager, so nothing garbage-collects and namespaces stay Terminating once deleted, as under envtest.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = REPO_ROOT / ".tools" / "bin"
SERVICE_CIDR = "10.0.0.0/24"


def binary(name: str) -> Path | None:
    path = TOOLS / name
    return path if path.exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


@dataclass(frozen=True)
class Pki:
    """A throwaway CA, the apiserver's serving cert, the service-account key pair, and client certs on demand."""

    root: Path

    @property
    def ca_crt(self) -> Path:
        return self.root / "ca.crt"

    def create(self) -> Pki:
        self.root.mkdir(parents=True, exist_ok=True)
        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2")
        _openssl("req", "-x509", *ec, "-keyout", str(self.root / "ca.key"), "-out", str(self.ca_crt),
                 "-subj", "/CN=ecsbg-test-ca", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self._sign("serving", "/CN=kube-apiserver", "serverAuth",
                   "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes.default.svc")
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(self.root / "sa.key"))
        _openssl("ec", "-in", str(self.root / "sa.key"), "-pubout", "-out", str(self.root / "sa.pub"))
        return self

    def client(self, user: str, *groups: str) -> tuple[Path, Path]:
        """A client certificate: CN is the user name, each O a group (kube-apiserver's x509 authenticator)."""
        subject = f"/CN={user}" + "".join(f"/O={g}" for g in groups)
        return self._sign(f"client-{user}", subject, "clientAuth", None)

    def _sign(self, name: str, subject: str, usage: str, san: str | None) -> tuple[Path, Path]:
        crt, key = self.root / f"{name}.crt", self.root / f"{name}.key"
        extensions = ["-addext", "basicConstraints=critical,CA:FALSE", "-addext", f"extendedKeyUsage={usage}",
                      "-addext", "keyUsage=critical,digitalSignature,keyEncipherment"]
        if san:
            extensions += ["-addext", san]
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                 "-keyout", str(key), "-out", str(crt), "-subj", subject, "-CA", str(self.ca_crt),
                 "-CAkey", str(self.root / "ca.key"), *extensions)
        return crt, key


class ControlPlane:
    """etcd + kube-apiserver on loopback ports; `start()` returns once /readyz answers ok."""

    def __init__(self, workdir: Path, *, audit: bool = True) -> None:
        self.workdir = workdir
        self.pki = Pki(workdir / "pki")
        self.audit_log = workdir / "audit.log" if audit else None
        self._procs: list[tuple[str, subprocess.Popen]] = []
        self._apiserver_argv: list[str] = []
        self.etcd_url = ""
        self.port = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> ControlPlane:
        etcd, apiserver = binary("etcd"), binary("kube-apiserver")
        if etcd is None or apiserver is None:
            raise FileNotFoundError("etcd or kube-apiserver is missing from .tools/bin: run `make tools`")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pki.create()
        etcd_url = self._start_etcd(etcd)
        self._start_apiserver(apiserver, etcd_url)
        self._wait_ready(timeout)
        return self

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self._procs.append((name, subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                   stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)))

    def _start_etcd(self, etcd: Path) -> str:
        client, peer = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
        self._spawn("etcd", [
            str(etcd), "--name=ecsbg-test", f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=ecsbg-test={peer}", "--unsafe-no-fsync=true", "--log-level=warn",
        ])
        self.etcd_url = client
        return client

    def compact_etcd(self) -> int:
        """Compact etcd at its current revision (etcd's JSON gateway), as the apiserver does every 5 minutes: a
        watch from any older resourceVersion then ends with 410 Gone. Returns the revision."""
        def post(path: str, body: dict) -> dict:
            request = urllib.request.Request(self.etcd_url + path, data=json.dumps(body).encode(), method="POST")
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.loads(answer.read())

        revision = int(post("/v3/kv/range", {"key": base64.b64encode(b"/").decode()})["header"]["revision"])
        post("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision

    def _start_apiserver(self, apiserver: Path, etcd_url: str) -> None:
        self.port = free_port()
        pki = self.pki.root
        argv = [
            str(apiserver), f"--etcd-servers={etcd_url}", f"--cert-dir={pki}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--tls-cert-file={pki / 'serving.crt'}", f"--tls-private-key-file={pki / 'serving.key'}",
            f"--client-ca-file={self.pki.ca_crt}", "--authorization-mode=RBAC",
            f"--service-account-issuer={self.url}", f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--allow-privileged=true",
            "--disable-admission-plugins=ServiceAccount", "--endpoint-reconciler-type=none",
            "--enable-priority-and-fairness=false", "--profiling=false", "--v=1",
        ]
        if self.audit_log is not None:
            policy = self.workdir / "audit-policy.yaml"
            policy.write_text(yaml.safe_dump({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                                              "omitStages": ["RequestReceived"],
                                              "rules": [{"level": "Metadata"}]}))
            argv += [f"--audit-policy-file={policy}", f"--audit-log-path={self.audit_log}",
                     "--audit-log-format=json", "--audit-log-mode=batch", "--audit-log-batch-max-wait=100ms"]
        self._apiserver_argv = argv
        self._spawn("kube-apiserver", argv)

    def restart_apiserver(self, timeout: float = 90) -> None:
        """Stop kube-apiserver (every watch is cut) and start it again on the same port over the same etcd."""
        for n, (name, proc) in enumerate(self._procs):
            if name == "kube-apiserver":
                _end(proc, timeout=5)
                del self._procs[n]
                break
        self._spawn("kube-apiserver", self._apiserver_argv)
        self._wait_ready(timeout)

    def ssl_context(self, user: str = "ecsbg-admin") -> ssl.SSLContext:
        crt, key = self.admin_cert if user == "ecsbg-admin" else self.pki.client(user)
        context = ssl.create_default_context(cafile=str(self.pki.ca_crt))
        context.load_cert_chain(str(crt), str(key))
        return context

    @property
    def admin_cert(self) -> tuple[Path, Path]:
        crt, key = self.pki.root / "client-ecsbg-admin.crt", self.pki.root / "client-ecsbg-admin.key"
        if not crt.exists():
            self.pki.client("ecsbg-admin", "system:masters")
        return crt, key

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        context, last = self.ssl_context(), ""
        while time.monotonic() < deadline:
            for name, proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", context=context, timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError as exc:  # connection refused while starting, or 500 while post-start hooks run
                last = str(exc)
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"kube-apiserver not ready in {timeout}s ({last}):\n{self.log_tail('kube-apiserver')}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def kubeconfig(self, path: Path, *, user: str, token: str | None = None,
                   cert: tuple[Path, Path] | None = None, namespace: str = "default") -> Path:
        """A kubeconfig with one context for `user`, authenticated by a bearer token or a client cert."""
        credentials: dict[str, str] = {"token": token} if token else {
            "client-certificate": str((cert or self.admin_cert)[0]),
            "client-key": str((cert or self.admin_cert)[1])}
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": user,
            "clusters": [{"name": "ecsbg-test", "cluster": {"server": self.url,
                                                              "certificate-authority": str(self.pki.ca_crt)}}],
            "users": [{"name": user, "user": credentials}],
            "contexts": [{"name": user, "context": {"cluster": "ecsbg-test", "user": user,
                                                    "namespace": namespace}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def stop(self, timeout: float = 5) -> None:
        """The apiserver first, then etcd; SIGTERM, then SIGKILL after `timeout`."""
        for _, proc in reversed(self._procs):
            _end(proc, timeout)
        self._procs.clear()


def _die_with_parent() -> None:
    """Linux PR_SET_PDEATHSIG: a test run killed outright (no fixture teardown) leaves no server behind on a
    machine others share."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _end(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL: kube-apiserver's graceful shutdown finishes in about a second, but its HTTP server
    then waits for the watch connections clients still hold open (kopf's), which never end by themselves."""
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
