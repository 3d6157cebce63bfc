"""EcsReleaseWave body -> WaveSpec, or InvalidWave naming each problem with its own condition reason.

Bad input never creates a child: a duplicate target, a wave that names a target nobody declared or selects
none, a gate that asks for nothing, a template that does not make a valid release for some target. Each is
reported with a specific reason (the first problem's is the condition reason; the message lists them all).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ecsbg.domain.analysis.templates import parse_ref
from ecsbg.domain.hashing import digest
from ecsbg.domain.shape import child, mapping, text
from ecsbg.domain.waves.model import PREFIX, Gate, Requests, Step, Target, WaveSpec

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_NAME = 40  # a child is named <wave>-<target>: both short enough for a label value (63)
NOT_DEPLOYED = ("requests",)  # spec fields that never start a new attempt


class InvalidWave(ValueError):
    """`problems`: (reason, "<field>: <why>") pairs, the first one's reason is the condition's."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(message for _, message in self.problems))

    @property
    def reason(self) -> str:
        return self.problems[0][0]


def parse_wave(body: Mapping[str, Any]) -> WaveSpec:
    spec = child(body, "spec")
    problems: list[tuple[str, str]] = []
    template = spec.get("template")
    if not isinstance(template, Mapping) or not template:
        problems.append(("InvalidSpec", "spec.template: required, an EcsBlueGreenRelease spec without target"))
        template = {}
    elif "target" in template:
        problems.append(("InvalidSpec", "spec.template.target: not allowed, each target comes from spec.targets"))
    targets = _targets(spec.get("targets"), problems)
    steps = _steps(spec.get("waves"), targets, problems)
    images = spec.get("images") or {}
    if not isinstance(images, Mapping) or not isinstance(images.get("resolveDigests", False), bool):
        problems.append(("InvalidSpec", "spec.images: {resolveDigests: true|false}"))
        images = {}
    if problems:
        raise InvalidWave(problems)
    policy = child(spec, "failurePolicy")
    deployed = {k: v for k, v in spec.items() if k not in NOT_DEPLOYED}
    return WaveSpec(template=dict(template), targets=targets, steps=steps,
                    rollback=policy.get("rollback") is True, spec_hash=digest(deployed),
                    resolve_digests=images.get("resolveDigests") is True)


def _targets(node: Any, problems: list[tuple[str, str]]) -> dict[str, Target]:
    if not isinstance(node, list) or not node:
        problems.append(("InvalidSpec", "spec.targets: required, at least one target"))
        return {}
    found: dict[str, Target] = {}
    services: dict[tuple[str, str, str], str] = {}
    for i, item in enumerate(node):
        path, item = f"spec.targets[{i}]", mapping(item)
        name = text(item.get("name"))
        fields = {key: text(item.get(key)) for key in ("region", "cluster", "service")}
        missing = [key for key in ("name", *fields) if not text(item.get(key))]
        if missing:
            problems.append(("InvalidSpec", f"{path}: {', '.join(missing)} required"))
            continue
        if not _NAME.match(name) or len(name) > MAX_NAME:
            problems.append(("InvalidSpec", f"{path}.name: {name!r} is not a DNS label of at most {MAX_NAME}"))
            continue
        if name in found:
            problems.append(("DuplicateTarget", f"{path}.name: duplicate target {name!r}"))
            continue
        target = Target(name=name, **fields, role_arn=text(item.get("roleArn")) or None,
                        labels=tuple(sorted((str(k), str(v)) for k, v in mapping(item.get("labels")).items())),
                        image_registry=text(item.get("imageRegistry")) or None,
                        overrides=dict(mapping(item.get("overrides"))))
        if target.key in services:  # two children on one service would supersede each other's deployments
            problems.append(("DuplicateTarget", f"{path}: {name!r} names the same service as "
                                                f"{services[target.key]!r} ({'/'.join(target.key)})"))
            continue
        if "target" in target.overrides:
            problems.append(("InvalidSpec", f"{path}.overrides.target: not allowed, use region/cluster/service"))
        services[target.key] = name
        found[name] = target
    return found


