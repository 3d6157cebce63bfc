"""ECS events delivered through EventBridge -> SQS: which services they are about (pure).

An EventBridge rule on `source: aws.ecs` with an SQS target delivers each event as the message body, the event
JSON itself ([doc: Amazon EventBridge targets, Amazon SQS]). ECS service events name the service in `resources`
("ECS Deployment State Change": `resources: [service ARN]` [doc: Amazon ECS service deployment state change
events]; "ECS Service Action" likewise). The operator does not trust an event's content beyond that: it only
wakes the releases of the service, which then read ECS as on any poll.
"""

from __future__ import annotations

import json
from typing import Any

ServiceKey = tuple[str, str, str]  # (region, cluster name, service name), as domain.ownership.target_key


def services_of(body: str) -> tuple[ServiceKey, ...] | None:
    """The services an event names; None when the message is not an ECS event at all (counted, then dropped)."""
    try:
        event = json.loads(body)
    except (TypeError, ValueError):
        return None
    if not isinstance(event, dict) or event.get("source") != "aws.ecs":
        return None
    found: list[ServiceKey] = []
    for arn in event.get("resources") or []:
        key = service_key(arn) if isinstance(arn, str) else None
        if key is not None and key not in found:
            found.append(key)
    return tuple(found)


def service_key(arn: str) -> ServiceKey | None:
    """arn:aws:ecs:<region>:<account>:service/<cluster>/<service> (the long ARN format; the short one,
    service/<service>, names no cluster and matches nothing)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "ecs":
        return None
    path = parts[5].split("/")
    if len(path) != 3 or path[0] != "service" or not all(path[1:]):
        return None
    return parts[3], path[1], path[2]


def event(service_arn: str, name: str = "SERVICE_DEPLOYMENT_COMPLETED", deployment_id: str = "ecs-svc/1") -> str:
    """An "ECS Deployment State Change" event body, as EventBridge delivers it (tests, the emulator docs)."""
    region, account = service_arn.split(":")[3:5]
    payload: dict[str, Any] = {
        "version": "0", "id": "00000000-0000-0000-0000-000000000000", "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs", "account": account, "time": "2026-01-01T00:00:00Z", "region": region,
        "resources": [service_arn],
        "detail": {"eventType": "INFO", "eventName": name, "deploymentId": deployment_id,
                   "updatedAt": "2026-01-01T00:00:00Z", "reason": ""}}
    return json.dumps(payload)
