"""What `kubectl ecsrelease` prints: pure functions of the release object, its Events and the current time.

Inputs are the JSON the API server returns (dicts), so the views can be tested without a cluster and show
exactly what is stored. Field names: docs/design.md "Status".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ecsbg.domain import shape
from ecsbg.domain.codec import parse_time
from ecsbg.plugin.analysis import analysis_lines

Obj = Mapping[str, Any]
TERMINAL_PHASES = frozenset({"Succeeded", "RolledBack", "Failed", "Invalid"})
IN_FLIGHT_PHASES = frozenset({"Pending", "Deploying", "AwaitingApproval", "Baking"})
# Event reasons that mark an attempt's life (docs/design.md "Events"), for `history`.
ATTEMPT_REASONS = frozenset({
    "AttemptStarted", "DeploymentStarted", "AwaitingApproval", "Approved", "Rejected", "AbortRequested",
    "RetryRequested", "Succeeded", "RollingBack", "RolledBack", "Failed", "InvalidSpec", "StaleRequest",
    "AnalysisStarted", "AnalysisSuccessful", "AnalysisFailed", "AnalysisInconclusive", "AnalysisError",
    "AnalysisPromoted", "AnalysisRollback",
})  # fmt: skip


# ------------------------------------------------------------------------------------------ small formats


def duration(seconds: float) -> str:
    """kubectl's compact style: 45s, 12m3s, 2h5m, 3d4h."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60}m" if s % 3600 // 60 else f"{s // 3600}h"
    return f"{s // 86400}d{s % 86400 // 3600}h" if s % 86400 // 3600 else f"{s // 86400}d"


