"""CRD `x-kubernetes-validations` (CEL) through cel-python, where that evaluator can run a rule.

Skipped (recorded in `CelRules.skipped`, logged once, never an error), because cel-python 0.5 lacks them:
- rules that do not parse in cel-python, e.g. optional field syntax `self.?x` or `optional.of()`;
- rules that call Kubernetes' CEL extension libraries (`quantity()`, `url()`, `ip()`, `cidr()`, `isSorted()`,
  `format.*`, `authorizer`), which surface as an "undeclared reference" while evaluating;
- `messageExpression` that fails the same way (the static `message`, or `failed rule: <rule>`, is used instead).
Everything else (has(), all/exists/map/filter, size, matches, string and list functions, transition rules with
`oldSelf`, `fieldPath`, `reason`) is evaluated and a false result gives a 422 like the apiserver's.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Any

from .errors import FieldError

logger = logging.getLogger(__name__)

_REASONS = {"FieldValueInvalid": "invalid", "FieldValueForbidden": "forbidden", "FieldValueRequired": "required",
            "FieldValueDuplicate": "duplicate"}


class _Unsupported(Exception):
    pass


class CelRules:
    """Compiles each rule once and evaluates it against `self` (and `oldSelf` on updates)."""

    def __init__(self) -> None:
        import celpy  # heavy (lark grammar); only loaded when a CRD carries rules

        self._celpy = celpy
        self._env = celpy.Environment()
        self._programs: dict[str, Any] = {}
        self._results: OrderedDict[tuple, Any] = OrderedDict()
        self.skipped: dict[str, str] = {}

    def _program(self, expr: str):
        if expr in self.skipped:
            raise _Unsupported(self.skipped[expr])
        program = self._programs.get(expr)
        if program is None:
            try:
                program = self._env.program(self._env.compile(expr))
            except Exception as exc:  # cel-python raises its own parse errors
                self._skip(expr, f"does not parse in cel-python: {str(exc).splitlines()[0]}")
            self._programs[expr] = program
        return program

    def _skip(self, expr: str, why: str) -> None:
        self.skipped[expr] = why
        logger.warning("CEL rule skipped (%s): %s", why, expr)
        raise _Unsupported(why)

    def _evaluate(self, expr: str, value: Any, old: Any, has_old: bool) -> Any:
        """Memoized: CEL is pure (Kubernetes offers no clock or I/O to rules), and cel-python's tree-walking
        evaluator costs about a millisecond per rule, while many objects share the same subtrees."""
        key = (expr, json.dumps(value, sort_keys=True), json.dumps(old, sort_keys=True) if has_old else None)
        if key in self._results:
            self._results.move_to_end(key)
            return self._results[key]
        result = self._evaluate_now(expr, value, old, has_old)
        self._results[key] = result
        if len(self._results) > 20_000:
            self._results.popitem(last=False)
        return result

    def _evaluate_now(self, expr: str, value: Any, old: Any, has_old: bool) -> Any:
        program = self._program(expr)
        activation = {"self": self._celpy.json_to_cel(value)}
        if has_old:
            activation["oldSelf"] = self._celpy.json_to_cel(old)
        try:
            result = program.evaluate(activation)
        except Exception as exc:
            result = exc
        if isinstance(result, Exception):
            text = str(result)
            if "undeclared reference" in text:
                self._skip(expr, "uses a function cel-python does not provide")
            raise ValueError(text.split(", <class")[0][:200])
        return result

    def __call__(self, value: Any, rules: list[dict], path: str, old: Any, has_old: bool,
                 shown: str = '"object"') -> list[FieldError]:
        errors = []
        for rule in rules:
            expr = rule.get("rule", "")
            if "oldSelf" in expr and not has_old:
                continue  # transition rules only run on updates of an existing value
            try:
                ok = bool(self._evaluate(expr, value, old, has_old))
            except _Unsupported:
                continue
            except ValueError as exc:
                errors.append(FieldError("invalid", path, shown, f"{expr}: {exc}"))
                continue
            if not ok:
                errors.append(self._failure(rule, value, path, old, has_old, shown))
        return errors

    def _failure(self, rule: dict, value: Any, path: str, old: Any, has_old: bool, shown: str) -> FieldError:
        message = rule.get("message") or f"failed rule: {rule.get('rule', '')}"
        if rule.get("messageExpression"):
            try:
                message = str(self._evaluate(rule["messageExpression"], value, old, has_old))
            except (_Unsupported, ValueError):
                pass
        field = path + (rule.get("fieldPath") or "") if path else (rule.get("fieldPath") or "").lstrip(".")
        kind = _REASONS.get(rule.get("reason", ""), "invalid")
        return FieldError(kind, field, shown, message)