def _steps(node: Any, targets: dict[str, Target], problems: list[tuple[str, str]]) -> tuple[Step, ...]:
    if not isinstance(node, list) or not node:
        problems.append(("InvalidSpec", "spec.waves: required, at least one wave"))
        return ()
    steps: list[Step] = []
    placed: dict[str, str] = {}  # target -> the wave that deploys it
    for i, item in enumerate(node):
        path, item = f"spec.waves[{i}]", mapping(item)
        name = text(item.get("name"))
        if not _NAME.match(name) or len(name) > MAX_NAME:
            problems.append(("InvalidSpec", f"{path}.name: {name!r} is not a DNS label of at most {MAX_NAME}"))
            continue
        if any(s.name == name for s in steps):
            problems.append(("InvalidSpec", f"{path}.name: duplicate wave {name!r}"))
            continue
        chosen = _chosen(item, path, targets, problems)
        if not chosen:
            problems.append(("EmptyWave", f"{path}: wave {name!r} has no target"))
        for target in chosen:
            if target in placed:
                problems.append(("DuplicateTarget", f"{path}: target {target!r} is already in wave {placed[target]!r}"))
            placed[target] = name
        parallel = item.get("maxParallel", 0)
        if not isinstance(parallel, int) or isinstance(parallel, bool) or parallel < 0:
            problems.append(("InvalidSpec", f"{path}.maxParallel: must be an integer >= 0, got {parallel!r}"))
            parallel = 0
        steps.append(Step(name=name, targets=tuple(chosen), max_parallel=parallel,
                          gate=_gate(item.get("gate"), f"{path}.gate", problems)))
    return tuple(steps)


def _chosen(item: Mapping[str, Any], path: str, targets: dict[str, Target],
            problems: list[tuple[str, str]]) -> list[str]:
    """The wave's targets: the names it lists, then those its selector matches, in spec.targets order."""
    names = item.get("targets") or []
    chosen: list[str] = []
    for j, name in enumerate(names if isinstance(names, list) else []):
        if name not in targets:
            problems.append(("UnknownTarget", f"{path}.targets[{j}]: no target named {name!r} in spec.targets"))
        elif name in chosen:
            problems.append(("DuplicateTarget", f"{path}.targets[{j}]: target {name!r} listed twice"))
        else:
            chosen.append(name)
    selector = item.get("selector")
    if selector is not None:
        wanted = dict(mapping(mapping(selector).get("matchLabels")))
        if not wanted:
            problems.append(("InvalidSpec", f"{path}.selector.matchLabels: required, at least one label"))
        else:
            chosen += [n for n, t in targets.items() if n not in chosen
                       and all(dict(t.labels).get(k) == str(v) for k, v in wanted.items())]
    return chosen


def _gate(node: Any, path: str, problems: list[tuple[str, str]]) -> Gate:
    if node is None:
        return Gate()
    gate = mapping(node)
    bake = 0
    if "bake" in gate:
        bake = duration_seconds(gate.get("bake"))
        if bake is None:
            problems.append(("InvalidSpec", f"{path}.bake: a duration like 90s, 10m or 1h30m, got {gate['bake']!r}"))
            bake = 0
    analysis, wrong = parse_ref(gate.get("analysis"), f"{path}.analysis")
    problems += [("InvalidSpec", problem) for problem in wrong]
    made = Gate(bake_seconds=bake, approval=gate.get("approval") is True, analysis=analysis)
    if made.empty and "bake" not in gate and not wrong:  # `gate: {}` waits for nothing: a mistake, say so
        problems.append(("EmptyGate", f"{path}: a gate needs bake, analysis or approval: true"))
    return made


def duration_seconds(value: Any) -> int | None:
    match = _DURATION.match(text(value))
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_requests(annotations: Mapping[str, Any]) -> Requests:
    """ecsbg.dev/approve: "<attempt>:<wave>", ecsbg.dev/abort and ecsbg.dev/retry: "<attempt>". A value that does
    not parse is a problem reported once (Warning InvalidRequest), never an invalid wave."""
    problems: list[str] = []
    approve: set[tuple[int, str]] = set()
    numbers: dict[str, set[int]] = {"abort": set(), "retry": set()}
    value = annotations.get(PREFIX + "approve")
    if value is not None:
        attempt, _, wave = str(value).strip().partition(":")
        if attempt.isdigit() and int(attempt) > 0 and _NAME.match(wave):
            approve.add((int(attempt), wave))
        else:
            problems.append(f"metadata.annotations[{PREFIX}approve]: must be <attempt>:<wave> "
                            f"(status.attempt and the waiting wave, e.g. 1:staging), got {value!r}")
    for kind in numbers:
        value = annotations.get(PREFIX + kind)
        if value is None:
            continue
        if str(value).strip().isdigit() and int(str(value).strip()) > 0:
            numbers[kind].add(int(str(value).strip()))
        else:
            problems.append(f"metadata.annotations[{PREFIX}{kind}]: must be the attempt number (status.attempt), "
                            f"got {value!r}")
    return Requests(approve=frozenset(approve), abort=frozenset(numbers["abort"]),
                    retry=frozenset(numbers["retry"]), problems=tuple(problems))
