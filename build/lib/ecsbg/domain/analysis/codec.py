"""status.analysisRuns <-> AnalysisRun (RFC3339 "Z" timestamps with milliseconds, so the interval between
measurements survives a restart; None fields omitted)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ecsbg.domain.analysis.model import AnalysisRun, Measurement, MetricRun, Verdict

MAX_RUNS = 12  # newest runs kept in status (every step of a 10-step Linear release, plus the bake)


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _dt(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def runs_to_list(runs: Sequence[AnalysisRun]) -> list[dict[str, Any]]:
    return [_run(r) for r in runs[-MAX_RUNS:]]


def _run(r: AnalysisRun) -> dict[str, Any]:
    return _clean({
        "attempt": r.attempt, "template": r.template, "hookId": r.hook_id, "stage": r.stage,
        "phase": r.phase.value, "startedAt": _ts(r.started_at), "finishedAt": _ts(r.finished_at),
        "message": r.message, "action": r.action, "metrics": [_metric(m) for m in r.metrics],
    })


def _metric(m: MetricRun) -> dict[str, Any]:
    return _clean({
        "name": m.name, "phase": m.phase.value, "count": m.count, "successful": m.successful, "failed": m.failed,
        "inconclusive": m.inconclusive, "error": m.error, "consecutiveError": m.consecutive_error,
        "message": m.message, "measurements": [_measurement(x) for x in m.measurements],
    })


def _measurement(m: Measurement) -> dict[str, Any]:
    return _clean({"phase": m.phase.value, "startedAt": _ts(m.started_at), "finishedAt": _ts(m.finished_at),
                   "value": m.value, "message": m.message})


def runs_from_list(raw: Any) -> tuple[AnalysisRun, ...]:
    """Lenient: an entry the operator cannot read is dropped rather than failing the release."""
    out = []
    for item in raw if isinstance(raw, list) else []:
        try:
            out.append(_run_from(item))
        except (KeyError, ValueError, TypeError):
            continue
    return tuple(out)


def _run_from(d: Mapping[str, Any]) -> AnalysisRun:
    started = _dt(d["startedAt"])
    assert started is not None
    return AnalysisRun(
        attempt=int(d["attempt"]), template=str(d["template"]), started_at=started, hook_id=d.get("hookId"),
        stage=d.get("stage"), phase=Verdict(d.get("phase", "Running")), finished_at=_dt(d.get("finishedAt")),
        message=d.get("message"), action=d.get("action"),
        metrics=tuple(_metric_from(m) for m in d.get("metrics") or []),
    )


def _metric_from(d: Mapping[str, Any]) -> MetricRun:
    return MetricRun(
        name=str(d["name"]), phase=Verdict(d.get("phase", "Running")), count=int(d.get("count", 0)),
        successful=int(d.get("successful", 0)), failed=int(d.get("failed", 0)),
        inconclusive=int(d.get("inconclusive", 0)), error=int(d.get("error", 0)),
        consecutive_error=int(d.get("consecutiveError", 0)), message=d.get("message"),
        measurements=tuple(
            Measurement(Verdict(m["phase"]), _dt(m["startedAt"]) or datetime.min.replace(tzinfo=UTC),
                        _dt(m["finishedAt"]) or datetime.min.replace(tzinfo=UTC), m.get("value"), m.get("message"))
            for m in d.get("measurements") or []
        ),
    )
