"""Notifications: which status transitions people hear about, who subscribed, and what was delivered.

Pure (docs/notifications section of docs/observability.md). A notification is about a transition already recorded
in status: `intents(prior, new)` names each transition once, with a stable id ("<attempt>/<trigger>[/<detail>]").
`record()` turns the intents a release subscribed to into `status.notifications` entries, written in the same
status patch as the transition itself, so an operator restart can neither lose one (a Pending delivery is sent
after the restart) nor send one twice (an id already recorded is never recorded again).
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ecsbg.domain import shape
from ecsbg.domain.analysis.model import Verdict
from ecsbg.domain.model import Phase, ReleaseStatus

ATTEMPT_STARTED, AWAITING_APPROVAL, ANALYSIS_VERDICT = "AttemptStarted", "AwaitingApproval", "AnalysisVerdict"
SUCCEEDED, ROLLED_BACK, ABORTED, FAILED, DRIFTED = "Succeeded", "RolledBack", "Aborted", "Failed", "Drifted"
TRIGGERS: tuple[str, ...] = (ATTEMPT_STARTED, AWAITING_APPROVAL, ANALYSIS_VERDICT, SUCCEEDED, ROLLED_BACK, ABORTED,
                             FAILED, DRIFTED)
# why ECS rolled an attempt back (RolledBack), or which request stopped it (Aborted)
ROLLBACK_REASONS = ("hook", "alarm", "circuitBreaker", "analysis", "ecs")
ABORT_REASONS = ("abort", "reject")
SEVERITY = {ATTEMPT_STARTED: "info", AWAITING_APPROVAL: "warning", ANALYSIS_VERDICT: "info", SUCCEEDED: "success",
            ROLLED_BACK: "error", ABORTED: "warning", FAILED: "error", DRIFTED: "warning"}

PROVIDER_KIND, CLUSTER_PROVIDER_KIND = "EcsNotificationProvider", "ClusterEcsNotificationProvider"
# annotation form, for people who may annotate a release but not edit its spec (value: triggers, comma-separated)
ANNOTATION_PREFIXES = {"ecsbg.dev/notify.": PROVIDER_KIND, "ecsbg.dev/notify-cluster.": CLUSTER_PROVIDER_KIND}
ALL = "*"

PENDING, DELIVERED, FAILED_DELIVERY = "Pending", "Delivered", "Failed"
MAX_FINISHED_RECORDS = 20  # status.notifications keeps every pending entry and the last 20 finished ones
SCHEMA_VERSION = "ecsbg.dev/notification/v1"  # the generic webhook's JSON (docs/observability.md)


@dataclass(frozen=True)
class Intent:
    """One transition worth telling people about. `facts` are ordered (label, value) pairs for message bodies."""

    id: str
    trigger: str
    attempt: int
    summary: str
    facts: tuple[tuple[str, str], ...] = ()
    reason: str | None = None  # RolledBack: ROLLBACK_REASONS; Aborted: ABORT_REASONS; AnalysisVerdict: the verdict

    @property
    def severity(self) -> str:
        return "error" if self.trigger == ANALYSIS_VERDICT and self.reason != "Successful" else SEVERITY[self.trigger]


@dataclass(frozen=True)
class Subscription:
    kind: str  # PROVIDER_KIND | CLUSTER_PROVIDER_KIND
    name: str
    triggers: frozenset[str]
    template: str | None = None

    @property
    def provider(self) -> str:
        return f"{self.kind}/{self.name}"


# --------------------------------------------------------------------------------------------- transitions


def intents(prior: ReleaseStatus, new: ReleaseStatus, *, namespace: str, name: str) -> list[Intent]:
    """The notification intents of one status transition (none when nothing a person cares about changed)."""
    n = new.attempt
    out: list[Intent] = []
    if n > prior.attempt:
        out.append(Intent(f"{n}/{ATTEMPT_STARTED}", ATTEMPT_STARTED, n, f"attempt {n} started for spec "
                          f"{new.spec_hash}", (("spec", str(new.spec_hash)),)))
    out += _awaiting(prior, new, namespace, name) + _verdicts(prior, new)
    if new.phase != prior.phase or n != prior.attempt:
        out += _ended(new)
    if new.drift and new.drift != prior.drift:
        digest = hashlib.sha256("|".join(d.describe() for d in new.drift).encode()).hexdigest()[:8]
        out.append(Intent(f"{n}/{DRIFTED}/{digest}", DRIFTED, n, f"ECS no longer runs what attempt {n} deployed",
                          tuple((d.field + (f"[{d.key}]" if d.key else ""), f"ECS has {d.running}, the release "
                                 f"deployed {d.expected}") for d in new.drift)))
    return out


def _awaiting(prior: ReleaseStatus, new: ReleaseStatus, namespace: str, name: str) -> list[Intent]:
    """One intent per Pause hook that starts waiting (Linear/Canary pause at every step: one each)."""
    waiting_before = {h.hook_id for h in prior.hooks if h.status == "AWAITING_ACTION"} \
        if prior.attempt == new.attempt else set()
    n, out = new.attempt, []
    for hook in new.hooks:
        if hook.status != "AWAITING_ACTION" or hook.target_type != "PAUSE" or hook.hook_id in waiting_before:
            continue
        where = hook.stage or new.stage or "?"
        if hook.step is not None:
            where += f", step {hook.step.number} of {hook.step.count} ({hook.step.traffic_percent:g}%)"
        expires = hook.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if hook.expires_at else "unknown"
        then = "roll back" if (hook.timeout_action or "ROLLBACK") == "ROLLBACK" else "continue"
        target = f"ecsreleases/{name} -n {namespace}"
        facts = (("stage", where), ("hook", hook.hook_id), ("expires", expires), ("on expiry", f"ECS will {then}"),
                 ("approve", f"kubectl ecsrelease approve {name} -n {namespace} --attempt {n}"),
                 ("reject", f"kubectl ecsrelease reject {name} -n {namespace} --attempt {n}"),
                 ("approve (annotation)", f"kubectl annotate {target} ecsbg.dev/approve={n} --overwrite"),
                 ("reject (annotation)", f"kubectl annotate {target} ecsbg.dev/reject={n} --overwrite"))
        out.append(Intent(f"{n}/{AWAITING_APPROVAL}/{hook.hook_id}", AWAITING_APPROVAL, n,
                          f"attempt {n} awaits approval at {where} until {expires} (then ECS will {then})", facts))
    return out


def _verdicts(prior: ReleaseStatus, new: ReleaseStatus) -> list[Intent]:
    before = {r.key: r.phase for r in prior.analysis_runs}
    out = []
    for run in new.analysis_runs:
        if run.phase == Verdict.RUNNING or before.get(run.key) == run.phase:
            continue
        place = run.stage or ("BAKE_TIME" if run.hook_id is None else "?")
        facts = (("template", run.template), ("stage", place), ("verdict", run.phase.value),
                 ("message", run.message or ""), ("action", run.action or "none"))
        out.append(Intent(f"{run.attempt}/{ANALYSIS_VERDICT}/{run.hook_id or 'bake'}", ANALYSIS_VERDICT, run.attempt,
                          f"attempt {run.attempt}: analysis {run.template} at {place}: {run.phase.value}",
                          facts, run.phase.value))
    return out


def _ended(new: ReleaseStatus) -> list[Intent]:
    n, phase = new.attempt, new.phase
    facts = (("message", new.message),) + ((("revision", new.revision),) if new.revision else ())
    if phase == Phase.SUCCEEDED:
        return [Intent(f"{n}/{SUCCEEDED}", SUCCEEDED, n, f"attempt {n} succeeded", facts)]
    if phase == Phase.FAILED:
        return [Intent(f"{n}/{FAILED}", FAILED, n, f"attempt {n} failed", facts)]
    if phase != Phase.ROLLED_BACK:
        return []
    requested = {kind for kind in ABORT_REASONS if new.requests.get(kind) == n}
    if requested:
        reason = "reject" if "reject" in requested else "abort"
        return [Intent(f"{n}/{ABORTED}", ABORTED, n, f"attempt {n} was stopped by a {reason} request and rolled "
                       "back", facts, reason)]
    reason = rollback_reason(new)
    return [Intent(f"{n}/{ROLLED_BACK}", ROLLED_BACK, n, f"attempt {n} was rolled back by ECS (reason: {reason})",
                   (("reason", reason), *facts), reason)]


def rollback_reason(status: ReleaseStatus) -> str:
    """Why ECS rolled the attempt back, from what status recorded: an analysis that sent the rollback, a hook that
    failed or timed out, or the words of ECS's rollback reason (alarm, circuit breaker)."""
    n = status.attempt
    if any(r.attempt == n and r.action in ("ROLLBACK", "STOP_ROLLBACK") for r in status.analysis_runs):
        return "analysis"
    said = " ".join(filter(None, (status.deployment.rollback_reason, status.deployment.status_reason))) \
        if status.deployment else ""
    said = said.lower()
    if "circuit breaker" in said or "circuit_breaker" in said:
        return "circuitBreaker"
    if "alarm" in said:
        return "alarm"
    if "hook" in said or any(h.status in ("FAILED", "TIMED_OUT") for h in status.hooks):
        return "hook"
    return "ecs"


