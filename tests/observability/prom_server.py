"""A real Prometheus server for a test: temporary config and TSDB, 127.0.0.1 on a free port, fast scrapes."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.observability.promql import RULES
from tests.observability.tools import free_port, require

JOB = "ecsbg"


class PrometheusServer:
    def __init__(self, workdir: Path, target: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "500ms", "evaluation_interval": "500ms", "scrape_timeout": "500ms"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self._log = (workdir / "prometheus.log").open("wb")
        self._proc = subprocess.Popen(
            [
                require("prometheus"),
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._logfile = workdir / "prometheus.log"
        self.scraped_at: float | None = None  # the last successful scrape wait_for_scrape saw

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._log.close()

    def log(self) -> str:
        return self._logfile.read_text(errors="replace")[-3000:]

    def _get(self, path: str, **params: str) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}" if params else f"{self.url}{path}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read()) if path.startswith("/api/") else response.read()

    def wait_ready(self, deadline: float = 60) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self._proc.poll() is not None:
                raise AssertionError(f"prometheus exited with {self._proc.returncode}:\n{self.log()}")
            try:
                self._get("/-/ready")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"prometheus not ready after {deadline}s:\n{self.log()}")

    def query(self, promql: str, now: bool = False) -> list[dict[str, Any]]:
        """Evaluate at the last scrape wait_for_scrape saw succeed (at the current time before one, or if `now`).

        A scrape that times out on a loaded machine marks every series stale, so an instant query just after
        it finds nothing although the operator exports everything: the checks read the state they waited for.
        """
        params = {"query": promql}
        if self.scraped_at is not None and not now:
            params["time"] = repr(self.scraped_at)
        body = self._get("/api/v1/query", **params)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def rules(self) -> list[dict[str, Any]]:
        return [rule for group in self._get("/api/v1/rules")["data"]["groups"] for rule in group["rules"]]

    def wait_for_scrape(self, deadline: float = 30) -> None:
        """Return once a scrape that started after this call succeeded and was stored: it saw everything done before.

        A failed scrape in between (the source too slow for the 500 ms timeout once) is waited past; none
        succeeding within the deadline fails with Prometheus's log.
        """
        since = time.time()
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            # the raw samples with their own timestamps: value and time of each scrape come from one read
            result = self.query(f'up{{job="{JOB}"}}[5s]', now=True)
            # Prometheus may shift a scrape's timestamp by up to 2 ms to align it (--scrape.adjust-timestamps).
            good = [float(at) for at, up in (result[0]["values"] if result else []) if float(at) > since + 0.01
                    and up == "1"]
            if good:
                self.scraped_at = max(good)
                return
            time.sleep(0.2)
        raise AssertionError(f"no successful scrape within {deadline}s:\n{self.log()}")
