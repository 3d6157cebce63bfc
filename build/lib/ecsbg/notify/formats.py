"""The request bodies of each provider type, built from one `status.notifications` entry and its delivery.

Each follows the service's own documented incoming-webhook format (docs/design.md "Notifications" says why these
few dicts are written here instead of pulling in a notification library):
- slack: incoming webhooks take `text` (also the fallback shown in notifications) and optional `blocks`
  (https://api.slack.com/messaging/webhooks, https://api.slack.com/reference/block-kit/blocks);
- msteams: a Teams Workflows webhook ("When a Teams webhook request is received") takes a message with one
  Adaptive Card attachment (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/
  how-to/connectors-using); Office 365 connectors' MessageCard is retired;
- discord: execute-webhook takes `content` (at most 2000 characters) and `embeds` with up to 25 `fields`
  (https://discord.com/developers/docs/resources/webhook#execute-webhook);
- webhook: the operator's own versioned JSON, `ecsbg.dev/notification/v1` (docs/observability.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecsbg.domain.notifications import SCHEMA_VERSION

TYPES = ("slack", "msteams", "discord", "webhook")
_COLOURS = {"success": 0x2EB67D, "info": 0x36C5F0, "warning": 0xECB22E, "error": 0xE01E5A}


def payload(kind: str, entry: Mapping[str, Any], message: str, *, namespace: str, name: str) -> dict[str, Any]:
    if kind not in TYPES:
        raise ValueError(f"unknown provider type {kind!r} (one of {', '.join(TYPES)})")
    facts = [(str(f.get("name")), str(f.get("value"))) for f in entry.get("facts") or [] if isinstance(f, Mapping)]
    return {"slack": _slack, "msteams": _teams, "discord": _discord, "webhook": _webhook}[kind](
        entry, message, facts, namespace, name)


def _slack(entry: Mapping[str, Any], message: str, facts: list[tuple[str, str]], ns: str, name: str) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": message[:3000]}}]
    if facts:  # a section holds at most 10 fields of 2000 characters
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]}
                                                     for k, v in facts[:10]]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"ecsbg · {ns}/{name} · attempt "
                                                    f"{entry.get('attempt')} · {entry.get('trigger')}"}]})
    return {"text": message, "blocks": blocks}


def _teams(entry: Mapping[str, Any], message: str, facts: list[tuple[str, str]], ns: str, name: str) -> dict[str, Any]:
    colour = {"success": "Good", "error": "Attention", "warning": "Warning"}.get(str(entry.get("severity")), "Default")
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"{ns}/{name}: {entry.get('trigger')}", "weight": "Bolder", "size": "Medium",
         "color": colour, "wrap": True},
        {"type": "TextBlock", "text": message, "wrap": True},
    ]
    if facts:
        body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def _discord(entry: Mapping[str, Any], message: str, facts: list[tuple[str, str]], ns: str,
             name: str) -> dict[str, Any]:
    embed = {"title": f"{ns}/{name}: {entry.get('trigger')}"[:256], "description": str(entry.get("summary"))[:4096],
             "color": _COLOURS.get(str(entry.get("severity")), _COLOURS["info"]),
             "fields": [{"name": k[:256], "value": (v or "-")[:1024], "inline": False} for k, v in facts[:25]]}
    return {"content": message[:2000], "embeds": [embed], "allowed_mentions": {"parse": []}}


def _webhook(entry: Mapping[str, Any], message: str, facts: list[tuple[str, str]], ns: str,
             name: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "id": f"{ns}/{name}/{entry.get('id')}",  # the same for every try and after restarts: receivers dedup on it
        "trigger": entry.get("trigger"),
        "severity": entry.get("severity"),
        "release": {"namespace": ns, "name": name},
        "attempt": entry.get("attempt"),
        "reason": entry.get("reason"),
        "summary": entry.get("summary"),
        "message": message,
        "facts": dict(facts),
        "occurredAt": entry.get("at"),
    }
