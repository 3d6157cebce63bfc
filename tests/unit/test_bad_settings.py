"""A setting the operator cannot read stops `ecsbg run` with one line naming the variable and what it takes (exit
2), not a traceback ending in Python's own words ("could not convert string to float: 'abc'")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecsbg.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("key", "raw", "says"), [
    ("ECSBG_POLL_FAST_SECONDS", "abc", "must be a number of seconds, got 'abc'"),
    ("ECSBG_POLL_IDLE_SECONDS", "-5", "must be a positive number of seconds"),
    ("ECSBG_METRICS_PORT", "http", "must be a whole number, got 'http'"),
    ("ECSBG_HEALTH_PORT", "70000", "must be a port number (0: off), got 70000"),
    ("ECSBG_MAX_CONCURRENT_STARTS", "lots", "must be a whole number, got 'lots'"),
])
def test_each_unreadable_setting_is_named_with_what_it_takes(key, raw, says):
    with pytest.raises(ValueError) as refused:
        Settings.from_env({key: raw})
    assert str(refused.value).startswith(f"{key} {says}")


def test_ports_take_zero_to_turn_their_server_off():
    settings = Settings.from_env({"ECSBG_METRICS_PORT": "0", "ECSBG_HEALTH_PORT": "9000"})
    assert (settings.metrics_port, settings.health_port) == (0, 9000)


def test_ecsbg_run_stops_with_one_line_and_exit_code_2():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECSBG_")}
    done = subprocess.run([sys.executable, "-m", "ecsbg", "run"], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**env, "ECSBG_POLL_FAST_SECONDS": "abc"}, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "ecsbg run: ECSBG_POLL_FAST_SECONDS must be a number of seconds, got 'abc'"
