"""FakeWaveApi: the ecsbg.k8s.waves.WaveApi seam in memory, with a switch to fail the status patch (a process
killed between writing children and recording them)."""

from __future__ import annotations

import copy
from typing import Any

from ecsbg.k8s.waves import AlreadyExists


class FakeWaveApi:
    def __init__(self) -> None:
        self.releases: dict[str, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.creates: list[str] = []
        self.fail_status = False

    async def list_releases(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.releases.values()))

    async def create_release(self, namespace: str, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        if name in self.releases:
            raise AlreadyExists(name)
        self.creates.append(name)
        self.releases[name] = {**copy.deepcopy(body), "metadata": {**body["metadata"], "generation": 1}}

    async def patch_release(self, namespace: str, name: str, ops: list[dict[str, Any]]) -> None:
        from tests.waves.world import apply_json_patch

        apply_json_patch(self.releases[name], ops)

    async def patch_wave_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        if self.fail_status:
            raise ConnectionError("the API went away")
        self.statuses.append(copy.deepcopy(status))
