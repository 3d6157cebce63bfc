"""Resolve an image tag to its manifest digest through the OCI distribution API.

`HEAD /v2/<repository>/manifests/<tag>` with the manifest media types in `Accept`; the registry answers the digest
in `Docker-Content-Digest` (OCI distribution-spec "Pulling manifests"; the digest of an index for multi-platform
images, which is what ECS pulls by). A `401` with `WWW-Authenticate: Bearer realm=...,service=...,scope=...` is
answered by fetching a token from the realm (anonymously, or with basic credentials) and retrying once (the
distribution "Token Authentication Specification"). Docker Hub's `docker.io` is served at `registry-1.docker.io`.
Loopback registries (`localhost`, `127.*`) are spoken to over plain HTTP, as Docker treats them as insecure by
default; every other registry over HTTPS.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from ecsbg.domain.images import ImageRef

ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(LookupError):
    """The tag cannot be resolved (unknown, unauthorised, registry unreachable): the attempt is refused."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


class OciResolver:
    def __init__(self, *, timeout: float = 10.0) -> None:
        self._timeout = timeout

    def digest(self, ref: ImageRef, credentials: Credentials | None = None) -> str:
        if ref.digest:
            return ref.digest
        url = f"{_base(ref.registry)}/v2/{ref.repository}/manifests/{ref.tag or 'latest'}"
        try:
            return self._head(url, None)
        except urllib.error.HTTPError as exc:
            if exc.code != 401:
                raise RegistryError(f"{ref.name}:{ref.tag}: {exc.code} {exc.reason}") from exc
            authorization = self._authorization(ref, exc.headers.get("WWW-Authenticate") or "", credentials)
            try:
                return self._head(url, authorization)
            except urllib.error.HTTPError as again:
                raise RegistryError(f"{ref.name}:{ref.tag}: {again.code} {again.reason}") from again
        except (urllib.error.URLError, OSError) as exc:
            raise RegistryError(f"{ref.name}:{ref.tag}: registry unreachable: {exc}") from exc

    def _head(self, url: str, authorization: str | None) -> str:
        request = urllib.request.Request(url, method="HEAD", headers={"Accept": ACCEPT})
        if authorization:
            request.add_header("Authorization", authorization)
        with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 (http(s) only)
            digest = response.headers.get("Docker-Content-Digest")
        if not digest or not digest.startswith("sha256:"):
            raise RegistryError(f"{url}: the registry answered no sha256 Docker-Content-Digest")
        return digest

    def _authorization(self, ref: ImageRef, challenge: str, creds: Credentials | None) -> str:
        """The Authorization header answering a 401's challenge: Basic with the credentials, or a Bearer token."""
        scheme = challenge.partition(" ")[0].lower()
        if scheme == "basic":
            if creds is None:
                raise RegistryError(f"{ref.name}:{ref.tag}: the registry asks for credentials and the policy gives "
                                    "none (images.registryCredentials)")
            return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        return f"Bearer {self._token(ref, challenge, creds)}"

    def _token(self, ref: ImageRef, challenge: str, creds: Credentials | None) -> str:
        scheme, _, params = challenge.partition(" ")
        fields = dict(_CHALLENGE.findall(params))
        if scheme.lower() != "bearer" or "realm" not in fields:
            raise RegistryError(f"{ref.name}: unsupported authentication challenge {scheme!r}")
        query = {k: v for k, v in fields.items() if k in ("service", "scope")}
        query.setdefault("scope", f"repository:{ref.repository}:pull")
        request = urllib.request.Request(f"{fields['realm']}?{urllib.parse.urlencode(query)}")
        if creds is not None:
            basic = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {basic}")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                body = json.loads(response.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RegistryError(f"{ref.name}: token request failed: {exc}") from exc
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"{ref.name}: the token endpoint returned no token")
        return str(token)


def _base(registry: str) -> str:
    if registry == "docker.io":
        return "https://registry-1.docker.io"
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    return f"http://{registry}" if host == "localhost" or host.startswith("127.") else f"https://{registry}"