# ------------------------------------------------------------------------------------------- subscriptions


def subscriptions(body: Mapping[str, Any]) -> tuple[list[Subscription], list[str]]:
    """`spec.notifications[]` and the `ecsbg.dev/notify.<provider>` annotations, merged per provider (triggers
    united). Returns the problems found (an unknown trigger, an entry without a provider): they are reported,
    the rest still applies."""
    found: dict[tuple[str, str], Subscription] = {}
    problems: list[str] = []
    entries = shape.child(body, "spec").get("notifications")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        where = f"spec.notifications[{index}]"
        ref = shape.child(entry, "providerRef") if isinstance(entry, Mapping) else {}
        kind, name = shape.text(ref.get("kind")) or PROVIDER_KIND, shape.text(ref.get("name"))
        if not name or kind not in (PROVIDER_KIND, CLUSTER_PROVIDER_KIND):
            problems.append(f"{where}: providerRef needs a name and kind {PROVIDER_KIND} or {CLUSTER_PROVIDER_KIND}")
            continue
        raw = entry.get("triggers") if isinstance(entry, Mapping) else None
        triggers = _triggers(raw if isinstance(raw, list) else [], where, problems)
        template = shape.text(entry.get("template")) or None
        _merge(found, Subscription(kind, name, triggers, template))
    annotations = shape.child(body, "metadata", "annotations")
    for key, value in sorted(annotations.items()):
        for prefix, kind in ANNOTATION_PREFIXES.items():
            if str(key).startswith(prefix) and str(key)[len(prefix):]:
                triggers = _triggers(str(value).split(","), f"annotation {key}", problems)
                _merge(found, Subscription(kind, str(key)[len(prefix):], triggers))
    return [s for s in found.values() if s.triggers], problems


