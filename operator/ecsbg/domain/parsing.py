"""CR body -> ReleaseSpec, or InvalidSpec naming every offending field (docs/design.md "The custom resource").

The rules are the CRD's (schema, ranges, patterns and CEL rules), so a CR that skipped API-server validation is
rejected with the same reasons. Requests come from spec.requests and the ecsbg.dev/<kind> annotations; a request
that does not parse is reported on its own (Requests.problems), never as an invalid spec.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ecsbg.domain.analysis.model import AnalysisRef
from ecsbg.domain.analysis.templates import parse_ref, without_analyses
from ecsbg.domain.arns import placement_errors
from ecsbg.domain.autoscaling import AutoScalingMode
from ecsbg.domain.hashing import spec_hash
from ecsbg.domain.model import (
    AlarmSpec,
    CircuitBreakerSpec,
    DriftPolicy,
    HookSpec,
    LoadBalancerSpec,
    PreflightMode,
    ReleaseSpec,
    RequestKind,
    RequestProblem,
    Requests,
    Strategy,
    StrategySpec,
    Target,
    TestTrafficRule,
)
from ecsbg.domain.shape import child, mapping
from ecsbg.domain.taskdef_spec import task_definition
from ecsbg.domain.validation import HOOK_STAGES, PAUSE_FORBIDDEN_STAGES, Reader

ANNOTATION_PREFIX = "ecsbg.dev/"
ON_DELETE = ("Leave", "Rollback")  # spec.onDelete, the first is the CRD's default
# CRD defaults (crds/...yaml); ECS's own defaults for linear/canary (botocore model doc strings).
DEFAULT_BAKE_TIME_MINUTES = 10
LINEAR_DEFAULTS = {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6}
CANARY_DEFAULTS = {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10}
# Hook timeout ceilings: Lambda hooks 1,440 min [doc: Lambda hooks for Amazon ECS service deployments], Pause
# hooks 20,160 min [doc: Pause hooks for Amazon ECS service deployments]; the CRD says the same.
LAMBDA_TIMEOUT_MINUTES = 1440
PAUSE_TIMEOUT_MINUTES = 20160


class InvalidSpec(ValueError):
    """The CR cannot be deployed. `errors` holds one "<field path>: <why>" line per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("invalid spec: " + "; ".join(self.errors))


def parse_release(body: Mapping[str, Any]) -> ReleaseSpec:
    r = Reader()
    spec = r.obj(body, "spec", "spec", required=True) or {}
    metadata = child(body, "metadata")
    release = ReleaseSpec(
        target=_target(r, spec),
        task_definition=task_definition(r, spec),
        strategy=_strategy(r, spec),
        load_balancers=_load_balancers(r, spec),
        test_traffic_rules=_test_traffic_rules(r, spec),
        hooks=_hooks(r, spec),
        alarms=_alarms(r, spec),
        circuit_breaker=_circuit_breaker(r, spec),
        requests=_requests(spec, mapping(metadata.get("annotations"))),
        on_delete=r.string(spec, "onDelete", "spec.onDelete", enum=ON_DELETE) or ON_DELETE[0],
        drift_policy=DriftPolicy(r.string(spec, "driftPolicy", "spec.driftPolicy",
                                          enum=tuple(p.value for p in DriftPolicy)) or DriftPolicy.REPORT.value),
        bake_analysis=_analysis(r, mapping(spec.get("strategy")).get("bakeAnalysis"), "spec.strategy.bakeAnalysis"),
        paused=r.boolean(spec, "paused", "spec.paused", default=False),
        auto_scaling=_auto_scaling(r, spec),
        preflight=PreflightMode(r.string(spec, "preflight", "spec.preflight",
                                         enum=tuple(m.value for m in PreflightMode)) or PreflightMode.OFF.value),
    )
    if not r.errors:  # ARNs are compared only once each is well-formed
        r.errors += placement_errors(release)
    if r.errors:
        raise InvalidSpec(r.errors)
    # analyses judge a deployment, they are not deployed: changing one starts no new attempt
    return ReleaseSpec(**{**release.__dict__, "spec_hash": spec_hash(without_analyses(effective_spec(spec)))})


