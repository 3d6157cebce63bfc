"""A reduced run of issue 12's scale benchmark (bench/scale.py) with a few releases: every section runs against
the real `ecsbg run`, the dev cluster, the ECS emulator and moto's SQS, so the benchmark cannot rot between
`make bench` runs. Invariants only, never timings: every release reaches Succeeded in every section (the bench
raises otherwise), every stage change reaches the status, a SIGKILLed active replica deploys nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.scale import parse, run

from tests.plugins.k8s import E2E

pytestmark = pytest.mark.skipif(E2E, reason="runs its own dev cluster")


def test_the_scale_smoke_runs_every_section(tmp_path: Path) -> None:
    # one start at a time: the mass start's releases queue for the slot (ECSBG_MAX_CONCURRENT_STARTS) and all
    # still succeed
    args = parse(["--smoke", "--operator-env", "ECSBG_MAX_CONCURRENT_STARTS=1"])
    figures = {figure: (target, measured, baseline) for figure, target, measured, baseline
               in run(args, tmp_path).rows}
    assert len(figures) == 16, sorted(figures)
    propagation = [measured for figure, (_, measured, _) in figures.items() if "-> status" in figure]
    assert len(propagation) == 4 and not [m for m in propagation if m == "never"], propagation
    assert figures["handover: double UpdateService / lost / invented transitions"][1] == "0 / 0 / 0"
    economy = [row for figure, row in figures.items() if figure.startswith("Describe* per release-minute")]
    assert len(economy) == 2 and all(float(baseline.split()[1].rstrip(";")) > 0 for _, _, baseline in economy)


def test_operator_env_takes_ecsbg_settings_only(capsys) -> None:
    assert parse(["--operator-env", "ECSBG_A=1", "--operator-env", "ECSBG_B=x=y"]).operator_env == {
        "ECSBG_A": "1", "ECSBG_B": "x=y"}
    for wrong in ("PATH=/tmp", "ECSBG_A"):
        with pytest.raises(SystemExit):
            parse(["--operator-env", wrong])
        assert "--operator-env takes ECSBG_NAME=VALUE" in capsys.readouterr().err
