"""`ecsbg emulator` as a process: prints its URL, serves boto3, writes --record, exits 0 on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.plugins.ecs import make_client

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
    return subprocess.Popen([sys.executable, "-m", "ecsbg", "emulator", "--host", "127.0.0.1", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def test_serves_until_sigterm(tmp_path):
    record = tmp_path / "record.jsonl"
    proc = start("--port", "0", "--speed", "100", "--record", str(record), "--faults", "latency:1ms")
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        client = make_client(url)
        assert client.create_cluster(clusterName="cli")["cluster"]["clusterName"] == "cli"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    assert [e["operation"] for e in entries] == ["CreateCluster"]


def test_bad_fault_spec_exits_2():
    proc = start("--port", "0", "--faults", "explode")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "bad --faults" in err
