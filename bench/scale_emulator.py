"""The ECS emulator of bench.scale in its own process (`ecsbg emulator`), so the servers the operator talks to do
not share one interpreter lock: in the bench's process, the emulator and the dev cluster together held a core and
the operator waited on their answers (py-spy: its event loop busy about half the time), which measured them, not
the operator. What the bench reads from it: the request record (`--record`, one JSON line per request, the wall
clock instant in `time`) and the control API's state (each deployment's history, with instants)."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.plugins.process import free_port


class RemoteEmulator:
    def __init__(self, work: Path, speed: float, events_queue: str | None) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.record = work / "ecs-requests.jsonl"
        self._log = (work / "emulator.log").open("wb")
        binary = shutil.which("ecsbg", path=str(Path(sys.executable).parent)) or "ecsbg"
        args = [binary, "emulator", "--port", str(port), "--speed", f"{speed:g}", "--record", str(self.record)]
        self.proc = subprocess.Popen(args + (["--events-queue", events_queue] if events_queue else []),
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.control = self  # seed_services reads `ecs.control.state()`, as of an in-process emulator
        self._requests: list[dict[str, Any]] = []
        self._offset = 0
        deadline = time.monotonic() + 30
        while True:
            try:
                self.state()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.1)

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_emulator/state", timeout=60) as answer:
            return json.loads(answer.read())

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request so far, each with `wall`: its instant as epoch seconds (read on from the last call)."""
        if self.record.exists():
            with self.record.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
            complete = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
            self._offset += len(complete)
            for line in complete.splitlines():
                entry = json.loads(line)
                entry["wall"] = epoch(entry["time"])
                self._requests.append(entry)
        return self._requests

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@contextlib.contextmanager
def moto_process(work: Path, port: int) -> Iterator[str]:
    """moto's server (`moto_server`, from moto[server]) in its own process on `port`; yields its URL."""
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    with (work / "moto.log").open("wb") as log:
        proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"{url}/moto-api/", timeout=5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def events_queue(moto: str) -> str:
    """Creates the queue ECS events go to on the moto server at `moto`; its URL."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1", aws_access_key_id="bench",
                       aws_secret_access_key="bench")
    return str(sqs.create_queue(QueueName="ecs-events")["QueueUrl"])
