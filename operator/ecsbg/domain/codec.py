"""ReleaseStatus <-> the CR's `status` JSON (camelCase, field names of docs/design.md "Status").

Two writers:
- `status_to_dict` is the stored form: optional fields that are None are omitted (also inside `requests`),
  timestamps are RFC3339 UTC with a "Z" and second precision
  (metav1.Time precision).
- `status_patch` is what the operator sends as a JSON merge patch (RFC 7386, what kopf sends for status): the
  same dict, but every optional field the new status does not carry is an explicit null, at every level of
  nesting, because a merge patch keeps keys it does not mention. Lists are replaced whole by a merge patch, so
  list elements need no nulls.
`merge_patch(stored, status)` is status_patch restricted to the top-level keys that changed.
`status_from_dict` is tolerant: missing fields take their defaults (a fresh CR's status is only
{observedGeneration: -1}); unknown phases read as None.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ecsbg.domain import autoscaling
from ecsbg.domain.analysis.codec import runs_from_list, runs_to_list
from ecsbg.domain.model import (
    Condition,
    DeploymentRecord,
    Difference,
    HeldPlan,
    HookDetail,
    Phase,
    ReleaseStatus,
    RequestKind,
    RevisionRecord,
    StageRecord,
    StepInfo,
)

# Every key status_to_dict may write, per object, so status_patch can null the absent ones.
_TOP_KEYS = ("observedGeneration", "phase", "stage", "message", "attempt", "specHash", "baseTaskDefinitionArn",
             "revision", "targetRevision", "deployment", "source", "target", "traffic", "hooks", "stages", "step",
             "requests", "requestErrors", "conditions", "drift",
             "analysisRuns", "plan", "autoScaling")
_DEPLOYMENT_KEYS = ("attempt", "arn", "status", "statusReason", "startedAt", "finishedAt", "rollbackReason",
                    "reused")
_REVISION_KEYS = ("revisionArn", "taskDefinitionArn")
_TRAFFIC_KEYS = ("production", "test", "summary")
_STEP_KEYS = ("number", "count", "trafficPercent")


def format_time(value: datetime | None) -> str | None:
    return None if value is None else _format_time(value)


@functools.lru_cache(maxsize=4096)
def _format_time(value: datetime) -> str:
    """Cached: a status carries the same few instants (stages, hooks, conditions) pass after pass, and a
    1,000-release restart spent 6 % of its event loop formatting them."""
    if value.tzinfo is None:  # naive datetimes in the domain are UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def status_to_dict(status: ReleaseStatus) -> dict[str, Any]:
    out: dict[str, Any] = {
        "observedGeneration": status.observed_generation,
        "phase": status.phase.value if status.phase else None,
        "stage": status.stage,
        "message": status.message,
        "attempt": status.attempt,
        "specHash": status.spec_hash,
        "baseTaskDefinitionArn": status.base_task_definition_arn,
        "revision": status.revision,
        "targetRevision": status.target_revision,
        "deployment": _deployment_to_dict(status.deployment),
        "source": _revision_to_dict(status.source),
        "target": _revision_to_dict(status.target),
        "traffic": _compact({"production": status.production_traffic, "test": status.test_traffic,
                             "summary": percent(status.production_traffic)}) or None,
        "hooks": [_hook_to_dict(h) for h in status.hooks],
        "stages": [_stage_to_dict(s) for s in status.stages],
        "step": _step_to_dict(status.step),
        "requests": _compact({kind.value: status.requests.get(kind.value) for kind in RequestKind}),
        "requestErrors": list(status.request_errors) or None,
        "conditions": [_condition_to_dict(c) for c in status.conditions],
        "drift": [_compact({"field": d.field, "key": d.key, "running": d.running, "expected": d.expected})
                  for d in status.drift] or None,
        "analysisRuns": runs_to_list(status.analysis_runs) or None,
        "plan": _plan_to_dict(status.plan),
        "autoScaling": autoscaling.to_dict(status.auto_scaling),
    }
    return _compact(out)


def status_patch(status: ReleaseStatus) -> dict[str, Any]:
    """The merge patch that makes the stored status equal status_to_dict(status): absent fields are null."""
    patch: dict[str, Any] = {key: None for key in _TOP_KEYS}
    patch.update(status_to_dict(status))
    for key, keys in (("deployment", _DEPLOYMENT_KEYS), ("source", _REVISION_KEYS), ("target", _REVISION_KEYS),
                      ("traffic", _TRAFFIC_KEYS), ("step", _STEP_KEYS), ("requests", tuple(k.value for k in RequestKind)),
                      ("autoScaling", autoscaling.STATUS_KEYS)):
        if patch[key] is not None:
            patch[key] = {**{k: None for k in keys}, **patch[key]}
    return patch


def merge_patch(stored: Mapping[str, Any] | None, status: ReleaseStatus) -> dict[str, Any]:
    """The smallest JSON merge patch that turns the stored status dict into status_to_dict(status): only the
    top-level keys whose value changed, each in its status_patch form (nested nulls included). Empty when
    nothing changed, so the caller can skip the write."""
    stored = stored or {}
    target, full = status_to_dict(status), status_patch(status)
    patch = {key: full[key] for key in full if stored.get(key) != target.get(key)}
    for key in ("plan", "autoScaling"):  # a merge patch would keep removed keys (a restore done, a plan's step)
        if isinstance(patch.get(key), Mapping) and isinstance(stored.get(key), Mapping):
            patch[key] = _replacing(stored[key], patch[key])
    return patch


def _replacing(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch turning `old` into `new` (RFC 7386 merges objects: removed keys must be nulled)."""
    out: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        out[key] = _replacing(before, value) if isinstance(value, Mapping) and isinstance(before, Mapping) else value
    return out


