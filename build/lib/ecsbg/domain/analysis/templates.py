"""Parsing templates and references, and resolving arguments (pure).

`parse_template(obj)` turns an EcsAnalysisTemplate / ClusterEcsAnalysisTemplate object into a Template and
compiles every CEL condition: each problem is reported with its field path (`metrics[0].successCondition: ...`)
in one InvalidTemplate. `resolve(template, ref, facts, secrets)` binds the arguments and substitutes
`{{args.NAME}}` and `{{release.FACT}}` in every string of the metrics' provider blocks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ecsbg.domain.analysis.cel import CelError, compile_condition
from ecsbg.domain.analysis.model import (
    PROVIDERS,
    TEMPLATE_KIND,
    AnalysisRef,
    ArgSpec,
    Condition,
    MetricSpec,
    SecretRef,
    Template,
)

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PLACEHOLDER = re.compile(r"\{\{\s*(args|release)\.([A-Za-z0-9_.-]+)\s*\}\}")
_ARG_ONLY = re.compile(r"^\{\{\s*args\.[A-Za-z0-9_.-]+\s*\}\}$")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class InvalidTemplate(ValueError):
    """A template (or a reference to one) that cannot be used; `reason` is the condition/Event reason."""

    def __init__(self, reason: str, problems: list[str] | str) -> None:
        self.reason = reason
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


def parse_duration(text: Any) -> float:
    """Go-style durations as Argo Rollouts writes them: "30s", "1m", "1m30s", "500ms". Seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str) or not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 1h30m")
    return sum(float(n) * _UNIT[u] for n, u in _DURATION_PART.findall(text))


def parse_template(obj: Mapping[str, Any]) -> Template:
    kind = str(obj.get("kind") or TEMPLATE_KIND)
    name = str((obj.get("metadata") or {}).get("name") or "")
    spec = obj.get("spec") or {}
    problems: list[str] = []
    args = tuple(_arg(a, f"spec.args[{i}]", problems) for i, a in enumerate(spec.get("args") or []))
    names = [a.name for a in args]
    problems += [f"spec.args: {n!r} is listed twice" for n in sorted({n for n in names if names.count(n) > 1})]
    raw_metrics = spec.get("metrics") or []
    if not raw_metrics:
        problems.append("spec.metrics: at least one metric is required")
    metrics = tuple(_metric(m, f"spec.metrics[{i}]", problems) for i, m in enumerate(raw_metrics))
    metric_names = [m.name for m in metrics]
    problems += [f"spec.metrics: {n!r} is listed twice" for n in sorted({n for n in metric_names if metric_names.count(n) > 1})]
    if problems:
        raise InvalidTemplate("InvalidAnalysisTemplate", [f"{kind}/{name}: {p}" for p in problems])
    return Template(kind=kind, name=name, args=args, metrics=metrics)


def _arg(raw: Any, path: str, problems: list[str]) -> ArgSpec:
    if not isinstance(raw, Mapping) or not raw.get("name"):
        problems.append(f"{path}.name is required")
        return ArgSpec(name="")
    secret = None
    ref = ((raw.get("valueFrom") or {}).get("secretKeyRef")) or None
    if ref is not None:
        if not ref.get("name") or not ref.get("key"):
            problems.append(f"{path}.valueFrom.secretKeyRef needs name and key")
        else:
            secret = SecretRef(str(ref["name"]), str(ref["key"]))
    value = raw.get("value")
    if value is not None and secret is not None:
        problems.append(f"{path}: value and valueFrom are exclusive")
    return ArgSpec(name=str(raw["name"]), value=None if value is None else str(value), secret=secret)


def _metric(raw: Any, path: str, problems: list[str]) -> MetricSpec:
    if not isinstance(raw, Mapping):
        problems.append(f"{path} must be an object")
        return MetricSpec(name="", provider="web", config={})
    name = str(raw.get("name") or "")
    if not NAME.match(name):
        problems.append(f"{path}.name {name!r} must be a DNS label (lower-case letters, digits, '-')")
    provider_block = raw.get("provider") or {}
    chosen = [p for p in PROVIDERS if provider_block.get(p) is not None]
    if len(chosen) != 1:
        problems.append(f"{path}.provider must set exactly one of {', '.join(PROVIDERS)}")
    provider = chosen[0] if chosen else "web"
    config = dict(provider_block.get(provider) or {})
    problems += [f"{path}.provider.{provider}.{p}" for p in _provider_problems(provider, config)]
    interval = _duration(raw, "interval", path, problems)
    count = raw.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        problems.append(f"{path}.count must be an integer >= 1")
        count = 1
    if count is None:  # Argo: without an interval a metric is measured once; with one, until stopped
        count = None if interval else 1
    return MetricSpec(
        name=name, provider=provider, config=config, interval_seconds=interval, count=count,
        initial_delay_seconds=_duration(raw, "initialDelay", path, problems),
        success=_condition(raw, "successCondition", path, problems),
        failure=_condition(raw, "failureCondition", path, problems),
        failure_limit=_limit(raw, "failureLimit", 0, path, problems),
        inconclusive_limit=_limit(raw, "inconclusiveLimit", 0, path, problems),
        consecutive_error_limit=_limit(raw, "consecutiveErrorLimit", 4, path, problems),
    )