def _auto_scaling(r: Reader, spec: Mapping[str, Any]) -> AutoScalingMode | None:
    value = r.string(spec, "autoScaling", "spec.autoScaling", enum=tuple(m.value for m in AutoScalingMode))
    return AutoScalingMode(value) if value else None


def effective_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec with the CRD's and ECS's defaults filled in, so `10` and an omitted default hash the same."""
    out = copy.deepcopy(dict(spec))
    strategy = out.setdefault("strategy", {})
    strategy.setdefault("bakeTimeInMinutes", DEFAULT_BAKE_TIME_MINUTES)
    if strategy.get("type") == "Linear":
        strategy["linear"] = {**LINEAR_DEFAULTS, **(strategy.get("linear") or {})}
    if strategy.get("type") == "Canary":
        strategy["canary"] = {**CANARY_DEFAULTS, **(strategy.get("canary") or {})}
    if isinstance(out.get("alarms"), dict):
        out["alarms"] = {"rollback": True, "enable": True, **out["alarms"]}
    if isinstance(out.get("circuitBreaker"), dict):
        out["circuitBreaker"] = {"enable": True, "rollback": True, **out["circuitBreaker"]}
    return out


def _target(r: Reader, spec: Mapping[str, Any]) -> Target:
    node = r.obj(spec, "target", "spec.target", required=True)
    if node is None:  # already reported; its fields would only repeat it
        return Target(region="", cluster="", service="")
    role_arn = r.string(node, "roleArn", "spec.target.roleArn", pattern="role")
    external_id = r.string(node, "externalId", "spec.target.externalId", pattern="externalId")
    if external_id is not None and role_arn is None and "roleArn" not in node:
        r.error("spec.target.externalId", "is only used together with roleArn")
    return Target(
        region=r.string(node, "region", "spec.target.region", required=True, pattern="region") or "",
        cluster=r.string(node, "cluster", "spec.target.cluster", required=True, pattern="cluster") or "",
        service=r.string(node, "service", "spec.target.service", required=True, pattern="service") or "",
        role_arn=role_arn,
        external_id=external_id,
    )


def _strategy(r: Reader, spec: Mapping[str, Any]) -> StrategySpec:
    path = "spec.strategy"
    node = r.obj(spec, "strategy", path, required=True)
    if node is None:
        return StrategySpec(type=Strategy.BLUE_GREEN, bake_time_minutes=DEFAULT_BAKE_TIME_MINUTES)
    kind = r.string(node, "type", f"{path}.type", required=True, enum=tuple(s.value for s in Strategy))
    bake = r.integer(node, "bakeTimeInMinutes", f"{path}.bakeTimeInMinutes", minimum=0, maximum=1440,
                     default=DEFAULT_BAKE_TIME_MINUTES)
    linear = r.obj(node, "linear", f"{path}.linear")
    canary = r.obj(node, "canary", f"{path}.canary")
    if linear is not None and kind != "Linear":
        r.error(f"{path}.linear", "is only allowed with strategy.type Linear")
    if canary is not None and kind != "Canary":
        r.error(f"{path}.canary", "is only allowed with strategy.type Canary")
    strategy = Strategy(kind) if kind else Strategy.BLUE_GREEN
    fields: dict[str, Any] = {}
    if strategy is Strategy.LINEAR:
        lin, lp = linear or {}, f"{path}.linear"
        fields["step_percent"] = r.number(lin, "stepPercent", f"{lp}.stepPercent", minimum=3.0, maximum=100.0,
                                          default=LINEAR_DEFAULTS["stepPercent"], tenths=True)
        fields["step_bake_time_minutes"] = r.integer(lin, "stepBakeTimeInMinutes", f"{lp}.stepBakeTimeInMinutes",
                                                     minimum=0, maximum=1440, default=6)
    if strategy is Strategy.CANARY:
        can, cp = canary or {}, f"{path}.canary"
        fields["canary_percent"] = r.number(can, "canaryPercent", f"{cp}.canaryPercent", minimum=0.1,
                                            maximum=100.0, default=CANARY_DEFAULTS["canaryPercent"], tenths=True)
        fields["canary_bake_time_minutes"] = r.integer(can, "canaryBakeTimeInMinutes",
                                                       f"{cp}.canaryBakeTimeInMinutes", minimum=0, maximum=1440,
                                                       default=10)
    return StrategySpec(type=strategy, bake_time_minutes=DEFAULT_BAKE_TIME_MINUTES if bake is None else bake,
                        **fields)


def _load_balancers(r: Reader, spec: Mapping[str, Any]) -> tuple[LoadBalancerSpec, ...]:
    items = r.array(spec, "loadBalancers", "spec.loadBalancers", max_items=5) or []
    out = []
    for i, item in enumerate(items):
        path = f"spec.loadBalancers[{i}]"
        if not isinstance(item, Mapping):
            r.error(path, "must be an object")
            continue
        node = item
        out.append(LoadBalancerSpec(
            target_group_arn=r.string(node, "targetGroupArn", f"{path}.targetGroupArn", required=True,
                                      pattern="targetGroup") or "",
            alternate_target_group_arn=r.string(node, "alternateTargetGroupArn", f"{path}.alternateTargetGroupArn",
                                                required=True, pattern="targetGroup") or "",
            production_listener_rule=r.string(node, "productionListenerRule", f"{path}.productionListenerRule",
                                              required=True, pattern="listener") or "",
            role_arn=r.string(node, "roleArn", f"{path}.roleArn", required=True, pattern="role") or "",
            test_listener_rule=r.string(node, "testListenerRule", f"{path}.testListenerRule", pattern="listener"),
        ))
    _unique(r, [lb.target_group_arn for lb in out], "spec.loadBalancers", "targetGroupArn")
    return tuple(out)


def _test_traffic_rules(r: Reader, spec: Mapping[str, Any]) -> tuple[TestTrafficRule, ...]:
    node = r.obj(spec, "serviceConnect", "spec.serviceConnect")
    if node is None:
        return ()
    items = r.array(node, "testTrafficRules", "spec.serviceConnect.testTrafficRules", required=True,
                    min_items=1, max_items=20) or []
    out = []
    for i, item in enumerate(items):
        path = f"spec.serviceConnect.testTrafficRules[{i}]"
        if not isinstance(item, Mapping):
            r.error(path, "must be an object")
            continue
        rule = item
        header = r.obj(rule, "header", f"{path}.header", required=True) or {}
        out.append(TestTrafficRule(
            port_name=r.string(rule, "portName", f"{path}.portName", required=True) or "",
            header_name=r.string(header, "name", f"{path}.header.name", required=True) or "",
            header_exact=r.string(header, "exact", f"{path}.header.exact"),
        ))
    _unique(r, [rule.port_name for rule in out], "spec.serviceConnect.testTrafficRules", "portName")
    return tuple(out)


def _hooks(r: Reader, spec: Mapping[str, Any]) -> tuple[HookSpec, ...]:
    items = r.array(spec, "lifecycleHooks", "spec.lifecycleHooks", max_items=20) or []
    hooks = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            r.error(f"spec.lifecycleHooks[{i}]", "must be an object")
        else:
            hooks.append(_hook(r, item, f"spec.lifecycleHooks[{i}]"))
    return tuple(hooks)


def _hook(r: Reader, node: Mapping[str, Any], path: str) -> HookSpec:
    kind = r.string(node, "type", f"{path}.type", required=True, enum=("Lambda", "Pause"))
    stage_items = r.array(node, "stages", f"{path}.stages", required=True, min_items=1, max_items=8) or []
    stages = tuple(s for i, s in enumerate(stage_items)
                   if r.string({"s": s}, "s", f"{path}.stages[{i}]", enum=HOOK_STAGES) is not None)
    _unique(r, list(stages), f"{path}.stages", "value")
    function_arn = r.string(node, "functionArn", f"{path}.functionArn", pattern="lambda")
    role_arn = r.string(node, "roleArn", f"{path}.roleArn", pattern="role")
    if kind == "Pause":
        for stage in sorted(PAUSE_FORBIDDEN_STAGES & set(stages)):
            r.error(f"{path}.stages", f"Pause hooks cannot run at {stage} (only Lambda hooks can)")
        for key in ("functionArn", "roleArn"):
            if key in node:
                r.error(f"{path}.{key}", "is only allowed on Lambda hooks")
    if kind == "Lambda" and "functionArn" not in node:
        r.error(f"{path}.functionArn", "is required for Lambda hooks")
    timeout = r.obj(node, "timeout", f"{path}.timeout") or {}
    details = r.obj(node, "hookDetails", f"{path}.hookDetails")
    # ECS limits a Lambda hook to 1-1,440 minutes [doc: Lambda hooks for Amazon ECS service deployments] and a
    # Pause hook to 1-20,160 [doc: Pause hooks for Amazon ECS service deployments]
    most = LAMBDA_TIMEOUT_MINUTES if kind == "Lambda" else PAUSE_TIMEOUT_MINUTES
    return HookSpec(
        type=kind or "",
        stages=stages,
        function_arn=function_arn,
        role_arn=role_arn,
        hook_details=None if details is None else copy.deepcopy(dict(details)),
        timeout_minutes=r.integer(timeout, "minutes", f"{path}.timeout.minutes", minimum=1, maximum=most),
        timeout_action=r.string(timeout, "action", f"{path}.timeout.action", enum=("Rollback", "Continue")),
        analysis=_analysis(r, node.get("analysis"), f"{path}.analysis", allowed=kind == "Pause"),
    )


def _analysis(r: Reader, node: Any, path: str, allowed: bool = True) -> AnalysisRef | None:
    if node is not None and not allowed:
        r.error(path, "is only allowed on Pause hooks")
        return None
    ref, problems = parse_ref(node, path)
    for problem in problems:
        field, _, why = problem.partition(" ")
        r.error(field, why)
    return ref


def _alarms(r: Reader, spec: Mapping[str, Any]) -> AlarmSpec | None:
    node = r.obj(spec, "alarms", "spec.alarms")
    if node is None:
        return None
    names = r.array(node, "names", "spec.alarms.names", required=True, min_items=1, max_items=100) or []
    checked = tuple(n for i, n in enumerate(names) if r.string({"n": n}, "n", f"spec.alarms.names[{i}]", required=True))
    return AlarmSpec(names=checked, rollback=r.boolean(node, "rollback", "spec.alarms.rollback", default=True),
                     enable=r.boolean(node, "enable", "spec.alarms.enable", default=True))


def _circuit_breaker(r: Reader, spec: Mapping[str, Any]) -> CircuitBreakerSpec | None:
    node = r.obj(spec, "circuitBreaker", "spec.circuitBreaker")
    if node is None:
        return None
    return CircuitBreakerSpec(enable=r.boolean(node, "enable", "spec.circuitBreaker.enable", default=True),
                              rollback=r.boolean(node, "rollback", "spec.circuitBreaker.rollback", default=True))


def _requests(spec: Mapping[str, Any], annotations: Mapping[str, Any]) -> Requests:
    """Requests are operations on an attempt, not the spec of a release: a value that is not an attempt number is
    a RequestProblem (Warning Event, status.requestErrors), never an error of the spec. That holds for
    spec.requests too, although the CRD's schema refuses such values there at admission: one rule for both forms."""
    problems: list[RequestProblem] = []
    r = Reader()
    node = r.obj(spec, "requests", "spec.requests") or {}
    problems += [RequestProblem(None, e) for e in r.errors]
    named: dict[str, set[int]] = {kind.value: set() for kind in RequestKind}
    for kind in RequestKind:
        r = Reader()
        from_spec = r.integer(node, kind.value, f"spec.requests.{kind.value}", minimum=1)
        if from_spec is not None:
            named[kind.value].add(from_spec)
        key = ANNOTATION_PREFIX + kind.value
        if key in annotations:
            attempt = _annotation_attempt(annotations[key])
            if attempt is None:
                r.error(f"metadata.annotations[{key}]", f"must be the attempt number to {kind.value} "
                        f"(a positive integer, see status.attempt), got {annotations[key]!r}")
            else:
                named[kind.value].add(attempt)
        problems += [RequestProblem(kind, e) for e in r.errors]
    return Requests(**{kind: frozenset(values) for kind, values in named.items()}, problems=tuple(problems))


def _annotation_attempt(value: Any) -> int | None:
    text = str(value).strip()
    if not text.isdigit() or not text.isascii() or int(text) < 1:
        return None
    return int(text)


def _unique(r: Reader, keys: list[str], path: str, key: str) -> None:
    seen: set[str] = set()
    for value in keys:
        if value and value in seen:
            r.error(path, f"duplicate {key} {value!r}")
        seen.add(value)
