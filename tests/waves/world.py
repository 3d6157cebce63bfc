"""A pure stand-in for the child releases: applies a pass's writes, lets a test set each child's outcome."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from ecsbg.domain.waves.status import Outcome, wave_pass

T0 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
IMAGE = "111122223333.dkr.ecr.us-east-1.amazonaws.com/web:2"


def wave_body(waves: list[dict[str, Any]], targets: list[dict[str, Any]] | None = None, *,
              rollback: bool = False, **template: Any) -> dict[str, Any]:
    targets = targets if targets is not None else [
        {"name": f"t{i}", "region": "us-east-1" if i < 3 else "eu-west-1", "cluster": "demo", "service": f"s{i}",
         "labels": {"tier": "one" if i < 3 else "two"}} for i in range(5)]
    return {"apiVersion": "ecsbg.dev/v1alpha1", "kind": "EcsReleaseWave",
            "metadata": {"name": "w", "namespace": "ns", "uid": "uid-w", "generation": 1, "annotations": {}},
            "spec": {"template": {"taskDefinition": {"containers": [{"name": "app", "image": IMAGE}]},
                                  "strategy": {"type": "BlueGreen"}, **template},
                     "targets": targets, "waves": waves, "failurePolicy": {"rollback": rollback}}}


def apply_json_patch(child: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    """The few JSON Patch ops the wave sends (add, replace, remove on objects); a spec change bumps generation."""
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].strip("/").split("/")]
        node = child
        for part in parts[:-1]:
            node = node[part]
        if op["op"] == "remove":
            del node[parts[-1]]
        else:
            if parts[0] == "spec":
                child["metadata"]["generation"] += 1
            node[parts[-1]] = copy.deepcopy(op["value"])


class World:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body, self.children, self.now = body, {}, T0
        self.claims: dict[Any, list[Any]] = {}
        self.created: list[str] = []
        self.patched: list[str] = []
        self.templates: dict[tuple[str, str], Any] | None = {}  # analysis templates that exist (None: no analysis)
        self.analyses: dict[str, Any] = {}  # gate runs as the loop measured them before the next pass

    def step(self, seconds: float = 1.0, resolved: Any = None) -> Outcome:
        """`resolved`: what the loop's ecsbg.pinning found for this pass (digests, Unresolved, or None)."""
        self.now += timedelta(seconds=seconds)
        out = wave_pass(self.body, list(self.children.values()), lambda key: self.claims.get(key, []), self.now,
                        templates=self.templates, analyses=self.analyses, resolved=resolved)
        for write in out.writes:
            if write.kind == "create":
                assert write.name not in self.children, f"created twice: {write.name}"
                self.children[write.name] = copy.deepcopy({**write.body, "status": {}})
                self.children[write.name]["metadata"]["generation"] = 1
                self.created.append(write.name)
            else:
                self._patch(write.name, write.ops)
                self.patched.append(write.name)
        self.body["status"] = {k: v for k, v in out.status.items() if v is not None}
        return out

    def _patch(self, name: str, ops: list[dict[str, Any]]) -> None:
        apply_json_patch(self.children[name], ops)

    def finish(self, name: str, phase: str = "Succeeded", source: str = "arn:td/web:1") -> None:
        """The child's operator observed its spec and its attempt ended in `phase`."""
        child = self.children[name]
        status = child.setdefault("status", {})
        status.update({"observedGeneration": child["metadata"]["generation"], "phase": phase,
                       "attempt": status.get("attempt", 0) + 1, "source": {"taskDefinitionArn": source}})

    def states(self) -> dict[str, str]:
        return {t["name"]: t["state"] for w in self.body["status"].get("waves") or [] for t in w["targets"]}
