"""We test that every code path tolerates any JSON a Kubernetes API can hand over (issue 18 defect 5): a body
that bypassed the CRD schema (`spec: "hello"`, `spec.target: [...]`, odd metadata and status) gets phase
Invalid, one Warning, and no exception, however many passes run.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from ecsbg.domain.observation import Observation
from ecsbg.loop import _one_pass
from ecsbg.reconciler import LoopState
from ecsbg.releasebook import ReleaseBook
from tests.fakes.ecs import FakeEcsGateway
from tests.unit.test_reconciler import SERVICE, body, make_deps


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = body()
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def _without_spec() -> dict[str, Any]:
    out = body()
    del out["spec"]
    return out


HOSTILE = {
    "spec-string": _with(("spec",), "hello"),
    "spec-list": _with(("spec",), [1, 2]),
    "spec-null": _with(("spec",), None),
    "spec-missing": _without_spec(),
    "target-list": _with(("spec", "target"), ["us-east-1", "demo", "web"]),
    "target-string": _with(("spec", "target"), "demo/web"),
    "target-fields-lists": _with(("spec", "target"), {"region": ["us-east-1"], "cluster": {"a": 1}, "service": 5}),
    "strategy-string": _with(("spec", "strategy"), "BlueGreen"),
    "strategy-type-object": _with(("spec", "strategy"), {"type": {"name": "BlueGreen"}}),
    "task-definition-number": _with(("spec", "taskDefinition"), 42),
    "containers-string": _with(("spec", "taskDefinition"), {"containers": "app"}),
    "hooks-object": _with(("spec", "lifecycleHooks"), {"type": "Pause"}),
    "requests-list": _with(("spec", "requests"), ["approve"]),
    "metadata-generation-string": {**_with(("spec", "strategy"), "x"),
                                   "metadata": {"name": "web", "namespace": "default", "generation": "two"}},
    "metadata-annotations-list": {**_with(("spec", "strategy"), "x"),
                                  "metadata": {"name": "web", "namespace": "default", "annotations": ["a"]}},
    "metadata-string": {**_with(("spec", "strategy"), "x"), "metadata": "web"},
    "status-string": {**_with(("spec", "target"), []), "status": "Succeeded"},
    "status-odd-fields": {**_with(("spec", "target"), []),
                          "status": {"phase": 3, "attempt": "x", "conditions": "Ready", "deployment": [1]}},
}


@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_a_body_that_bypassed_the_schema_is_invalid_once_and_never_raises(hostile, caplog) -> None:
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    state = LoopState(claims=lambda key: [("2026-01-01T00:00:00Z", "default/web")])
    caplog.set_level(logging.DEBUG)
    for _ in range(3):  # a few polls: the first reports, the next ones stay quiet
        await _one_pass(body=copy.deepcopy(hostile), namespace="default", name="web", deps=deps, state=state)
    assert state.last_status is not None and state.last_status["phase"] == "Invalid", state.last_status
    assert [r.reason for r in deps.events.records] == ["InvalidSpec"]  # type: ignore[attr-defined]
    assert gateway.observed == [] and gateway.applied == []
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    assert deps.metrics.of("release_state")  # type: ignore[attr-defined]


@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
def test_the_release_book_tolerates_any_body(hostile) -> None:
    book = ReleaseBook()
    book.put(copy.deepcopy(hostile))
    assert len(book) == 1
    if not isinstance(hostile.get("spec"), dict) or not isinstance(hostile["spec"].get("target"), dict):
        assert book.claims(("us-east-1", "demo", "web")) == []


def test_the_release_book_keys_a_good_body_and_follows_its_changes() -> None:
    good = body()
    good["metadata"].update(name="web", creationTimestamp="2026-01-01T00:00:00Z")
    book = ReleaseBook()
    book.put(good)
    assert book.claims(("us-east-1", "demo", "web")) == [
        ("2026-01-01T00:00:00Z", "default/web", "")]  # no account named: ""
    moved = copy.deepcopy(good)
    moved["spec"]["target"]["service"] = "api"
    moved["status"] = {"phase": "Succeeded", "attempt": 2, "images": ["a@sha256:1"]}
    book.put(moved)
    assert book.claims(("us-east-1", "demo", "web")) == []
    assert book.claims(("us-east-1", "demo", "api")) == [("2026-01-01T00:00:00Z", "default/web", "")]
    assert book.state("default", "web") == {"phase": "Succeeded", "attempt": 2, "images": ["a@sha256:1"]}
    book.remove("default", "web")
    assert book.claims(("us-east-1", "demo", "api")) == [] and book.state("default", "web") is None
