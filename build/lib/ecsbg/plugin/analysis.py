"""`kubectl ecsrelease get` / `history`: the analysis runs of status.analysisRuns and their measurements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Obj = Mapping[str, Any]
MAX_MEASUREMENTS_SHOWN = 5


def analysis_lines(status: Obj, *, current_only: bool) -> list[str]:
    """One block per run (newest last): where it ran, its verdict and the ECS call it made, then per metric its
    counters and its newest measurements."""
    runs: Sequence[Obj] = status.get("analysisRuns") or []
    if current_only:
        runs = [r for r in runs if r.get("attempt") == status.get("attempt")]
    if not runs:
        return ["  none"]
    lines: list[str] = []
    for run in runs:
        where = f"hook {run.get('hookId')} at {run.get('stage')}" if run.get("hookId") else "bake time"
        acted = f" -> {run['action']}" if run.get("action") else ""
        lines.append(f"  attempt {run.get('attempt')}, {where}: {run.get('template')} {run.get('phase')}{acted}"
                     f" (started {run.get('startedAt', '-')})")
        if run.get("message"):
            lines.append(f"    {run['message']}")
        for metric in run.get("metrics") or []:
            lines.append(f"    metric {metric.get('name')}: {metric.get('phase')} "
                         f"(ok {metric.get('successful', 0)}, failed {metric.get('failed', 0)}, "
                         f"inconclusive {metric.get('inconclusive', 0)}, errors {metric.get('error', 0)})")
            for m in (metric.get("measurements") or [])[-MAX_MEASUREMENTS_SHOWN:]:
                detail = m.get("value") if m.get("value") is not None else ""
                if m.get("message"):
                    detail = f"{detail} {m['message']}".strip()
                lines.append(f"      {m.get('finishedAt', '-')}  {m.get('phase', '-'):<12} {detail}")
    return lines