def _plan_to_dict(held: HeldPlan | None) -> dict[str, Any] | None:
    if held is None:
        return None
    return _compact({"attempt": held.attempt, "specHash": held.spec_hash,
                     "baseTaskDefinitionArn": held.base_task_definition_arn,
                     "computedAt": format_time(held.computed_at), "error": held.error, **dict(held.plan)})


def _plan_from_dict(data: Any) -> HeldPlan | None:
    if not isinstance(data, Mapping) or not isinstance(data.get("specHash"), str):
        return None
    own = ("attempt", "specHash", "baseTaskDefinitionArn", "computedAt", "error")
    return HeldPlan(attempt=_int(data.get("attempt"), 0), spec_hash=data["specHash"],
                    base_task_definition_arn=_str(data.get("baseTaskDefinitionArn")),
                    plan={k: v for k, v in data.items() if k not in own}, error=_str(data.get("error")),
                    computed_at=parse_time(data.get("computedAt")))


def status_from_dict(data: Mapping[str, Any] | None) -> ReleaseStatus:
    data = data or {}
    traffic = _mapping(data.get("traffic"))
    requests = _mapping(data.get("requests"))
    return ReleaseStatus(
        observed_generation=_int(data.get("observedGeneration"), -1),
        phase=_phase(data.get("phase")),
        stage=_str(data.get("stage")),
        message=_str(data.get("message")) or "",
        attempt=_int(data.get("attempt"), 0),
        spec_hash=_str(data.get("specHash")),
        base_task_definition_arn=_str(data.get("baseTaskDefinitionArn")),
        revision=_str(data.get("revision")),
        target_revision=_str(data.get("targetRevision")),
        deployment=_deployment_from_dict(data.get("deployment")),
        source=_revision_from_dict(data.get("source")),
        target=_revision_from_dict(data.get("target")),
        production_traffic=_float(traffic.get("production")),
        test_traffic=_float(traffic.get("test")),
        hooks=tuple(_hook_from_dict(h) for h in _list(data.get("hooks")) if isinstance(h, Mapping) and h.get("hookId")),
        stages=tuple(_stage_from_dict(s) for s in _list(data.get("stages"))
                     if isinstance(s, Mapping) and s.get("stage") and parse_time(s.get("startedAt"))),
        step=_step_from_dict(data.get("step")),
        requests={kind.value: _int(requests.get(kind.value), None) for kind in RequestKind},
        request_errors=tuple(str(e) for e in _list(data.get("requestErrors")) if isinstance(e, str)),
        conditions=tuple(_condition_from_dict(c) for c in _list(data.get("conditions"))
                         if isinstance(c, Mapping) and c.get("type")),
        drift=tuple(Difference(field=str(d["field"]), running=_str(d.get("running")) or "",
                               expected=_str(d.get("expected")) or "", key=_str(d.get("key")))
                    for d in _list(data.get("drift")) if isinstance(d, Mapping) and d.get("field")),
        analysis_runs=runs_from_list(data.get("analysisRuns")),
        plan=_plan_from_dict(data.get("plan")),
        auto_scaling=autoscaling.from_dict(data.get("autoScaling")),
    )


def _deployment_to_dict(d: DeploymentRecord | None) -> dict[str, Any] | None:
    if d is None:
        return None
    if d.reused:  # no ECS deployment of its own: the attempt, and the deployment that was current
        return _compact({"attempt": d.attempt, "reused": True, "arn": d.arn or None})
    return _compact({"attempt": d.attempt, "arn": d.arn, "status": d.status, "statusReason": d.status_reason,
                     "startedAt": format_time(d.started_at), "finishedAt": format_time(d.finished_at),
                     "rollbackReason": d.rollback_reason})