def _provider_problems(provider: str, config: Mapping[str, Any]) -> list[str]:
    if provider == "web":
        out = [] if config.get("url") else ["url is required"]
        if "timeoutSeconds" in config and not _positive(config["timeoutSeconds"]):
            out.append("timeoutSeconds must be a positive number")
        return out
    if provider == "prometheus":
        out = [f"{f} is required" for f in ("address", "query") if not config.get(f)]
        token = config.get("bearerToken")
        if token is not None and not _ARG_ONLY.match(str(token)):
            out.append("bearerToken must be an argument ({{args.NAME}}) whose value comes from a Secret, never inline")
        return out
    if provider == "cloudWatch":
        queries = config.get("metricDataQueries")
        out = [] if isinstance(queries, list) and queries else ["metricDataQueries: at least one query is required"]
        return out + [f"{f} is required" for f in ("region",) if not config.get(f)]
    return []


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _duration(raw: Mapping[str, Any], key: str, path: str, problems: list[str]) -> float:
    if raw.get(key) is None:
        return 0.0
    try:
        return parse_duration(raw[key])
    except ValueError as exc:
        problems.append(f"{path}.{key}: {exc}")
        return 0.0


def _limit(raw: Mapping[str, Any], key: str, default: int, path: str, problems: list[str]) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        problems.append(f"{path}.{key} must be an integer >= 0")
        return default
    return value


def _condition(raw: Mapping[str, Any], key: str, path: str, problems: list[str]) -> Condition | None:
    expression = raw.get(key)
    if expression is None:
        return None
    try:
        return Condition(expression=str(expression), program=compile_condition(str(expression)))
    except CelError as exc:
        problems.append(f"{path}.{key}: invalid CEL expression {expression!r}: {exc}")
        return None


# ---------------------------------------------------------------------------------------------- references


def parse_ref(raw: Any, path: str) -> tuple[AnalysisRef | None, list[str]]:
    """`{templateName, clusterScope?, args?: [{name, value}]}` -> (AnalysisRef, problems)."""
    if raw is None:
        return None, []
    if not isinstance(raw, Mapping) or not raw.get("templateName"):
        return None, [f"{path}.templateName is required"]
    problems = []
    args = []
    for i, arg in enumerate(raw.get("args") or []):
        if not isinstance(arg, Mapping) or not arg.get("name") or arg.get("value") is None:
            problems.append(f"{path}.args[{i}] needs a name and a value")
            continue
        args.append((str(arg["name"]), str(arg["value"])))
    return AnalysisRef(template_name=str(raw["templateName"]), cluster_scope=bool(raw.get("clusterScope", False)),
                       args=tuple(args)), problems


# ------------------------------------------------------------------------------------------------ resolving

SecretReader = Callable[[SecretRef], str | None]


def secret_refs(template: Template, ref: AnalysisRef) -> tuple[SecretRef, ...]:
    """The Secrets the resolved arguments read (those the reference does not override)."""
    given = dict(ref.args)
    return tuple(a.secret for a in template.args if a.secret is not None and a.name not in given)


def resolve(template: Template, ref: AnalysisRef, facts: Mapping[str, Any],
            secrets: Mapping[SecretRef, str | None]) -> Template:
    """The template with its arguments bound: the reference's value, else the default, else the Secret's. Raises
    InvalidTemplate (MissingArgument, SecretNotFound, UnknownArgument, UnknownReleaseFact) naming what is wrong."""
    given = dict(ref.args)
    known = {a.name for a in template.args}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidTemplate("UnknownArgument", f"{ref.display}: the template has no argument(s) {', '.join(unknown)}")
    values: dict[str, str] = {}
    for arg in template.args:
        if arg.name in given:
            values[arg.name] = given[arg.name]
        elif arg.value is not None:
            values[arg.name] = arg.value
        elif arg.secret is not None:
            found = secrets.get(arg.secret)
            if found is None:
                raise InvalidTemplate("SecretNotFound", f"{ref.display}: argument {arg.name!r} reads key "
                                      f"{arg.secret.key!r} of Secret {arg.secret.name!r}, which does not exist")
            values[arg.name] = found
        else:
            raise InvalidTemplate("MissingArgument", f"{ref.display}: argument {arg.name!r} has no value: set it "
                                  "in the release's analysis args or give it a default")
    metrics = tuple(replace(m, config=_substitute(m.config, values, facts, f"{ref.display} metric {m.name}"))
                    for m in template.metrics)
    return replace(template, metrics=metrics)


def _substitute(value: Any, args: Mapping[str, str], facts: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, str):
        def one(match: re.Match[str]) -> str:
            scope, key = match.group(1), match.group(2)
            table = args if scope == "args" else facts
            if key not in table or table[key] is None:
                reason = "UnknownArgument" if scope == "args" else "UnknownReleaseFact"
                raise InvalidTemplate(reason, f"{where}: {{{{{scope}.{key}}}}} has no value"
                                      + (f" (release facts: {', '.join(sorted(facts))})" if scope == "release" else ""))
            return str(table[key])

        return _PLACEHOLDER.sub(one, value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, args, facts, where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(v, args, facts, where) for v in value]
    return value


def without_analyses(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec without its analysis references (they judge a deployment and are not part of specHash)."""
    out = dict(spec)
    if isinstance(out.get("strategy"), Mapping):
        out["strategy"] = {k: v for k, v in out["strategy"].items() if k != "bakeAnalysis"}
    if isinstance(out.get("lifecycleHooks"), list):
        out["lifecycleHooks"] = [{k: v for k, v in h.items() if k != "analysis"} if isinstance(h, Mapping) else h
                                 for h in out["lifecycleHooks"]]
    return out
