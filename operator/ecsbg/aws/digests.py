"""Pin image tags to digests at the start of an attempt (an EcsReleasePolicy's `images.resolveDigests`).

ECR private images (`<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`) resolve through ECR's DescribeImages
([doc: DescribeImages, Amazon ECR API Reference]: `imageDetails[].imageDigest`), through the AWS seam with the
release's role and session; other registries through the OCI distribution API (`ecsbg.registry.oci`, injected: the
AWS layer does not speak HTTP to registries itself). A tag that cannot be resolved refuses the attempt before any
write (RequestBuildError `ImageDigestUnresolved`); throttling and 5xx stay retryable.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ecsbg.aws.calls import AwsCalls, AwsError
from ecsbg.aws.observer import client_key
from ecsbg.aws.session import ClientKey
from ecsbg.aws.translate import RequestBuildError
from ecsbg.domain.images import ImageRef, parse_image, pinned
from ecsbg.domain.model import Target

# DescribeImages errors that mean "this tag does not resolve" ([doc: DescribeImages, Amazon ECR API Reference,
# Errors]); ecsbg.aws.errors does not know ECR's codes, and these must not be retried forever.
ECR_NOT_FOUND = frozenset({"ImageNotFoundException", "RepositoryNotFoundException", "InvalidParameterException"})


@dataclass(frozen=True)
class Login:
    username: str
    password: str = field(repr=False)


class TagResolver(Protocol):
    def digest(self, ref: ImageRef, credentials: Any = None) -> str:
        """The manifest digest of `ref`; raises LookupError (ecsbg.registry.oci.RegistryError) when it cannot.
        `credentials`: an object with `username` and `password`, or None."""
        ...


class DigestResolver:
    def __init__(self, ecr: Callable[[ClientKey], AwsCalls], oci: TagResolver | None) -> None:
        self._ecr = ecr
        self._oci = oci

    def pin(self, image: str, key: ClientKey, credentials: tuple[tuple[str, str, str], ...] = ()) -> str:
        """`image` as `name@sha256:...` (unchanged when it already carries a digest). `credentials`: (registry,
        username, password) from the policy's Secrets, for registries other than ECR."""
        ref = parse_image(image)
        if ref.digest:
            return image
        if ref.ecr:
            return pinned(image, self._ecr_digest(ref, key))
        creds = next((Login(user, password) for host, user, password in credentials if host == ref.registry), None)
        return pinned(image, self._registry_digest(ref, creds))

    def _ecr_digest(self, ref: ImageRef, key: ClientKey) -> str:
        assert ref.ecr is not None
        account, region = ref.ecr
        calls = self._ecr(replace(key, region=region))
        try:
            details = calls.call("DescribeImages", registryId=account, repositoryName=ref.repository,
                                 imageIds=[{"imageTag": ref.tag or "latest"}]).get("imageDetails") or []
        except AwsError as exc:
            if not exc.problem.terminal and exc.problem.code not in ECR_NOT_FOUND:
                raise
            raise RequestBuildError("ImageDigestUnresolved", f"{ref.name}:{ref.tag}: {exc.problem.code}: "
                                    f"{exc.problem.message}") from exc
        if not details or not details[0].get("imageDigest"):
            raise RequestBuildError("ImageDigestUnresolved", f"{ref.name}:{ref.tag}: ECR returned no digest")
        return str(details[0]["imageDigest"])

    def _registry_digest(self, ref: ImageRef, creds: Login | None) -> str:
        if self._oci is None:
            raise RequestBuildError("ImageDigestUnresolved", f"{ref.name}:{ref.tag}: no registry client configured")
        try:
            return self._oci.digest(ref, creds)
        except LookupError as exc:
            raise RequestBuildError("ImageDigestUnresolved", str(exc)) from exc


class ImageDigests(Protocol):
    """The release waves' seam to image registries (ecsbg.pinning; the fake: tests/fakes/digests.py)."""

    async def digest(self, image: str, target: Target, credentials: tuple[tuple[str, str, str], ...] = ()) -> str:
        """The `sha256:...` digest `image`'s tag names now, looked up as a release of `target` would (its role and
        session; ECR in the registry's own region). Raises LookupError when it cannot be resolved (no such tag,
        access denied, registry unreachable); any other error is transient (throttling, 5xx): try again later."""
        ...


class AsyncDigests:
    """ImageDigests through DigestResolver, run on the AWS layer's worker threads (boto3 and urllib block)."""

    def __init__(self, resolver: DigestResolver, run: Callable[[Callable[[], Any]], Awaitable[Any]]) -> None:
        self._resolver = resolver
        self._run = run

    async def digest(self, image: str, target: Target, credentials: tuple[tuple[str, str, str], ...] = ()) -> str:
        try:
            found = await self._run(functools.partial(self._resolver.pin, image, client_key(target), credentials))
        except RequestBuildError as exc:
            raise LookupError(str(exc)) from exc
        return str(found).partition("@")[2]
