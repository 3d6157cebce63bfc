"""What bench.scale counts, taken from the servers, never from the operator (instants are epoch seconds):

- every ECS request with the instant it arrived (the emulator's request record, bench.scale_emulator);
- every ECS lifecycle transition the emulator made (each deployment's history in its control API's state);
- every write of a release's status to the dev cluster's store (in the bench's process), with what it said.

From these: how long a stage change took to reach the status, how long a spec change took to become an
UpdateService, how many Describe* calls a window held, and the stage histories compared with ECS's.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.faults import compare_stages
from bench.scale_emulator import epoch

RELEASES = "ecsbluegreenreleases"


@dataclass(frozen=True)
class Transition:
    at: float
    service: str
    arn: str
    stage: str | None
    status: str
    announced: bool  # a change of the deployment's status: ECS publishes an event for it (the emulator does too)


@dataclass(frozen=True)
class Write:
    at: float
    namespace: str
    name: str
    arn: str
    stages: tuple[str, ...]
    phase: str | None
    status: str  # the ECS deployment status the release shows
    attempt: int


class Probe:
    def __init__(self, ecs: Any, cluster: Any) -> None:
        self.ecs, self.cluster = ecs, cluster
        self.writes: list[Write] = []
        self.latest: dict[str, Write] = {}  # release name -> its last status write
        self.updated: dict[str, list[float]] = {}  # service -> instants of its successful UpdateService calls
        self._seen = 0  # requests already looked at for `updated`
        self._lock = threading.Lock()
        self._watch_store(cluster.store)

    def _sync(self) -> list[dict[str, Any]]:
        requests = self.ecs.requests
        for entry in requests[self._seen:]:
            if entry["operation"] == "UpdateService" and entry["statusCode"] == 200:
                service = str((entry.get("parameters") or {}).get("service", "")).rsplit("/", 1)[-1]
                self.updated.setdefault(service, []).append(entry["wall"])
        self._seen = len(requests)
        return requests

    def transitions(self, since: float) -> list[Transition]:
        out = []
        for service in self.ecs.state()["services"]:
            for dep in service["deployments"]:
                previous = None
                for h in dep.get("history") or []:
                    at = epoch(h["time"])
                    if at >= since:
                        out.append(Transition(at, service["service"], dep["serviceDeploymentArn"], h.get("stage"),
                                              h["status"], h["status"] != previous))
                    previous = h["status"]
        return out

    def _watch_store(self, store: Any) -> None:
        commit = store._commit

        def watched(res: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
            out = commit(res, obj, old)
            if res.key == ("ecsbg.dev", RELEASES):
                status = obj.get("status") or {}
                if status and status != (old or {}).get("status"):
                    meta = obj["metadata"]
                    with self._lock:
                        self.writes.append(Write(
                            time.time(), meta.get("namespace", ""), meta["name"],
                            str((status.get("deployment") or {}).get("arn") or ""),
                            tuple(str(s.get("stage")) for s in status.get("stages") or []), status.get("phase"),
                            str((status.get("deployment") or {}).get("status") or ""), int(status.get("attempt") or 0)))
                        self.latest[meta["name"]] = self.writes[-1]
            return out
        store._commit = watched

    # -- figures ---------------------------------------------------------------------------------------------
    def requests(self, since: float, until: float | None = None) -> list[dict[str, Any]]:
        end = math.inf if until is None else until
        return [r for r in self._sync() if since <= r["wall"] <= end]

    def with_status(self, names: list[str], since: float) -> int:
        """How many of `names` had a status written after `since`."""
        with self._lock:
            seen = {w.name for w in self.writes if w.at >= since and w.phase}
        return len(seen & set(names))

    def describes(self, since: float, until: float) -> int:
        return sum(1 for r in self.requests(since, until) if r["operation"].startswith("Describe"))

    def propagation(self, since: float, services: set[str] | None = None, announced: bool = False) -> list[float]:
        """For each ECS transition after `since` (of the named services; `announced`: only those ECS publishes
        an event for), seconds until the release's status first showed it for that deployment: the stage entered
        while IN_PROGRESS, the deployment's status otherwise. One never shown counts as infinite."""
        transitions = [t for t in self.transitions(since) if (t.stage or t.status != "IN_PROGRESS")
                       and (services is None or t.service in services) and (t.announced or not announced)]
        with self._lock:
            writes: dict[str, list[Write]] = {}
            for w in self.writes:
                if w.at >= since:
                    writes.setdefault(w.name, []).append(w)
        delays = []
        for t in transitions:
            shown = next((w.at for w in writes.get(t.service, []) if w.at >= t.at and w.arn == t.arn
                          and _shows(w, t)), math.inf)
            delays.append(shown - t.at)
        return delays

    def updates_after(self, written: dict[str, float]) -> dict[str, list[float]]:
        """service -> seconds from its release's spec write to each successful UpdateService of it after that."""
        self._sync()
        return {name: [at - when for at in self.updated.get(name, []) if at >= when] for name, when in written.items()}

    def succeeded(self, attempts: dict[str, int], names: list[str]) -> int:
        """How many of `names` last wrote a Succeeded status for the attempt given."""
        with self._lock:
            latest = [self.latest.get(n) for n in names]
        return sum(1 for n, w in zip(names, latest, strict=True)
                   if w is not None and w.phase == "Succeeded" and w.attempt == attempts[n])

    def stage_faults(self, placed: dict[str, str]) -> tuple[int, int]:
        """(lost, invented) over the newest deployment of each release (name -> namespace; it targets the service of
        its name): ECS's history vs the status's."""
        state = {s["service"]: s for s in self.ecs.state()["services"]}
        lost = invented = 0
        for name, namespace in placed.items():
            deployments = (state.get(name) or {}).get("deployments") or []
            obj = self.cluster.get("ecsbg.dev/v1alpha1", RELEASES, namespace, name) or {}
            if len(deployments) > 1:
                ours = (obj.get("status") or {}).get("stages") or []
                a, b = compare_stages(deployments[-1]["history"], ours)
                if (a or b) and not lost + invented:  # one example, to tell a defect from a measuring error
                    print(f"    {name}: ECS {[h.get('stage') for h in deployments[-1]['history']]}, status "
                          f"{[s.get('stage') for s in ours]}; deployment {(obj.get('status') or {}).get('deployment')}",
                          flush=True)
                lost, invented = lost + a, invented + b
        return lost, invented


def _shows(write: Write, t: Transition) -> bool:
    if t.status == "IN_PROGRESS":
        return t.stage in write.stages
    return write.status == t.status


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