def _triggers(raw: Iterable[Any], where: str, problems: list[str]) -> frozenset[str]:
    names = {str(t).strip() for t in raw if str(t).strip()}
    if ALL in names:
        return frozenset(TRIGGERS)
    unknown = sorted(names - set(TRIGGERS))
    if unknown:
        problems.append(f"{where}: unknown trigger(s) {', '.join(unknown)} (known: {', '.join(TRIGGERS)}, or *)")
    return frozenset(names & set(TRIGGERS))


def _merge(found: dict[tuple[str, str], Subscription], sub: Subscription) -> None:
    key = (sub.kind, sub.name)
    before = found.get(key)
    if before is None:
        found[key] = sub
    else:
        found[key] = Subscription(sub.kind, sub.name, before.triggers | sub.triggers, before.template or sub.template)


# ---------------------------------------------------------------------------------------------- messages


def render(intent: Intent, *, namespace: str, name: str, template: str | None = None) -> str:
    """The message text: the subscription's template (`${name}` placeholders, docs/observability.md) or the
    default. An unknown placeholder stays as written, so a typo shows in the message instead of failing it."""
    default = f"{namespace}/{name}: {intent.summary}"
    if intent.trigger == AWAITING_APPROVAL:  # the exact commands, in the text people read first
        facts = dict(intent.facts)
        default += f"\napprove: {facts.get('approve')}\nreject: {facts.get('reject')}"
    if not template:
        return default
    values = {"namespace": namespace, "name": name, "release": f"{namespace}/{name}", "trigger": intent.trigger,
              "attempt": str(intent.attempt), "summary": intent.summary, "reason": intent.reason or "",
              "severity": intent.severity, "default": default}
    values.update({_placeholder(label): value for label, value in intent.facts})
    return string.Template(template).safe_substitute(values)


