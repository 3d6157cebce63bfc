"""Fakes for the automated-analysis seams: a template/Secret source backed by dicts and a scripted provider."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecsbg.domain.analysis.provider import MeasurementError


@dataclass
class FakeTemplateSource:
    templates: dict[tuple[str, str, str], Mapping[str, Any]] = field(default_factory=dict)  # (kind, ns, name)
    secrets: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (ns, name, key)

    def add(self, obj: Mapping[str, Any], namespace: str = "ns") -> None:
        kind = obj.get("kind", "EcsAnalysisTemplate")
        scope = "" if kind == "ClusterEcsAnalysisTemplate" else namespace
        self.templates[(kind, scope, obj["metadata"]["name"])] = obj

    async def template(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        scope = "" if kind == "ClusterEcsAnalysisTemplate" else namespace
        return self.templates.get((kind, scope, name))

    async def secret(self, namespace: str, name: str, key: str) -> str | None:
        return self.secrets.get((namespace, name, key))


@dataclass
class FakeProvider:
    """Answers the scripted results in order (the last one repeats); an Exception instance is raised instead."""

    results: deque[Any] = field(default_factory=deque)
    last: Any = None
    seen: list[Mapping[str, Any]] = field(default_factory=list)

    def script(self, *results: Any) -> None:
        self.results.extend(results)

    async def measure(self, config: Mapping[str, Any], *, namespace: str) -> Any:
        self.seen.append(dict(config))
        if self.results:
            self.last = self.results.popleft()
        if isinstance(self.last, MeasurementError):
            raise self.last
        return self.last
