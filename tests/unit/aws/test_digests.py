"""aws.digests.AsyncDigests, the release waves' registry seam: the digest DigestResolver pins, as the target's
identity in the registry's region; what cannot resolve is a LookupError, what may pass (throttling) is not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ecsbg.aws.calls import AwsError
from ecsbg.aws.digests import AsyncDigests, DigestResolver
from ecsbg.aws.session import ClientKey
from ecsbg.domain.model import Target
from ecsbg.domain.observation import AwsProblem
from ecsbg.registry.oci import RegistryError

DIGEST = "sha256:" + "a" * 64
ECR = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:2"
ROLE = "arn:aws:iam::111122223333:role/deployer"


class Ecr:
    def __init__(self, answer: Any) -> None:
        self.answer, self.keys = answer, []

    def __call__(self, key: ClientKey) -> Ecr:
        self.keys.append(key)
        return self

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return {"imageDetails": [{"imageDigest": self.answer}]}


class Oci:
    def digest(self, ref: Any, credentials: Any = None) -> str:
        raise RegistryError(f"{ref.name}:{ref.tag}: registry unreachable: connection refused")


async def _run(fn: Any) -> Any:
    return fn()


def _digests(ecr: Ecr) -> AsyncDigests:
    return AsyncDigests(DigestResolver(ecr, Oci()), _run)


def test_an_ecr_tag_resolves_as_the_target_in_the_registrys_region():
    ecr = Ecr(DIGEST)
    found = asyncio.run(_digests(ecr).digest(ECR, Target("us-east-1", "demo", "web", role_arn=ROLE)))
    assert found == DIGEST and [(k.region, k.role_arn) for k in ecr.keys] == [("eu-west-1", ROLE)]


@pytest.mark.parametrize("image, answer", [
    (ECR, AwsError(AwsProblem("ImageNotFoundException", "no tag 2", terminal=False, operation="DescribeImages"))),
    (ECR, AwsError(AwsProblem("AccessDeniedException", "not allowed", terminal=True, operation="DescribeImages"))),
    ("registry.example/web:2", DIGEST),  # the OCI registry cannot be reached
])
def test_what_cannot_resolve_is_a_lookup_error(image, answer):
    with pytest.raises(LookupError):
        asyncio.run(_digests(Ecr(answer)).digest(image, Target("us-east-1", "demo", "web")))


def test_throttling_is_not_a_lookup_error_so_the_wave_retries():
    throttled = AwsError(AwsProblem("ThrottlingException", "slow down", terminal=False, operation="DescribeImages"))
    with pytest.raises(AwsError):
        asyncio.run(_digests(Ecr(throttled)).digest(ECR, Target("us-east-1", "demo", "web")))
