"""A real OCI registry for tests: Debian's `docker-registry` (the CNCF distribution registry) on a loopback port.

Images are pushed over the distribution HTTP API (no Docker needed): blobs by monolithic upload, then the manifest
under a tag; pushing another manifest under the same tag moves it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    def __init__(self, host: str, login: tuple[str, str] | None = None) -> None:
        self.host = host  # e.g. 127.0.0.1:5123: the registry part of image references
        self.login = login  # (username, password) of a registry started with htpasswd auth

    def _request(self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> object:
        headers = dict(headers or {})
        if self.login is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(self.login).encode()).decode()
        request = urllib.request.Request(url if url.startswith("http") else f"http://{self.host}{url}",
                                         data=body if method in ("POST", "PUT") else None, method=method,
                                         headers=headers)
        return urllib.request.urlopen(request, timeout=10)

    def _blob(self, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with self._request("POST", f"/v2/{repository}/blobs/uploads/") as response:  # type: ignore[attr-defined]
            location = response.headers["Location"]
        if not location.startswith("http"):
            location = f"http://{self.host}{location}"
        sep = "&" if "?" in location else "?"
        with self._request("PUT", f"{location}{sep}digest={digest}", data,
                           {"Content-Type": "application/octet-stream"}):
            pass
        return digest

    def push(self, repository: str, tag: str, content: str) -> str:
        """Push a one-layer image whose layer holds `content` under `tag`; return the manifest digest."""
        layer = content.encode()
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
            "type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                       "digest": self._blob(repository, config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": len(layer),
                        "digest": self._blob(repository, layer)}],
        }).encode()
        with self._request("PUT", f"/v2/{repository}/manifests/{tag}", manifest,
                           {"Content-Type": OCI_MANIFEST}) as response:  # type: ignore[attr-defined]
            return str(response.headers["Docker-Content-Digest"])


def _serve(root: Path, auth: str = "") -> Iterator[str]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("docker-registry is not installed (`make tools` installs Debian's package)")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(f"version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {root}/data}}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n{auth}")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except urllib.error.HTTPError:  # 401: up, and asking for credentials
                break
            except OSError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read() if process.stderr else ""
                    raise RuntimeError(f"docker-registry did not start: {error!r}") from exc
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    for host in _serve(tmp_path_factory.mktemp("registry")):
        yield Registry(host)


@pytest.fixture(scope="session")
def oci_registry_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The same registry with htpasswd (basic) authentication: every request needs the login."""
    with warnings.catch_warnings():  # the crypt module (bcrypt through libxcrypt) is deprecated, still in 3.11
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    root = tmp_path_factory.mktemp("registry-auth")
    login = ("ci-user", uuid.uuid4().hex)
    (root / "htpasswd").write_text(f"{login[0]}:{crypt.crypt(login[1], crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")
    auth = f"auth:\n  htpasswd: {{realm: ecsbg-tests, path: {root}/htpasswd}}\n"
    for host in _serve(root, auth):
        yield Registry(host, login)
