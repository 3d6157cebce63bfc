"""Who is calling and where: the (account, region) partition of an ECS request.

Region: the SigV4 credential scope of the `Authorization` header (`Credential=<key>/<date>/<region>/ecs/aws4_request`)
[doc: "Elements of an AWS API request signature", AWS General Reference]. A real endpoint is regional
(`ecs.<region>.amazonaws.com`, [doc: "Amazon Elastic Container Service endpoints and quotas"]) and refuses a
signature scoped to another region; when the `Host` header names a region (the emulator reached through such a
name), a scope for another region is answered `InvalidSignatureException` the same way. A request without a
signature is refused with `MissingAuthenticationTokenException`, as AWS refuses it.

Account (moto's rule for access keys, [moto docs: "Multi-Account support"], plus LocalStack's 12-digit shortcut):
1. an access key ID of exactly 12 digits is that account ID [LocalStack docs: "Multi-account setups"];
2. an AWS-format key ID (`AKIA`/`ASIA` + 16 base32 characters) issued in the current format carries its account
   ID, which `sts:GetAccessKeyInfo` returns [doc: GetAccessKeyInfo, AWS STS API Reference]; moto's STS
   `AssumeRole` mints keys in that format for the role's account (moto `generate_access_key_id_from_account_id`),
   so a client using an assumed-role session lands in the role's account;
3. anything else ("testing", older key formats) is the default account 123456789012, moto's default.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from .errors import EcsError
from .model import DEFAULT_ACCOUNT

# The commercial `aws` partition regions in which botocore 1.44.5's endpoint data lists ECS.
AWS_REGIONS: frozenset[str] = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1",
    "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1",
    "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
})

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/ecs/aws4_request")
_HOST = re.compile(r"^ecs(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?(?::\d+)?$")
_AWS_KEY = re.compile(r"^A[SK]IA[A-Z2-7]{16}$")
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ACCOUNT_OFFSET = 1 << 39  # the marker bit of key IDs that carry an account (first base32 character >= "Q")


@dataclass(frozen=True)
class Caller:
    access_key_id: str
    account: str
    region: str


def caller(authorization: str | None, host: str | None) -> Caller:
    if not authorization:
        raise EcsError("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _SCOPE.search(authorization)
    if match is None:
        raise EcsError("IncompleteSignatureException",
                       "Authorization header requires a SigV4 Credential scope <key>/<date>/<region>/ecs/aws4_request.")
    key, region = match.groups()
    endpoint = _HOST.match(host or "")
    if endpoint is not None and endpoint.group(1) != region:
        raise EcsError("InvalidSignatureException",
                       f"Credential should be scoped to a valid region, not '{region}'.")
    return Caller(access_key_id=key, account=account_of(key), region=region)


def account_of(access_key_id: str) -> str:
    if re.fullmatch(r"\d{12}", access_key_id):
        return access_key_id
    if _AWS_KEY.match(access_key_id) and _B32.index(access_key_id[4]) >= 16:
        # 8 base32 characters = 40 bits: the marker bit, then the account ID without its last bit; the next
        # character's high bit is that last bit (the layout GetAccessKeyInfo decodes and moto encodes)
        high = int.from_bytes(base64.b32decode(access_key_id[4:12]), "big") - _ACCOUNT_OFFSET
        low = 1 if _B32.index(access_key_id[12]) >= 16 else 0
        return f"{high * 2 + low:012d}"
    return DEFAULT_ACCOUNT
