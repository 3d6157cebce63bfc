"""The analysis gate of a wave (`waves[].gate.analysis`): its references, its checks and its run in status (pure).

The run is the releases' analysis run (domain.analysis), measured by the same engine (ecsbg.analysis.runner
`AnalysisRunner.advance`): the wave loop advances the run a prior pass started and hands it to the pass, which
decides what its verdict does. The run lives in `status.waves[].gate.analysis`, so a restarted operator
continues it where the last written status left it (measurements taken are kept, the verdict acts once).

A reference to a template that does not exist (or does not parse, or whose arguments the reference gets wrong)
is bad input: the wave is Invalid and no child is created (`template_problems`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from ecsbg.domain.analysis import codec
from ecsbg.domain.analysis.model import AnalysisRef, AnalysisRun, Verdict
from ecsbg.domain.analysis.templates import InvalidTemplate, parse_ref, parse_template
from ecsbg.domain.shape import child, mapping, text
from ecsbg.domain.waves.model import WaveSpec

# what `{{release.X}}` may name in a gate's template: the wave's facts (a gate judges a wave, not one release)
FACT_NAMES = ("namespace", "name", "attempt", "wave")
# gate.state while its analysis decides: measuring, or waiting for a person after an inconclusive verdict
ANALYZING = "Analyzing"
TemplateKey = tuple[str, str]  # (kind, name)


def references(body: Mapping[str, Any]) -> dict[str, AnalysisRef]:
    """wave name -> the analysis its gate references, read leniently from the raw spec (parse_wave reports the
    problems): what the loop must read before the pass."""
    out = {}
    for item in child(body, "spec").get("waves") or []:
        ref, _ = parse_ref(mapping(mapping(item).get("gate")).get("analysis"), "gate.analysis")
        if ref is not None and text(mapping(item).get("name")):
            out[text(mapping(item).get("name"))] = ref
    return out


def template_problems(spec: WaveSpec, templates: Mapping[TemplateKey, Mapping[str, Any] | None] | None
                      ) -> list[tuple[str, str]]:
    """Each gate's template must exist, parse, and get a value for every argument it needs from the reference
    or a default (`templates` is what the loop read; None: this operator runs no analysis)."""
    problems = []
    for i, step in enumerate(spec.steps):
        ref = step.gate.analysis
        if ref is None:
            continue
        where = f"spec.waves[{i}].gate.analysis"
        if templates is None:
            problems.append(("AnalysisUnavailable", f"{where}: this operator runs no automated analysis"))
            continue
        found = templates.get((ref.kind, ref.template_name))
        if found is None:
            scope = "cluster-scoped" if ref.cluster_scope else "in the wave's namespace"
            problems.append(("AnalysisTemplateNotFound", f"{where}: {ref.display} not found ({scope})"))
            continue
        try:
            template = parse_template(found)
        except InvalidTemplate as exc:
            problems.append((exc.reason, f"{where}: {exc}"))
            continue
        known, given = {a.name for a in template.args}, dict(ref.args)
        unknown = sorted(set(given) - known)
        if unknown:
            problems.append(("UnknownArgument", f"{where}: {ref.display} has no argument(s) {', '.join(unknown)}"))
        missing = [a.name for a in template.args if a.name not in given and a.value is None and a.secret is None]
        if missing:
            problems.append(("MissingArgument", f"{where}: {ref.display} argument(s) {', '.join(missing)} need a "
                                                f"value in the gate's args"))
    return problems


def facts(namespace: str, name: str, attempt: int, wave: str) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "attempt": attempt, "wave": wave}


def recorded(gate: Mapping[str, Any], attempt: int) -> AnalysisRun | None:
    """The run recorded in a gate's status, if it belongs to `attempt`."""
    runs = codec.runs_from_list([gate["analysis"]]) if isinstance(gate.get("analysis"), Mapping) else ()
    return runs[0] if runs and runs[0].attempt == attempt else None


def live(status: Mapping[str, Any], refs: Mapping[str, AnalysisRef]) -> dict[str, tuple[AnalysisRun, AnalysisRef]]:
    """The runs the loop measures before the pass: those of the recorded attempt still deciding (Running, or
    Error: the runner measures again once the template or its Secret is fixed)."""
    attempt = status.get("attempt")
    out = {}
    for step in status.get("waves") or []:
        name = text(mapping(step).get("name"))
        run = recorded(mapping(mapping(step).get("gate")), attempt) if isinstance(attempt, int) else None
        if run is not None and name in refs and run.finished_at is None and run.phase in (Verdict.RUNNING,
                                                                                          Verdict.ERROR):
            out[name] = (run, refs[name])
    return out


def current(measured: AnalysisRun | None, before: Mapping[str, Any], attempt: int, ref: AnalysisRef,
            now: datetime) -> AnalysisRun:
    """The gate's run this pass: as the loop measured it, else as recorded, else a new one starting now."""
    if measured is not None and measured.attempt == attempt:
        return measured
    return recorded(before, attempt) or AnalysisRun(attempt=attempt, template=ref.display, started_at=now)


def finished(run: AnalysisRun, now: datetime) -> AnalysisRun:
    """A run with a verdict gets its end time; an Error is not one (the runner measures it again once fixed)."""
    if run.finished_at is not None or not run.phase.done or run.phase is Verdict.ERROR:
        return run
    return replace(run, finished_at=now)


def run_status(run: AnalysisRun) -> dict[str, Any]:
    """gate.analysis: the run as a release records it (template, phase, message, timestamps, and per metric its
    counters and newest measurements)."""
    return codec.runs_to_list([run])[0]


def decide(run: AnalysisRun, wave: str, attempt: int, approved: bool) -> tuple[str | None, str | None, str]:
    """(gate state, what the gate waits for or None when it lets the next wave go, verdict when it does).
    Successful goes on; Failed is a failure of the wave (planning routes it to the failure path); Inconclusive,
    or an Error (a template that stopped resolving), waits for a person, as a release's inconclusive pause does."""
    where = f"wave {wave!r}: analysis {run.template}"
    if run.phase is Verdict.SUCCESSFUL:
        return None, None, "AnalysisSuccessful"
    if run.phase in (Verdict.PENDING, Verdict.RUNNING):
        return ANALYZING, f"{where} running", ""
    if run.phase is Verdict.FAILED:
        return "Failed", f"{where} failed: {run.message}", "AnalysisFailed"
    if approved:
        return None, None, "Approved"
    return "AwaitingApproval", (f"{where} {run.phase.value.lower()}: {run.message}; a person decides: annotate "
                                f"ecsbg.dev/approve={attempt}:{wave} to go on, or ecsbg.dev/abort={attempt}"), ""
