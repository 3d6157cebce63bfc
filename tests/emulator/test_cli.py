"""`ecsbg emulator` as a process: prints its URL, serves boto3, writes --record, exits 0 on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError

from tests.plugins.ecs import make_client

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
    return subprocess.Popen([sys.executable, "-m", "ecsbg", "emulator", "--host", "127.0.0.1", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def test_serves_until_sigterm(tmp_path):
    record = tmp_path / "record.jsonl"
    proc = start("--port", "0", "--speed", "100", "--record", str(record), "--faults", "latency:1ms",
                 "--regions", "us-east-1, eu-central-1")
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        client = make_client(url)
        assert client.create_cluster(clusterName="cli")["cluster"]["clusterName"] == "cli"
        eu_west = boto3.client("ecs", endpoint_url=url, region_name="eu-west-1", aws_access_key_id="k",
                               aws_secret_access_key="s", config=Config(retries={"total_max_attempts": 1}))
        with pytest.raises(ConnectionClosedError):  # not in --regions: no endpoint for it here
            eu_west.list_clusters()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(e["operation"], e["region"], e["errorCode"]) for e in entries] == [
        ("CreateCluster", "us-east-1", None), ("ListClusters", "eu-west-1", "UnknownEndpoint")]


def test_bad_fault_spec_exits_2():
    proc = start("--port", "0", "--faults", "explode")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "bad --faults" in err