def since(value: Any, now: datetime) -> str:
    at = parse_time(value)
    return duration((now - at).total_seconds()) if at else "-"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], indent: str = "") -> list[str]:
    cells = [[str(h) for h in headers], *[["-" if c is None or c == "" else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def percent(value: Any) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:g}%"


def step_text(step: Any) -> str:
    """{number: 2, count: 10, trafficPercent: 20} -> "step 2/10 (20%)"; "" without a step."""
    if not isinstance(step, Mapping) or step.get("number") is None:
        return ""
    return f"step {step.get('number')}/{step.get('count')} ({percent(step.get('trafficPercent'))})"


def stage_text(stage: Any, step: Any, *, short: bool = False) -> str:
    """The stage with its Linear/Canary step: "PRODUCTION_TRAFFIC_SHIFT step 2/10 (20%)", or "... 2/10" short."""
    if not stage or not isinstance(step, Mapping) or step.get("number") is None:
        return str(stage or "")
    return f"{stage} {step['number']}/{step.get('count')}" if short else f"{stage} {step_text(step)}"


def _status(release: Obj) -> Obj:
    return shape.child(release, "status")  # any JSON: a body may have bypassed the schema (domain.shape)


def _conditions(status: Obj) -> str:
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready = conditions.get("Ready", {}).get("status", "Unknown")
    extra = [t for t in ("Reconciling", "Stalled", "Drifted") if conditions.get(t, {}).get("status") == "True"]
    return f"Ready={ready}" + "".join(f", {t}" for t in extra)


def observed(release: Obj) -> bool:
    """The operator has seen the current spec: otherwise status describes an earlier generation."""
    return _status(release).get("observedGeneration") == shape.child(release, "metadata").get("generation")


def done(release: Obj) -> bool:
    return observed(release) and _status(release).get("phase") in TERMINAL_PHASES


# ------------------------------------------------------------------------------------------------- get


def render_release(release: Obj, events: Sequence[Obj], now: datetime, *, max_events: int = 10) -> str:
    meta, spec, status = release.get("metadata") or {}, release.get("spec") or {}, _status(release)
    target, strategy = spec.get("target") or {}, spec.get("strategy") or {}
    phase = status.get("phase") or "-"
    if not observed(release):
        phase += f"  (generation {meta.get('generation')} not observed yet)"
    lines = [
        f"Name:        {meta.get('namespace')}/{meta.get('name')}",
        f"Target:      service {target.get('service')} in cluster {target.get('cluster')} ({target.get('region')})",
        f"Strategy:    {_strategy(strategy)}",
        f"Phase:       {phase}  [{_conditions(status)}]",
        f"Stage:       {stage_text(status.get('stage'), status.get('step')) or '-'}",
        f"Attempt:     {status.get('attempt', 0)}   target {status.get('targetRevision') or '-'}"
        f"   spec {status.get('specHash') or '-'}",
        f"Serving:     {status.get('revision') or '-'}",
        f"Message:     {status.get('message') or '-'}",
    ]
    lines += _deployment_lines(status, now)
    traffic = status.get("traffic") or {}
    lines.append(f"Traffic:     production {percent(traffic.get('production'))} green, "
                 f"test {percent(traffic.get('test'))} green")  # fmt: skip
    lines += _policy_lines(status)
    lines += [f"Ignored:     {error}" for error in status.get("requestErrors") or []]
    lines += ["", "Hooks:", *_hooks(status, now)]
    lines += ["", f"Stages (attempt {status.get('attempt', 0)}):", *_stages(status, now)]
    if status.get("analysisRuns"):
        lines += ["", f"Analysis (attempt {status.get('attempt', 0)}):", *analysis_lines(status, current_only=True)]
    lines += ["", "Events:", *_events(events, now, max_events)]
    hint = next_step(release)
    if hint:
        lines += ["", f"Next:        {hint}"]
    return "\n".join(lines) + "\n"


def _policy_lines(status: Obj) -> list[str]:
    """The EcsReleasePolicy decision and the digests the attempt deploys (status.policy, status.images)."""
    lines = []
    policy = status.get("policy") or {}
    if policy:
        who = f" by {policy['name']}" if policy.get("name") else ""
        role = f", role {policy['roleArn']}" if policy.get("roleArn") else ""
        lines.append(f"Policy:      {policy.get('decision')}{who} ({policy.get('reason')}){role}")
    images = status.get("images") or []
    if images:
        lines += ["", "Images (pinned at attempt start):",
                  *table(("CONTAINER", "DIGEST", "IMAGE"),
                         [(i.get("container"), i.get("digest"), i.get("image")) for i in images], indent="  ")]
    return lines


def _strategy(strategy: Obj) -> str:
    kind = strategy.get("type") or "-"
    parts = [f"bake {strategy.get('bakeTimeInMinutes', 10)}m"]
    if kind == "Linear" and strategy.get("linear"):
        lin = strategy["linear"]
        parts.insert(0, f"{lin.get('stepPercent')}% steps every {lin.get('stepBakeTimeInMinutes')}m")
    if kind == "Canary" and strategy.get("canary"):
        can = strategy["canary"]
        parts.insert(0, f"{can.get('canaryPercent')}% canary for {can.get('canaryBakeTimeInMinutes')}m")
    return f"{kind} ({', '.join(parts)})"


def _deployment_lines(status: Obj, now: datetime) -> list[str]:
    d = status.get("deployment")
    if not d:
        return ["Deployment:  -"]
    if d.get("reused"):
        return [f"Deployment:  none needed (attempt {d.get('attempt')}: ECS already ran this spec)"]
    when = f"started {d.get('startedAt') or '-'} ({since(d.get('startedAt'), now)} ago)"
    if d.get("finishedAt"):
        took = _between(d.get("startedAt"), d.get("finishedAt"))
        when += f", finished {d['finishedAt']}" + (f" after {took}" if took else "")
    which = "" if d.get("attempt") == status.get("attempt") else f" (attempt {d.get('attempt')})"
    which += " (adopted after a restart or lost answer)" if d.get("adopted") else ""
    lines = [f"Deployment:  {d.get('status') or '-'}{which}  {when}"]
    reason = d.get("rollbackReason") or d.get("statusReason")
    if reason:
        lines.append(f"Reason:      {reason}")
    return lines


def _between(start: Any, end: Any) -> str | None:
    a, b = parse_time(start), parse_time(end)
    return duration((b - a).total_seconds()) if a and b else None


def _hooks(status: Obj, now: datetime) -> list[str]:
    hooks = status.get("hooks") or []
    if not hooks:
        return ["  none"]
    rows = []
    for h in hooks:
        expires = h.get("expiresAt")
        left = ""
        if expires and h.get("status") in ("AWAITING_ACTION", "IN_PROGRESS"):
            at = parse_time(expires)
            left = (
                f" (in {duration((at - now).total_seconds())}, then {h.get('timeoutAction') or 'ROLLBACK'})"
                if at
                else ""
            )
        rows.append((h.get("hookId"), h.get("type"), stage_text(h.get("stage"), h.get("step"), short=True),
                     h.get("status"), f"{expires or '-'}{left}"))
    return table(("HOOK", "TYPE", "STAGE", "STATUS", "EXPIRES"), rows, indent="  ")


def _stages(status: Obj, now: datetime) -> list[str]:
    stages = status.get("stages") or []
    if not stages:
        return ["  none yet"]
    rows = []
    for s in stages:
        took = _between(s.get("startedAt"), s.get("finishedAt"))
        if s.get("observed") is False:  # passed between two polls: startedAt/finishedAt are bounds
            took = f"passed between polls (within {took})" if took else "passed between polls"
        elif took is None:
            took = f"{since(s.get('startedAt'), now)} (running)"
        stage = f"{s.get('stage')}" + (" (rollback)" if s.get("rollback") is True else "")
        rows.append((stage, step_text(s.get("step")), s.get("startedAt"), s.get("finishedAt"), took))
    if not any(s.get("step") for s in stages):  # BlueGreen: no STEP column of dashes
        return table(("STAGE", "STARTED", "FINISHED", "DURATION"), [(r[0], *r[2:]) for r in rows], indent="  ")
    return table(("STAGE", "STEP", "STARTED", "FINISHED", "DURATION"), rows, indent="  ")


def event_time(event: Obj) -> datetime:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        at = parse_time(event.get(key))
        if at:
            return at
    return parse_time((event.get("metadata") or {}).get("creationTimestamp")) or datetime.fromtimestamp(
        0, UTC
    )


def _events(events: Sequence[Obj], now: datetime, limit: int) -> list[str]:
    recent = sorted(events, key=event_time)[-limit:]
    if not recent:
        return ["  none"]
    rows = [(duration((now - event_time(e)).total_seconds()), e.get("type"), e.get("reason"), e.get("message"))
            for e in recent]  # fmt: skip
    return table(("AGE", "TYPE", "REASON", "MESSAGE"), rows, indent="  ")


def next_step(release: Obj) -> str | None:
    """The command a person most likely wants now, or None while there is nothing to do but wait."""
    meta, status = release.get("metadata") or {}, _status(release)
    if not observed(release):
        return None
    where = f"{meta.get('name')} -n {meta.get('namespace')}"
    phase = status.get("phase")
    if any(h.get("status") == "AWAITING_ACTION" for h in status.get("hooks") or []):
        return f"kubectl ecsrelease approve {where}   (or reject {where})"
    if phase in ("RolledBack", "Failed"):
        return f"fix the cause, then change the spec or run: kubectl ecsrelease retry {where}"
    if phase == "Invalid":
        return "fix the spec (see Message)"
    if status.get("drift"):
        return f"undo the change made in ECS, or deploy the spec again: kubectl ecsrelease retry {where}"
    return None


# ------------------------------------------------------------------------------------------------ list


def render_list(releases: Sequence[Obj], now: datetime, *, all_namespaces: bool = False) -> str:
    if not releases:
        return "No releases found.\n"
    headers = ("NAME", "PHASE", "STAGE", "STRATEGY", "ATTEMPT", "REVISION", "PROD", "TEST", "AGE")
    rows = []
    for r in sorted(releases, key=lambda r: ((r["metadata"].get("namespace") or ""), r["metadata"]["name"])):
        meta, status = r["metadata"], _status(r)
        traffic = shape.child(status, "traffic")
        phase = status.get("phase") or "-"
        rows.append((
            *([meta.get("namespace")] if all_namespaces else []), meta["name"],
            phase if observed(r) else f"{phase}*", stage_text(status.get("stage"), status.get("step"), short=True),
            shape.child(r, "spec", "strategy").get("type"),
            status.get("attempt"), status.get("revision"), percent(traffic.get("production")),
            percent(traffic.get("test")), since(meta.get("creationTimestamp"), now),
        ))  # fmt: skip
    lines = table((*(["NAMESPACE"] if all_namespaces else []), *headers), rows)
    if any(not observed(r) for r in releases):
        lines.append("* the operator has not observed the latest spec of this release yet")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- history


def render_history(release: Obj, events: Sequence[Obj], now: datetime) -> str:
    meta, status = release.get("metadata") or {}, _status(release)
    lines = [f"Release {meta.get('namespace')}/{meta.get('name')}: attempt {status.get('attempt', 0)}, "
             f"{status.get('phase') or 'no phase yet'}"]  # fmt: skip
    d = status.get("deployment") or {}
    if d:
        took = _between(d.get("startedAt"), d.get("finishedAt"))
        lines.append(f"Deployment of attempt {d.get('attempt')}: {d.get('status')}, started {d.get('startedAt') or '-'}"
                     + (f", took {took}" if took else ""))  # fmt: skip
    requests = {k: v for k, v in (status.get("requests") or {}).items() if v is not None}
    if requests:
        lines.append(
            "Requests seen: " + ", ".join(f"{k} for attempt {v}" for k, v in sorted(requests.items()))
        )
    lines += ["", f"Stages of attempt {status.get('attempt', 0)}:", *_stages(status, now)]
    if status.get("analysisRuns"):
        lines += ["", "Analysis runs (newest last):", *analysis_lines(status, current_only=False)]
    timeline = [e for e in events if e.get("reason") in ATTEMPT_REASONS]
    lines += ["", "Attempts (from Events; the API server keeps them for about an hour):"]
    if timeline:
        rows = [(event_time(e).strftime("%Y-%m-%dT%H:%M:%SZ"), e.get("type"), e.get("reason"), e.get("message"))
                for e in sorted(timeline, key=event_time)]  # fmt: skip
        lines += table(("TIME", "TYPE", "REASON", "MESSAGE"), rows, indent="  ")
    else:
        lines.append("  no attempt events")
    return "\n".join(lines) + "\n"
