"""Fault injection for the reliability suite.

Spec: comma-separated rules `KIND[:VALUE][@Op1|Op2][#COUNT]`, plus an optional `seed:N`.
- KIND `throttle` (ThrottlingException, 400), `error` (ServerException, 500), `unavailable`
  (ServiceUnavailableException, 503), `deny` (AccessDeniedException, 400), `drop` (connection closed
  without an answer, request not handled), `lost` (request handled, then the connection closed without the
  answer): VALUE is the probability 0..1 (or `20%`), default 1.
- KIND `latency`: VALUE is a delay (`50ms`, `2s`, or seconds), added to every matching request.
- `@Op1|Op2` limits a rule to those operations; `#COUNT` lets it fire at most COUNT times.
Example: `throttle:0.2@DescribeServices,latency:50ms,drop:0.05,deny@StopServiceDeployment#1,seed:7`.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

ERRORS = {
    "throttle": ("ThrottlingException", 400, "Rate exceeded"),
    "error": ("ServerException", 500, "Service encountered an internal error (injected)."),
    "unavailable": ("ServiceUnavailableException", 503, "Service unavailable (injected)."),
    "deny": ("AccessDeniedException", 400, "User is not authorized to perform this action (injected)."),
}
# `drop` closes the connection before the request is handled; `lost` handles it, then closes the connection
# without the answer: the write happened but the caller cannot know (a read timeout on a real network), which
# is what makes a client's automatic retry of a non-idempotent call dangerous.
KINDS = set(ERRORS) | {"drop", "lost", "latency"}


@dataclass
class Rule:
    kind: str
    rate: float = 1.0
    delay: float = 0.0
    operations: frozenset[str] = frozenset()
    remaining: int | None = None

    def matches(self, operation: str) -> bool:
        return (not self.operations or operation in self.operations) and self.remaining != 0


@dataclass
class Outcome:
    delay: float = 0.0
    drop: bool = False
    lost: bool = False
    error: tuple[str, int, str] | None = None


def _duration(text: str) -> float:
    if text.endswith("ms"):
        return float(text[:-2]) / 1000.0
    return float(text[:-1]) if text.endswith("s") else float(text)


def _rate(text: str) -> float:
    value = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"fault rate out of 0..1: {text}")
    return value


def parse(spec: str | None) -> tuple[list[Rule], int | None]:
    rules: list[Rule] = []
    seed = None
    for raw in filter(None, (part.strip() for part in (spec or "").split(","))):
        body, _, count = raw.partition("#")
        body, _, ops = body.partition("@")
        kind, _, value = body.partition(":")
        kind = kind.strip().lower()
        if kind == "seed":
            seed = int(value)
            continue
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r} in {raw!r}; known: {', '.join(sorted(KINDS))}")
        rule = Rule(kind=kind, operations=frozenset(o for o in ops.split("|") if o),
                    remaining=int(count) if count else None)
        if kind == "latency":
            rule.delay = _duration(value or "0")
        elif value:
            rule.rate = _rate(value)
        rules.append(rule)
    return rules, seed


class Faults:
    def __init__(self, spec: str | None = None) -> None:
        self._lock = threading.Lock()
        self.spec = ""
        self.rules: list[Rule] = []
        self._random = random.Random()
        self.set(spec)

    def set(self, spec: str | None) -> None:
        rules, seed = parse(spec)  # parse first: a bad spec leaves the current rules in place
        with self._lock:
            self.spec, self.rules = spec or "", rules
            self._random = random.Random(seed)

    def decide(self, operation: str) -> Outcome:
        outcome = Outcome()
        with self._lock:
            for rule in self.rules:
                if not rule.matches(operation):
                    continue
                if rule.kind == "latency":
                    outcome.delay += rule.delay
                elif (outcome.error is None and not outcome.drop and not outcome.lost
                      and self._random.random() < rule.rate):
                    outcome.drop = rule.kind == "drop"
                    outcome.lost = rule.kind == "lost"
                    outcome.error = ERRORS.get(rule.kind)
                else:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
        return outcome
