"""deploy/argocd health.lua over every case of its health_test.yaml, the way Argo CD runs it: in lupa with the
libraries closed below, and in gopher-lua itself (tests/observability/engines.py).

Argo CD runs argocd-cm scripts in gopher-lua (Lua 5.1) with only the base, table, package and a safe os library
loaded (util/lua/lua.go): no string, math, io, debug or coroutine (../shared/reference/ecosystem.md 1b). The
runtime below removes those globals and the string metatable's methods, so `s:find()` fails here as there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from tests.observability.engines import argocd_health
from tests.observability.tools import REPO

ARGOCD = REPO / "deploy" / "argocd"
SCRIPT_DIR = ARGOCD / "resource_customizations" / "ecsbg.dev" / "EcsBlueGreenRelease"
SCRIPT = (SCRIPT_DIR / "health.lua").read_text()
CASES = yaml.safe_load((SCRIPT_DIR / "health_test.yaml").read_text())["tests"]
VALID = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
CLOSED_LIBRARIES = ("string", "math", "io", "debug", "coroutine")


def argocd_runtime() -> lua51.LuaRuntime:
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    runtime.execute('getmetatable("").__index = nil')  # "x":upper() then fails like in gopher-lua's closed VM
    for library in CLOSED_LIBRARIES:
        runtime.globals()[library] = None
    return runtime


def health(obj: dict[str, Any]) -> dict[str, str]:
    runtime = argocd_runtime()
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(SCRIPT)
    return {"status": result["status"], "message": result["message"]}


def test_the_runtime_really_lacks_the_closed_libraries():
    runtime = argocd_runtime()
    for snippet in ('return string.format("%d", 1)', 'return ("x"):upper()', "return math.floor(1.5)"):
        with pytest.raises(lua51.LuaError):
            runtime.execute(snippet)


@pytest.mark.parametrize("case", CASES, ids=lambda c: Path(c["inputPath"]).stem)
def test_health_case(case):
    obj = yaml.safe_load((SCRIPT_DIR / case["inputPath"]).read_text())
    got = health(obj)
    assert got["status"] in VALID
    assert got == case["healthStatus"]


def test_every_phase_and_testdata_file_has_a_case():
    from ecsbg.metrics.vocabulary import PHASES

    paths = {c["inputPath"] for c in CASES}
    assert paths == {f"testdata/{p.name}" for p in (SCRIPT_DIR / "testdata").glob("*.yaml")}
    phases = {yaml.safe_load((SCRIPT_DIR / p).read_text()).get("status", {}).get("phase") for p in paths}
    assert set(PHASES) <= phases


def test_the_argocd_cm_copies_are_the_script():
    """The README snippet and the argocd-cm patch embed health.lua; they must not drift from it."""
    patch = yaml.safe_load((ARGOCD / "argocd-cm-patch.yaml").read_text())
    assert patch["data"]["resource.customizations.health.ecsbg.dev_EcsBlueGreenRelease"] == SCRIPT
    readme = (ARGOCD / "README.md").read_text()
    indented = "".join(f"    {line}\n" if line else "\n" for line in SCRIPT.splitlines())
    assert "resource.customizations.health.ecsbg.dev_EcsBlueGreenRelease: |\n" + indented in readme


def test_gopher_lua_gives_every_case_the_same_health_as_lupa():
    """The same cases in gopher-lua, the VM Argo CD embeds, set up with the libraries Argo CD opens."""
    objects = [yaml.safe_load((SCRIPT_DIR / case["inputPath"]).read_text()) for case in CASES]
    got = argocd_health(objects)
    assert got == [health(obj) for obj in objects]
    assert got == [case["healthStatus"] for case in CASES]


def test_gopher_lua_lacks_the_closed_libraries_too(tmp_path):
    """The gopher-lua runner is set up as Argo CD's VM: string/math are not there, so such a script errors."""
    for n, snippet in enumerate(('return {status = string.format("%d", 1)}', "return {status = math.floor(1.5)}",
                                 'return {status = ("x"):upper()}')):
        script = tmp_path / f"s{n}.lua"
        script.write_text(snippet)
        (verdict,) = argocd_health([{}], script)
        assert "error" in verdict, verdict
