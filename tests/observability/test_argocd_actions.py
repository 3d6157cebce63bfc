"""deploy/argocd actions (approve, reject, abort, retry) over every case of their action_test.yaml, in Lua 5.1.

Argo CD's layout: actions/discovery.lua says which buttons are enabled, actions/<name>/action.lua returns the
object with the request annotation set, and Argo CD patches the live release with the difference. The rules are
the plugin's (ecsbg.plugin.operations.decide): checked here for every release of the health check's testdata.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lupa import lua51

from ecsbg.domain.model import RequestKind
from ecsbg.plugin.operations import decide
from tests.observability.argocd_lua import run
from tests.observability.tools import REPO

KIND_DIR = REPO / "deploy" / "argocd" / "resource_customizations" / "ecsbg.dev" / "EcsBlueGreenRelease"
ACTIONS = KIND_DIR / "actions"
SUITE = yaml.safe_load((ACTIONS / "action_test.yaml").read_text())
NAMES = ("approve", "reject", "abort", "retry")


def load(path: str) -> dict:
    return yaml.safe_load((ACTIONS / path).read_text())


def discover(obj: dict) -> dict[str, dict]:
    return run((ACTIONS / "discovery.lua").read_text(), obj)


def act(name: str, obj: dict) -> dict:
    return run((ACTIONS / name / "action.lua").read_text(), obj)


@pytest.mark.parametrize("case", SUITE["discoveryTests"], ids=lambda c: Path(c["inputPath"]).stem)
def test_discovery_case(case):
    got = discover(load(case["inputPath"]))
    want = {entry["name"]: {k: v for k, v in entry.items() if k != "name"} for entry in case["result"]}
    assert got == want


@pytest.mark.parametrize("case", SUITE["actionTests"], ids=lambda c: f"{c['action']}-{Path(c['inputPath']).stem}")
def test_action_case(case):
    before = load(case["inputPath"])
    after = act(case["action"], before)
    assert after == load(case["expectedOutputPath"])
    # The only change is the one request annotation, naming the current attempt, so Argo CD's patch is just that.
    key = f"ecsbg.dev/{case['action']}"
    assert after["metadata"]["annotations"][key] == str(before["status"]["attempt"])
    del after["metadata"]["annotations"][key]
    before.setdefault("metadata", {}).setdefault("annotations", {}).pop(key, None)
    assert {**after, "metadata": {k: v for k, v in after["metadata"].items() if v != {}}} == {
        **before, "metadata": {k: v for k, v in before["metadata"].items() if v != {}}}


@pytest.mark.parametrize("case", SUITE["errorTests"], ids=lambda c: f"{c['action']}-{Path(c['inputPath']).stem}")
def test_refused_action_fails_with_the_plugins_message(case):
    with pytest.raises(lua51.LuaError) as raised:
        act(case["action"], load(case["inputPath"]))
    assert str(raised.value) == case["expectedErrorMessage"]


HEALTH_CASES = sorted((KIND_DIR / "testdata").glob("*.yaml")) + sorted((ACTIONS / "testdata").glob("*.yaml"))


@pytest.mark.parametrize("path", HEALTH_CASES, ids=lambda p: p.stem)
def test_buttons_and_actions_follow_the_plugins_rules(path):
    """Every release of the testdata: a button is enabled exactly when the plugin would send the request, and
    the action either sets the plugin's annotation or fails with the plugin's refusal."""
    obj = yaml.safe_load(path.read_text())
    buttons = discover(obj)
    assert set(buttons) == set(NAMES)
    for name in NAMES:
        decision = decide(RequestKind(name), obj)
        assert buttons[name]["disabled"] is (not decision.ok), name
        if decision.ok:
            assert act(name, obj)["metadata"]["annotations"][decision.annotation] == str(decision.attempt)
        else:
            with pytest.raises(lua51.LuaError) as raised:
                act(name, obj)
            assert str(raised.value) == decision.message


def test_every_action_folder_is_discovered_and_tested():
    folders = {p.name for p in ACTIONS.iterdir() if (p / "action.lua").exists()}
    assert folders == set(NAMES)
    tested = {c["action"] for c in SUITE["actionTests"]} & {c["action"] for c in SUITE["errorTests"]}
    assert tested == set(NAMES)
    used = {Path(c["expectedOutputPath"]).name for c in SUITE["actionTests"]}
    used |= {Path(c["inputPath"]).name for c in SUITE["actionTests"] if c["inputPath"].startswith("testdata/")}
    assert used == {p.name for p in (ACTIONS / "testdata").glob("*.yaml")}


def test_the_argocd_cm_copy_is_the_scripts():
    patch = yaml.safe_load((REPO / "deploy" / "argocd" / "argocd-cm-patch.yaml").read_text())
    copy = yaml.safe_load(patch["data"]["resource.customizations.actions.ecsbg.dev_EcsBlueGreenRelease"])
    assert copy["discovery.lua"] == (ACTIONS / "discovery.lua").read_text()
    assert [d["name"] for d in copy["definitions"]] == list(NAMES)
    for definition in copy["definitions"]:
        assert definition["action.lua"] == (ACTIONS / definition["name"] / "action.lua").read_text()
