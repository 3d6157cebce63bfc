"""Argo CD's Lua runtime for scripts in deploy/argocd, in lupa (Lua 5.1), and conversion of results to Python.

Argo CD runs resource customizations in gopher-lua (Lua 5.1) with only the base, table, package and a safe os
library (util/lua/lua.go): no string, math, io, debug or coroutine. The runtime removes those globals and the
string metatable's methods, so `s:find()` fails here as there. Tables come back as dicts, or lists when their
keys are 1..n, as gopher-lua's conversion to JSON does.
"""

from __future__ import annotations

from typing import Any

from lupa import lua51

CLOSED_LIBRARIES = ("string", "math", "io", "debug", "coroutine")


def argocd_runtime() -> lua51.LuaRuntime:
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    runtime.execute('getmetatable("").__index = nil')
    for library in CLOSED_LIBRARIES:
        runtime.globals()[library] = None
    return runtime


def run(script: str, obj: dict[str, Any]) -> Any:
    """Run `script` with the global `obj`, as Argo CD runs health, discovery and action scripts."""
    runtime = argocd_runtime()
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    return to_python(runtime.execute(script))


def to_python(value: Any) -> Any:
    if lua51.lua_type(value) != "table":
        return int(value) if isinstance(value, float) and value.is_integer() else value
    items = {key: to_python(item) for key, item in value.items()}
    if items and set(items) == set(range(1, len(items) + 1)):
        return [items[i] for i in range(1, len(items) + 1)]
    return items
