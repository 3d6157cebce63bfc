"""CEL conditions over `result` (cel-python, the library the dev cluster already uses for CRD rules).

Expressions are compiled when a template is parsed, so a bad expression is a parse error naming the metric and
the field, never a measurement that fails later. Evaluation answers True/False or raises CelError (a missing
field, a type mismatch, a non-boolean result): the measurement is then an Error, counted towards
consecutiveErrorLimit, never a success.
"""

from __future__ import annotations

from typing import Any

import celpy  # pure Python, no I/O: allowed in the domain (docs/design.md "Layers")
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

_ENV = celpy.Environment()


class CelError(ValueError):
    pass


def compile_condition(expression: str) -> Any:
    """A program for `expression`; CelError with the parser's message (line, column, caret) when it is bad."""
    if not expression.strip():
        raise CelError("empty expression")
    try:
        ast = _ENV.compile(expression)
        return _ENV.program(ast)
    except CELParseError as exc:
        raise CelError(" ".join(str(exc).split())) from exc
    except Exception as exc:  # celpy raises lark errors for some malformed input
        raise CelError(f"{type(exc).__name__}: {exc}") from exc


def evaluate(program: Any, result: Any) -> bool:
    """Evaluate a compiled condition with `result` bound to the provider's result (JSON-like)."""
    try:
        value = program.evaluate({"result": celpy.json_to_cel(result)})
    except CELEvalError as exc:
        raise CelError(_eval_message(exc)) from exc
    except Exception as exc:  # celpy surfaces some type errors as Python exceptions
        raise CelError(f"{type(exc).__name__}: {exc}") from exc
    if isinstance(value, CELEvalError):
        raise CelError(_eval_message(value))
    if not isinstance(value, bool):  # BoolType subclasses int, not bool: compare by type name
        if type(value).__name__ != "BoolType":
            raise CelError(f"the condition gave {type(value).__name__} {value!r}, not a boolean")
    return bool(value)


def _eval_message(exc: CELEvalError) -> str:
    args = exc.args
    return str(args[0]) if args else str(exc)
