"""Where the Kubernetes API is and who we are to it: the pod's service account, else a kubeconfig.

The operator's own client (`k8s.rest`) and kopf (`k8s.login`) both log in from here, so they always agree. What is
read, as client-go does:
- in a pod: KUBERNETES_SERVICE_HOST/PORT, the service account's CA, and its token file, which the kubelet rotates
  (a projected token lives about an hour): the file is read again whenever it was replaced;
- else KUBECONFIG (several files: the first value of each name wins) or ~/.kube/config, its current context:
  server, certificate-authority(-data), insecure-skip-tls-verify, tls-server-name, token, tokenFile,
  client-certificate(-data), client-key(-data), username/password, and `exec` credential plugins (EKS:
  `aws eks get-token`), whose ExecCredential token is kept until its expirationTimestamp. Relative paths are
  relative to the kubeconfig file naming them.
Not supported: proxy-url and the removed in-tree auth-providers (gcp, azure, oidc), beyond a token they cached.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
EXEC_TIMEOUT = 60.0  # seconds an exec plugin may take (`aws eks get-token` answers in about one)
EXPIRY_MARGIN = timedelta(seconds=10)  # a token this close to its end is fetched anew: it would die in flight


class CredentialsError(Exception):
    """No usable credentials: no service account, no kubeconfig, or a kubeconfig or plugin that says nothing."""


class TokenSource(Protocol):
    def get(self) -> tuple[str | None, datetime | None]:
        """(bearer token, when it expires or None)."""
        ...

    def invalidate(self) -> None:
        """The API answered 401: fetch anew next time."""
        ...


@dataclass(frozen=True)
class Credentials:
    server: str
    ca_file: str | None = None
    ca_data: str | None = None  # PEM
    insecure: bool = False
    tls_server_name: str | None = None
    cert_file: str | None = None
    cert_data: str | None = None  # PEM
    key_file: str | None = None
    key_data: str | None = None  # PEM
    token: TokenSource | None = None
    username: str | None = None
    password: str | None = None
    namespace: str | None = None


class StaticToken:
    def __init__(self, token: str) -> None:
        self._token = token

    def get(self) -> tuple[str | None, datetime | None]:
        return self._token, None

    def invalidate(self) -> None:
        pass  # nothing else to offer: the next request fails the same way, which the caller reports


class FileToken:
    """A token file read again when it was replaced (the kubelet swaps a projected token's symlink)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._token: str | None = None

    def get(self) -> tuple[str | None, datetime | None]:
        stat = os.stat(self._path)  # one syscall per request; a read only when the file changed
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._token = Path(self._path).read_text().strip() or None
                self._stamp = stamp
            return self._token, None

    def invalidate(self) -> None:
        with self._lock:
            self._stamp = None


class ExecToken:
    """A client.authentication.k8s.io ExecCredential plugin, run again once its token expires (or on a 401)."""

    def __init__(self, spec: dict[str, Any], base: Path, cluster: dict[str, Any] | None = None) -> None:
        command = str(spec.get("command") or "")
        if not command:
            raise CredentialsError("kubeconfig: exec without a command")
        if os.sep in command and not os.path.isabs(command):
            command = str(base / command)  # client-go: relative to the kubeconfig, not the working directory
        self._argv = [command, *[str(a) for a in spec.get("args") or []]]
        self._env = {str(e["name"]): str(e["value"]) for e in spec.get("env") or []}
        self._info = {"apiVersion": spec.get("apiVersion") or "client.authentication.k8s.io/v1",
                      "kind": "ExecCredential", "spec": {"interactive": False}}
        if spec.get("provideClusterInfo") and cluster:
            self._info["spec"]["cluster"] = cluster
        self._lock = threading.Lock()
        self._cached: tuple[str, datetime | None] | None = None

    def get(self) -> tuple[str | None, datetime | None]:
        with self._lock:  # several worker threads at once run the plugin once
            cached = self._cached
            if cached is None or (cached[1] is not None and datetime.now(UTC) >= cached[1] - EXPIRY_MARGIN):
                cached = self._cached = self._run()
            return cached

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _run(self) -> tuple[str, datetime | None]:
        env = {**os.environ, **self._env, "KUBERNETES_EXEC_INFO": json.dumps(self._info)}
        try:
            done = subprocess.run(self._argv, env=env, capture_output=True, text=True, timeout=EXEC_TIMEOUT,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CredentialsError(f"kubeconfig exec plugin {self._argv[0]}: {exc}") from exc
        if done.returncode != 0:
            raise CredentialsError(f"kubeconfig exec plugin {self._argv[0]} exited {done.returncode}: "
                                   f"{done.stderr.strip()[-500:]}")
        try:
            status = json.loads(done.stdout).get("status") or {}
        except (ValueError, AttributeError) as exc:
            raise CredentialsError(f"kubeconfig exec plugin {self._argv[0]}: not an ExecCredential") from exc
        if not status.get("token"):
            raise CredentialsError(f"kubeconfig exec plugin {self._argv[0]}: no status.token (client "
                                   "certificates from a plugin are not supported)")
        return str(status["token"]), _timestamp(status.get("expirationTimestamp"))


def load(kubeconfig: str | None = None) -> Credentials:
    """`kubeconfig` given: that file. Else the pod's service account, else KUBECONFIG or ~/.kube/config."""
    if kubeconfig:
        return from_kubeconfig(kubeconfig)
    found = in_cluster()
    if found is not None:
        return found
    paths = os.environ.get("KUBECONFIG") or ("~/.kube/config" if Path("~/.kube/config").expanduser().exists() else "")
    if not paths:
        raise CredentialsError("no service account (not in a pod) and no kubeconfig (KUBECONFIG, ~/.kube/config)")
    return from_kubeconfig(paths)


def in_cluster(root: Path | None = None, env: Mapping[str, str] | None = None) -> Credentials | None:
    """The pod's service account, or None outside a pod (`root` and `env`: the tests' own)."""
    root = SERVICE_ACCOUNT if root is None else root
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port or not (root / "token").exists():
        return None
    host = f"[{host}]" if ":" in host else host  # an IPv6 service address
    namespace = root / "namespace"
    return Credentials(server=f"https://{host}:{port}",
                       ca_file=str(root / "ca.crt") if (root / "ca.crt").exists() else None,
                       token=FileToken(str(root / "token")),
                       namespace=namespace.read_text().strip() if namespace.exists() else None)


def from_kubeconfig(paths: str) -> Credentials:
    """The current context of the kubeconfig files `paths` (os.pathsep-separated, the first value wins)."""
    current, named = None, {"contexts": {}, "clusters": {}, "users": {}}
    files = [Path(p.strip()).expanduser() for p in paths.split(os.pathsep) if p.strip()]
    if not any(f.exists() for f in files):  # client-go skips a missing file of several, not all of them
        raise CredentialsError(f"kubeconfig {paths}: no such file")
    for path in (f for f in files if f.exists()):
        config = yaml.safe_load(path.read_text()) or {}
        current = current or config.get("current-context")
        for section, key in (("contexts", "context"), ("clusters", "cluster"), ("users", "user")):
            for item in config.get(section) or []:
                named[section].setdefault(item["name"], (item.get(key) or {}, path.parent.resolve()))
    if not current or current not in named["contexts"]:
        raise CredentialsError(f"kubeconfig {paths}: no current context")
    context = named["contexts"][current][0]
    cluster, cluster_base = named["clusters"].get(context.get("cluster"), ({}, Path.cwd()))
    user, user_base = named["users"].get(context.get("user"), ({}, Path.cwd()))
    if not cluster.get("server"):
        raise CredentialsError(f"kubeconfig {paths}: context {current} names no cluster with a server")
    return Credentials(
        server=str(cluster["server"]).rstrip("/"),
        ca_file=_path(cluster.get("certificate-authority"), cluster_base),
        ca_data=_pem(cluster.get("certificate-authority-data")),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name"),
        cert_file=_path(user.get("client-certificate"), user_base),
        cert_data=_pem(user.get("client-certificate-data")),
        key_file=_path(user.get("client-key"), user_base),
        key_data=_pem(user.get("client-key-data")),
        token=_token(user, user_base, cluster),
        username=user.get("username"),
        password=user.get("password"),
        namespace=context.get("namespace"),
    )


def _token(user: dict[str, Any], base: Path, cluster: dict[str, Any]) -> TokenSource | None:
    if user.get("token"):
        return StaticToken(str(user["token"]))
    if user.get("tokenFile"):
        return FileToken(_path(user["tokenFile"], base) or "")
    if user.get("exec"):
        info = {"server": cluster.get("server"), "insecure-skip-tls-verify": bool(cluster.get("insecure-skip-tls-verify")),
                "certificate-authority-data": cluster.get("certificate-authority-data")}
        return _shared_exec(user["exec"], base, {k: v for k, v in info.items() if v})
    cached = ((user.get("auth-provider") or {}).get("config") or {}).get("access-token")  # what kopf also reads
    return StaticToken(str(cached)) if cached else None


def _shared_exec(spec: dict[str, Any], base: Path, cluster: dict[str, Any]) -> ExecToken:
    """One ExecToken per plugin configuration in the process, as client-go caches them: each seam has its own
    client and kopf logs in too, and `aws eks get-token` takes about a second per run."""
    key = json.dumps([spec, str(base), cluster], sort_keys=True, default=str)
    with _EXEC_LOCK:
        if key not in _EXEC_TOKENS:
            _EXEC_TOKENS[key] = ExecToken(spec, base, cluster)
        return _EXEC_TOKENS[key]


_EXEC_TOKENS: dict[str, ExecToken] = {}
_EXEC_LOCK = threading.Lock()


def _path(value: Any, base: Path) -> str | None:
    return str(base / Path(value).expanduser()) if value else None  # an absolute value replaces `base`


def _pem(value: Any) -> str | None:
    """kubeconfig's *-data fields are base64 of PEM."""
    if not value:
        return None
    text = str(value)
    return text if text.startswith("-----BEGIN ") else base64.b64decode(text).decode("ascii")


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