def _placeholder(label: str) -> str:
    """"approve (annotation)" -> approveAnnotation: the facts as template placeholders."""
    words = re.findall(r"[A-Za-z0-9]+", label)
    return words[0].lower() + "".join(w.capitalize() for w in words[1:]) if words else "_"


# ---------------------------------------------------------------------------------- status.notifications


@dataclass(frozen=True)
class Result:
    """What the delivery worker reports for one (record id, provider): Delivered or Failed, after `tries`."""

    state: str
    tries: int
    error: str | None = None


def record(prior: Sequence[Any] | None, new_intents: Sequence[Intent], subs: Sequence[Subscription], now: datetime,
           *, namespace: str, name: str) -> list[dict[str, Any]]:
    """Append one entry per intent some subscription wants (ids already recorded are skipped: a transition is
    notified once), each delivery Pending with the rendered message, so the sender needs nothing else."""
    entries = [dict(e) for e in (prior or []) if isinstance(e, Mapping) and e.get("id")]
    known = {e["id"] for e in entries}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    for intent in new_intents:
        wanted = [s for s in subs if intent.trigger in s.triggers]
        if intent.id in known or not wanted:
            continue
        known.add(intent.id)
        entries.append({
            "id": intent.id, "trigger": intent.trigger, "attempt": intent.attempt, "at": stamp,
            "summary": intent.summary, "severity": intent.severity, "reason": intent.reason,
            "facts": [{"name": k, "value": v} for k, v in intent.facts],
            "deliveries": [{"provider": s.provider, "state": PENDING, "tries": 0,
                            "message": render(intent, namespace=namespace, name=name, template=s.template)}
                           for s in wanted],
        })
    return _bounded(entries)


def apply_results(entries: Sequence[Mapping[str, Any]], results: Mapping[tuple[str, str], Result]) -> list[dict[str, Any]]:
    """Fold delivery results (keyed by (record id, provider)) into the entries. A finished delivery keeps no
    message body, only its outcome: status stays small."""
    out = []
    for entry in entries:
        deliveries = []
        for delivery in entry.get("deliveries") or []:
            result = results.get((str(entry.get("id")), str(delivery.get("provider"))))
            if result is not None and delivery.get("state") == PENDING:
                delivery = {"provider": delivery.get("provider"), "state": result.state, "tries": result.tries,
                            **({"error": result.error} if result.error else {})}
            deliveries.append(dict(delivery))
        done = all(d.get("state") != PENDING for d in deliveries)
        out.append({k: v for k, v in entry.items() if not (done and k == "facts")} | {"deliveries": deliveries})
    return _bounded(out)


def pending(entries: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(entry, delivery) pairs still to send."""
    return [(e, d) for e in entries for d in e.get("deliveries") or [] if d.get("state") == PENDING]


def _bounded(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def finished(entry: Mapping[str, Any]) -> bool:
        return all(d.get("state") != PENDING for d in entry.get("deliveries") or [])

    done = [e for e in entries if finished(e)]
    drop = {id(e) for e in done[:max(0, len(done) - MAX_FINISHED_RECORDS)]}
    return [{k: v for k, v in e.items() if v is not None} for e in entries if id(e) not in drop]
