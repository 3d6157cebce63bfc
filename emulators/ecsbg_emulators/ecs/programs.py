"""Deployment programs: the ordered steps a deployment walks, built from its strategy.

Each step is a tuple (kind, *args) the engine executes in order. Stage order and hook points follow
[doc: Amazon ECS blue/green service deployments workflow]; production steps follow
[doc: Amazon ECS linear deployments] and [doc: Creating an Amazon ECS canary deployment].
"""

from __future__ import annotations

from typing import Any

from . import stages

Step = tuple[Any, ...]
S = stages.STAGE_SECONDS


def production_steps(cfg: dict[str, Any]) -> list[tuple[float, float]]:
    """(production weight of the target, bake seconds after the step) for each production shift."""
    strategy = cfg.get("strategy", "ROLLING")
    if strategy == "LINEAR":
        linear = cfg.get("linearConfiguration") or {}
        step = float(linear.get("stepPercent", stages.DEFAULT_STEP_PERCENT))
        bake = 60.0 * linear.get("stepBakeTimeInMinutes", stages.DEFAULT_STEP_BAKE_MINUTES)
        weights, k = [], 1
        while round(k * step, 1) < 100.0:
            weights.append(round(k * step, 1))
            k += 1
        # "This bake time is not applied after reaching 100 percent traffic." [model]
        return [(w, bake) for w in weights] + [(100.0, 0.0)]
    if strategy == "CANARY":
        canary = cfg.get("canaryConfiguration") or {}
        pct = float(canary.get("canaryPercent", stages.DEFAULT_CANARY_PERCENT))
        bake = 60.0 * canary.get("canaryBakeTimeInMinutes", stages.DEFAULT_CANARY_BAKE_MINUTES)
        return [(100.0, 0.0)] if pct >= 100.0 else [(pct, bake), (100.0, 0.0)]
    return [(100.0, 0.0)]  # BLUE_GREEN: "an immediate (all-at-once) shift" [doc: workflow]


def _hook_stage(stage: str) -> list[Step]:
    return [("stage", stage), ("wait", S[stage]), ("hooks", stage)]


def initial_program(traffic: bool) -> list[Step]:
    """CreateService's first deployment: nothing to shift from, so the revision takes all traffic."""
    steps: list[Step] = [("wait", S["PENDING"]), ("status", "IN_PROGRESS"), ("stage", "SCALE_UP"), ("scale_up",)]
    if traffic:
        steps += [("test_shift",), ("prod_shift", 100.0)]
    return steps + [("finish",)]


def rolling_program() -> list[Step]:
    """ROLLING: start new tasks, then drain the old ones; no traffic stages."""
    return [
        ("wait", S["PENDING"]),
        ("status", "IN_PROGRESS"),
        *_hook_stage("PRE_SCALE_UP"),
        ("stage", "SCALE_UP"),
        ("scale_up",),
        *_hook_stage("POST_SCALE_UP"),
        ("stage", "CLEAN_UP"),
        ("wait", S["ROLLING_REPLACE"]),
        ("clean_up",),
        ("finish",),
    ]


def traffic_program(cfg: dict[str, Any], reconcile: bool) -> list[Step]:
    """BLUE_GREEN / LINEAR / CANARY."""
    steps: list[Step] = [("wait", S["PENDING"]), ("status", "IN_PROGRESS")]
    if reconcile:
        # "only happens when you start a new service deployment with more than 1 service revision in an
        # ACTIVE state" [doc: workflow]
        steps += _hook_stage("RECONCILE_SERVICE")
    steps += _hook_stage("PRE_SCALE_UP")
    steps += [("stage", "SCALE_UP"), ("scale_up",)]
    steps += _hook_stage("POST_SCALE_UP")
    steps += [("stage", "TEST_TRAFFIC_SHIFT"), ("test_shift",), ("wait", S["TEST_TRAFFIC_SHIFT"])]
    steps += [("hooks", "TEST_TRAFFIC_SHIFT")]
    steps += _hook_stage("POST_TEST_TRAFFIC_SHIFT")
    for weight, bake in production_steps(cfg):
        # PRE_PRODUCTION_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT hooks recur before/at every step [doc: hooks]
        steps += _hook_stage("PRE_PRODUCTION_TRAFFIC_SHIFT")
        steps += [("stage", "PRODUCTION_TRAFFIC_SHIFT"), ("prod_shift", weight)]
        steps += [("wait", S["PRODUCTION_TRAFFIC_SHIFT"]), ("hooks", "PRODUCTION_TRAFFIC_SHIFT")]
        if bake > 0:
            steps += [("wait", bake)]
    steps += _hook_stage("POST_PRODUCTION_TRAFFIC_SHIFT")
    bake_minutes = cfg.get("bakeTimeInMinutes")
    bake_minutes = stages.DEFAULT_BAKE_MINUTES if bake_minutes is None else bake_minutes
    steps += [("stage", "BAKE_TIME"), ("wait", 60.0 * bake_minutes)]
    steps += [("stage", "CLEAN_UP"), ("clean_up",), ("wait", S["CLEAN_UP"]), ("finish",)]
    return steps


def rollback_program(shift_back: bool, requested: bool) -> list[Step]:
    """Traffic back to the rollback target: production first, then test, then remove green.

    "When a roll back happens, Amazon ECS runs the lifecycle hooks for the following lifecycle stages:
    PRODUCTION_TRAFFIC_SHIFT, TEST_TRAFFIC_SHIFT" [doc: Lifecycle hooks for Amazon ECS service deployments]: so
    every rollback of a traffic-shifting deployment passes both stages and re-invokes their hooks (Lambda only:
    PAUSE hooks cannot be configured there), whatever stage it started from, and no other stage's hooks."""
    steps: list[Step] = []
    if requested:  # ROLLBACK_REQUESTED (user) -> ROLLBACK_IN_PROGRESS [doc: View service history]
        steps += [("wait", S["PENDING"]), ("status", "ROLLBACK_IN_PROGRESS")]
    if shift_back:
        for stage, shift in zip(stages.ROLLBACK_HOOK_STAGES, ("prod_back", "test_back"), strict=True):
            steps += [("stage", stage), (shift,), ("wait", S["ROLLBACK_SHIFT"]), ("hooks", stage)]
    return steps + [("stage", "CLEAN_UP"), ("scale_down_target",), ("wait", S["CLEAN_UP"]), ("finish_rollback",)]
