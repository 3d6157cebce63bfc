"""The corpus of bad releases (tests/data/bad-releases/, issue 13), end to end against the operator.

Each file is a release whose header says what the operator must answer: `expect-phase`, a fragment of the
condition message (`expect-message`, JSON) and the Warning Event reason (`expect-event`). They are written past
the API server's admission (as an old CRD, a direct etcd write or a schema bypass would let them through), so the
operator itself must refuse each one: its specific condition and Event, 0 AWS writes, 0 tracebacks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import GV, PLURAL, ReleaseEnv

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad-releases"
# Releases the API server refuses every write to, status included (stored past an older schema without a spec):
# the verdict can only go out as Events, each reason once (`expect-event` lists them), and nothing may loop.
UNWRITABLE = CORPUS / "unwritable"
WRITES = ("UpdateService", "RegisterTaskDefinition", "ContinueServiceDeployment", "StopServiceDeployment",
          "TagResource")


def load(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    text = path.read_text()
    header = {}
    for line in text.splitlines():
        if line.startswith("# expect-"):
            key, _, value = line[len("# expect-"):].partition(":")
            header[key.strip()] = value.strip()
    header["message"] = json.loads(header["message"])
    return yaml.safe_load(text), header


def test_the_corpus_is_large_and_every_file_says_what_to_expect() -> None:
    files = sorted(CORPUS.glob("*.yaml"))
    assert len(files) >= 50
    for path in files:
        body, expect = load(path)
        assert body["metadata"]["name"] == path.stem
        assert expect["phase"] in ("Invalid", "Failed") and expect["event"] and expect["message"], path.name


# Only the dev cluster's store can be written past admission; without this mark the backend split
# (conftest.ALSO_ON_DEVCLUSTER) would run it on the real server alone, where it could only skip.
@pytest.mark.parametrize("k8s_backend", ["devcluster"], indirect=True)
def test_every_bad_release_gets_its_condition_and_event_without_writes(release_env: ReleaseEnv, caplog) -> None:
    assert release_env.cluster.__class__.__name__ == "DevCluster", "needs the dev cluster's store"
    env = release_env
    caplog.set_level("INFO")
    env.start_operator()
    store = env.cluster.store
    res, _ = env.cluster._resource(GV, PLURAL)
    cases = {}
    for n, path in enumerate(sorted([*CORPUS.glob("*.yaml"), *UNWRITABLE.glob("*.yaml")])):
        body, expect = load(path)
        body["metadata"].update(namespace=env.namespace, uid=f"bad-{n}", generation=1,
                                creationTimestamp="2026-12-01T00:00:00Z")
        env.cluster.call(lambda b=body: store._commit(res, b, None))  # no admission
        cases[path.stem] = expect
    try:
        wrong = _wait_all(env, cases)
        assert wrong == {}
        time.sleep(1.0)  # many polls (20 ms apart): none may raise, none may warn again
        warnings = _warnings(env)
        repeated = {name: reasons for name, reasons in warnings.items()
                    if any(reasons.count(reason) != 1 for reason in cases[name]["event"].split(", "))}
        assert repeated == {}, "one Warning of the expected reason per release"
        assert [r.getMessage()[:200] for r in caplog.records if r.exc_info] == []
        assert [r for r in env.ecs.requests[env.seeded:] if r["operation"] in WRITES] == []
    finally:  # other tests list releases in every namespace
        for name in cases:
            env.cluster.delete(GV, PLURAL, env.namespace, name)


def _warnings(env: ReleaseEnv) -> dict[str, list[str]]:
    events = env.cluster.list("v1", "events", env.namespace)
    out: dict[str, list[str]] = {}
    for event in events.get("items", []) if isinstance(events, dict) else events:
        if event.get("type") == "Warning":
            out.setdefault(event["involvedObject"]["name"], []).append(event.get("reason"))
    return out


def _messages(env: ReleaseEnv, name: str) -> list[str]:
    events = env.cluster.list("v1", "events", env.namespace)
    return [e.get("message", "") for e in (events.get("items", []) if isinstance(events, dict) else events)
            if e["involvedObject"]["name"] == name]


def _wait_all(env: ReleaseEnv, cases: dict[str, dict[str, Any]], timeout: float = 90.0) -> dict[str, str]:
    """{name: what is wrong} for the releases not (yet) answered as expected when `timeout` ends."""
    deadline = time.monotonic() + timeout
    while True:
        wrong = {}
        warnings = _warnings(env)
        for name, expect in cases.items():
            if expect["phase"] == "none":
                if set(expect["event"].split(", ")) - set(warnings.get(name, [])):
                    wrong[name] = f"Warning Events {warnings.get(name)}"
                elif env.status(name):
                    wrong[name] = f"a status was written: {env.status(name)}"
                elif not any(expect["message"] in m for m in _messages(env, name)):
                    wrong[name] = f"no Event says {expect['message']!r}"
                continue
            status = env.status(name)
            stalled = {c["type"]: c for c in status.get("conditions") or []}.get("Stalled") or {}
            if status.get("phase") != expect["phase"]:
                wrong[name] = f"phase {status.get('phase')}"
            elif expect["message"] not in status.get("message", "") or expect["message"] not in stalled.get(
                    "message", ""):
                wrong[name] = f"message {status.get('message', '')[:300]!r}"
            elif expect["event"] not in warnings.get(name, []):
                wrong[name] = f"Warning Events {warnings.get(name)}"
        if not wrong or time.monotonic() > deadline:
            return wrong
        time.sleep(0.2)
