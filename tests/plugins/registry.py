"""A real OCI registry for tests: Debian's `docker-registry` (the CNCF distribution registry) on a loopback port.

Images are pushed over the distribution HTTP API (no Docker needed): blobs by monolithic upload, then the manifest
under a tag; pushing another manifest under the same tag moves it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    def __init__(self, host: str) -> None:
        self.host = host  # e.g. 127.0.0.1:5123: the registry part of image references

    def _request(self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> object:
        request = urllib.request.Request(url if url.startswith("http") else f"http://{self.host}{url}",
                                         data=body if method in ("POST", "PUT") else None, method=method,
                                         headers=headers or {})
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


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("docker-registry is not installed (`make tools` installs Debian's package)")
    root: Path = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(f"version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {root}/data}}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
                break
            except OSError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read() if process.stderr else ""
                    raise RuntimeError(f"docker-registry did not start: {error!r}") from exc
                time.sleep(0.1)
        yield Registry(f"127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)
