"""One request to an AWS neighbour the emulator writes to as ECS would (ELBv2 rules and targets, the SQS queue
of EventBridge's ECS events), in that service's query protocol with the stdlib: the emulators import neither boto3
nor botocore. The Authorization header is unsigned; its credential scope names the Region, which is all moto's
server reads from it. A failing call is logged and dropped: the neighbour is not the emulator."""

from __future__ import annotations

import logging
import urllib.parse
import urllib.request

logger = logging.getLogger(__name__)


def post(url: str, params: dict[str, str], *, region: str, service: str, timeout: float) -> None:
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(params).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": f"AWS4-HMAC-SHA256 Credential=emulator/20260101/{region}/{service}/aws4_request, "
                                  "SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except OSError as exc:  # URLError and HTTPError are OSErrors
        logger.warning("%s %s to %s failed: %s", service, params.get("Action"), url, exc)
