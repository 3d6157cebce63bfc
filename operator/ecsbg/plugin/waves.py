"""`kubectl ecsrelease get|approve|abort wave NAME`: the view and the requests of an EcsReleaseWave, pure.

The view is a tree: the wave, each of its waves (entry of spec.waves) with its gate, each target with its child
release's phase and revision. Requests follow docs/api.md "Release waves": approve names `<attempt>:<wave>` of
the gate that waits, abort names the attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ecsbg.domain import shape
from ecsbg.plugin.render import since

TERMINAL = frozenset({"Succeeded", "RolledBack", "Failed", "Invalid"})


def _status(wave: Mapping[str, Any]) -> Mapping[str, Any]:
    return shape.child(wave, "status")


def observed(wave: Mapping[str, Any]) -> bool:
    meta, status = shape.child(wave, "metadata"), _status(wave)
    return status.get("observedGeneration") == meta.get("generation")


def done(wave: Mapping[str, Any]) -> bool:
    """The attempt of the observed spec ended (a failure still waiting for targets in flight has not)."""
    status = _status(wave)
    if not observed(wave) or status.get("phase") not in TERMINAL:
        return False
    return not (status.get("phase") == "Failed" and "waiting for" in shape.text(status.get("message")))


def render_wave(wave: Mapping[str, Any], now: datetime) -> str:
    meta, status = shape.child(wave, "metadata"), _status(wave)
    lines = [f"EcsReleaseWave {meta.get('namespace')}/{meta.get('name')}   phase {status.get('phase') or '-'}   "
             f"attempt {status.get('attempt') or '-'}   progress {status.get('progress') or '-'}   "
             f"age {since(meta.get('creationTimestamp'), now)}"]
    if status.get("message"):
        lines.append(f"  {status['message']}")
    pinned = shape.mapping(status.get("images"))
    for found in map(shape.mapping, pinned.get("digests") or []):  # one image, promoted: what every target deploys
        lines.append(f"  image {found.get('image')} = {found.get('digest')} (resolved by attempt "
                     f"{pinned.get('attempt')})")
    steps = [shape.mapping(s) for s in status.get("waves") or []]
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        lines.append(f"{'└─' if last else '├─'} wave {step.get('name')}: {step.get('phase')}{_gate(step)}")
        targets = [shape.mapping(t) for t in step.get("targets") or []]
        for j, target in enumerate(targets):
            branch = "   " if last else "│  "
            lines.append(f"{branch}{'└─' if j == len(targets) - 1 else '├─'} {target.get('name')} "
                         f"({target.get('release')}): {target.get('state')}"
                         + "".join(f", {key} {target[key]}" for key in ("phase", "attempt", "revision")
                                   if target.get(key)))
    return "\n".join(lines) + "\n"


def _gate(step: Mapping[str, Any]) -> str:
    gate = shape.child(step, "gate")
    if not gate:
        return ""
    analysis = shape.child(gate, "analysis")
    parts = [f"bake {gate['bakeSeconds']}s" if gate.get("bakeSeconds") else "",
             f"analysis {analysis.get('template')} {analysis.get('phase')}" if analysis else "",
             "approval" if gate.get("approval") else ""]
    what = " + ".join(p for p in parts if p)
    return f"   [gate {what}: {gate.get('state') or 'not started'}]"


@dataclass(frozen=True)
class Request:
    ok: bool
    message: str
    annotation: str = ""
    value: str = ""


def approve(wave: Mapping[str, Any], name: str | None, attempt: int | None) -> Request:
    """The gate that waits for approval (or the one named) of the current attempt (or the one named)."""
    status = _status(wave)
    current = status.get("attempt")
    attempt = attempt or current
    waiting = [shape.text(s.get("name")) for s in (shape.mapping(x) for x in status.get("waves") or [])
               if shape.child(s, "gate").get("state") == "AwaitingApproval"]
    if attempt != current:
        return Request(False, f"attempt {attempt} is not the current one ({current})")
    if name is None:
        if not waiting:
            return Request(False, f"no gate of attempt {current} waits for approval (phase {status.get('phase')})")
        name = waiting[0]
    elif name not in waiting:
        return Request(False, f"the gate after wave {name!r} does not wait for approval")
    return Request(True, f"approved the gate after wave {name!r} of attempt {attempt}", "ecsbg.dev/approve",
                   f"{attempt}:{name}")


def abort(wave: Mapping[str, Any], attempt: int | None) -> Request:
    status = _status(wave)
    current = status.get("attempt")
    attempt = attempt or current
    if attempt != current or not current:
        return Request(False, f"attempt {attempt} is not the current one ({current})")
    if status.get("phase") in TERMINAL:
        return Request(False, f"attempt {current} has ended ({status.get('phase')}): nothing to abort")
    return Request(True, f"aborting attempt {current}", "ecsbg.dev/abort", str(current))
