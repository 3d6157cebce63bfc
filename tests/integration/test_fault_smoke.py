"""A reduced run of issue 13's fault campaign (bench/faults.py): the operator as its own process, SIGKILLed
after RegisterTaskDefinition (UpdateService never reached ECS), with the status patch recording the deployment
in flight, while a PAUSE waits (the approval set while no operator runs) and at a Linear production step.

The invariants only, never timings: 0 double UpdateService, 0 duplicate task-definition revisions, no stage
transition lost or invented, 0 tracebacks, each release's final phase as expected.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.faults import SMOKE, Result, compare_stages, run_campaign, scenarios

from tests.plugins.k8s import E2E

pytestmark = pytest.mark.skipif(E2E, reason="runs its own dev cluster")


def test_the_campaign_smoke_keeps_every_invariant(tmp_path: Path) -> None:
    chosen = [s for s in scenarios(full=False) if s.name in SMOKE]
    assert len(chosen) == len(SMOKE)
    results = run_campaign(chosen, 20.0, tmp_path, parallel=len(chosen))
    clean = [Result(r.scenario, phase_ok=True) for r in results]
    found = [Result(r.scenario, r.double_deploys, r.duplicate_revisions, r.lost, r.invented, r.tracebacks,
                    r.phase_ok, note=r.note) for r in results]
    assert found == clean


def test_the_stage_comparison_counts_lost_and_invented_stages() -> None:
    ecs = [{"status": "PENDING", "stage": None}, {"status": "IN_PROGRESS", "stage": "PRE_SCALE_UP"},
           {"status": "IN_PROGRESS", "stage": "SCALE_UP"}, {"status": "IN_PROGRESS", "stage": "BAKE_TIME"},
           {"status": "ROLLBACK_IN_PROGRESS", "stage": "PRODUCTION_TRAFFIC_SHIFT"}]
    same = [{"stage": "PRE_SCALE_UP"}, {"stage": "SCALE_UP"}, {"stage": "BAKE_TIME"},
            {"stage": "PRODUCTION_TRAFFIC_SHIFT", "rollback": True}]
    assert compare_stages(ecs, same) == (0, 0)
    assert compare_stages(ecs, [{"stage": "PRE_SCALE_UP"}, {"stage": "BAKE_TIME"}]) == (1, 0)
    assert compare_stages(ecs, same[:3] + [{"stage": "CLEAN_UP"}]) == (0, 1)