def _deployment_from_dict(data: Any) -> DeploymentRecord | None:
    if isinstance(data, Mapping) and data.get("reused") is True:
        return DeploymentRecord(attempt=_int(data.get("attempt"), 0), arn=_str(data.get("arn")) or "", status="",
                                reused=True)
    if not isinstance(data, Mapping) or not data.get("arn"):
        return None
    return DeploymentRecord(attempt=_int(data.get("attempt"), 0), arn=str(data["arn"]),
                            status=_str(data.get("status")) or "", status_reason=_str(data.get("statusReason")),
                            started_at=parse_time(data.get("startedAt")), finished_at=parse_time(data.get("finishedAt")),
                            rollback_reason=_str(data.get("rollbackReason")))


def _revision_to_dict(r: RevisionRecord | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return _compact({"revisionArn": r.revision_arn, "taskDefinitionArn": r.task_definition_arn}) or None


def _revision_from_dict(data: Any) -> RevisionRecord | None:
    if not isinstance(data, Mapping) or not (data.get("revisionArn") or data.get("taskDefinitionArn")):
        return None
    return RevisionRecord(revision_arn=_str(data.get("revisionArn")),
                          task_definition_arn=_str(data.get("taskDefinitionArn")))


def percent(value: float | None) -> str | None:
    """20.0 -> "20%" (the Traffic printer column: kubectl cannot add a unit to a number column)."""
    return None if value is None else f"{value:g}%"


def _step_to_dict(step: StepInfo | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {"number": step.number, "count": step.count, "trafficPercent": step.traffic_percent}


def _step_from_dict(data: Any) -> StepInfo | None:
    if not isinstance(data, Mapping):
        return None
    number, count, traffic = _int(data.get("number"), None), _int(data.get("count"), None), data.get("trafficPercent")
    if number is None or count is None or _float(traffic) is None:
        return None
    return StepInfo(number=number, count=count, traffic_percent=float(traffic))


def _hook_to_dict(h: HookDetail) -> dict[str, Any]:
    return _compact({"hookId": h.hook_id, "stage": h.stage, "step": _step_to_dict(h.step), "type": h.target_type,
                     "status": h.status, "targetArn": h.target_arn, "expiresAt": format_time(h.expires_at),
                     "timeoutAction": h.timeout_action})


def _hook_from_dict(data: Mapping[str, Any]) -> HookDetail:
    return HookDetail(hook_id=str(data["hookId"]), target_type=_str(data.get("type")) or "",
                      status=_str(data.get("status")) or "", stage=_str(data.get("stage")),
                      step=_step_from_dict(data.get("step")), target_arn=_str(data.get("targetArn")),
                      expires_at=parse_time(data.get("expiresAt")), timeout_action=_str(data.get("timeoutAction")))


def _stage_to_dict(s: StageRecord) -> dict[str, Any]:
    # `observed` and `rollback` are written only when they say something: most stages are seen going forward
    return _compact({"stage": s.stage, "step": _step_to_dict(s.step), "startedAt": format_time(s.started_at),
                     "finishedAt": format_time(s.finished_at), "observed": False if not s.observed else None,
                     "rollback": True if s.rollback else None})


def _stage_from_dict(data: Mapping[str, Any]) -> StageRecord:
    started = parse_time(data.get("startedAt"))
    assert started is not None  # filtered by the caller
    return StageRecord(stage=str(data["stage"]), started_at=started, finished_at=parse_time(data.get("finishedAt")),
                       step=_step_from_dict(data.get("step")), observed=data.get("observed") is not False,
                       rollback=data.get("rollback") is True)


def _condition_to_dict(c: Condition) -> dict[str, Any]:
    return {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message,
            "lastTransitionTime": format_time(c.last_transition_time), "observedGeneration": c.observed_generation}


def _condition_from_dict(data: Mapping[str, Any]) -> Condition:
    return Condition(type=str(data["type"]), status=_str(data.get("status")) or "Unknown",
                     reason=_str(data.get("reason")) or "", message=_str(data.get("message")) or "",
                     last_transition_time=parse_time(data.get("lastTransitionTime")) or datetime.fromtimestamp(0, UTC),
                     observed_generation=_int(data.get("observedGeneration"), -1))


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _phase(value: Any) -> Phase | None:
    try:
        return Phase(value)
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any, default: int | None) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
