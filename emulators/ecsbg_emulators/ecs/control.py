"""The emulator's control API (in process as `srv.control`, over HTTP under /_emulator/): state, alarms,
task failures, hook behaviours, faults. Every action takes the state lock, like an ECS request."""

from __future__ import annotations

from typing import Any

from .backend import Backend
from .faults import Faults
from .model import ANY

HOOK_KINDS = {"succeed", "fail", "in_progress", "raise", "url", "manual"}


class Control:
    def __init__(self, backend: Backend, faults: Faults) -> None:
        self.backend = backend
        self.faults = faults

    def state(self) -> dict[str, Any]:
        """A JSON-able snapshot: services with their deployments, per-deployment stage history, hook calls."""
        b = self.backend
        with b.scheduler.lock:
            b.scheduler.run_due()
            return {
                "speed": b.scheduler.speed,
                "regions": sorted(b.regions),
                "alarms": [{"account": a, "region": r, "alarmName": n, "state": v}
                           for (a, r, n), v in b.world.alarms.items()],
                "faults": self.faults.spec,
                "services": [_service_state(s) for store in b.world.stores.values() for s in store.services.values()],
                "hookInvocations": list(b.world.hook_invocations),
            }

    def set_alarm(self, alarm_name: str, state: str, region: str | None = None, account: str | None = None) -> None:
        """The alarm of that name in `region`/`account`; None: the alarm of that name everywhere."""
        if state not in ("ALARM", "OK", "INSUFFICIENT_DATA"):
            raise ValueError(f"alarm state must be ALARM, OK or INSUFFICIENT_DATA, not {state!r}")
        with self.backend.scheduler.lock:
            self.backend.scheduler.run_due()
            self.backend.engine.set_alarm(alarm_name, state, account or ANY, region or ANY)

    def fail_tasks(self, cluster: str, service: str, count: int | None = None, region: str | None = None,
                   account: str | None = None) -> None:
        """The next `count` task launches of the service fail (every launch when count is None). `region` and
        `account` are needed only when services of that name exist in several partitions."""
        with self.backend.scheduler.lock:
            self.backend.find_service(cluster, service, region, account).fail_tasks = count

    def set_hook_behaviour(self, function_arn: str, behaviour: dict[str, Any]) -> None:
        if behaviour.get("kind") not in HOOK_KINDS:
            raise ValueError(f"hook behaviour kind must be one of {sorted(HOOK_KINDS)}")
        if behaviour["kind"] == "url" and not behaviour.get("url"):
            raise ValueError("a url behaviour needs a url")
        with self.backend.scheduler.lock:
            self.backend.world.hook_behaviours[function_arn] = dict(behaviour)

    def answer_hook(self, hook_id: str, answer: dict[str, Any]) -> None:
        """Answer a running AWS_LAMBDA hook whose function behaves {"kind": "manual"}, as the function would
        (e.g. {"hookStatus": "SUCCEEDED"}). KeyError when no such hook is waiting for an answer."""
        b = self.backend
        with b.scheduler.lock:
            b.scheduler.run_due()
            for dep in b.world.deployments():
                run = b.engine.hooks.find(dep, hook_id)
                if run is not None and run.target_type == "AWS_LAMBDA" and run.status == "IN_PROGRESS":
                    b.engine.hooks.answer(dep, run, answer)
                    return
        raise KeyError(f"no AWS_LAMBDA hook {hook_id} is waiting for an answer")

    def set_faults(self, spec: str | None) -> None:
        self.faults.set(spec)

    def set_speed(self, speed: float) -> None:
        """Change the time factor; waits already scheduled keep their due time."""
        if speed <= 0:
            raise ValueError("speed must be > 0")
        with self.backend.scheduler.lock:
            self.backend.scheduler.speed = float(speed)

    def fail_next_rollback(self, cluster: str, service: str, region: str | None = None,
                           account: str | None = None) -> None:
        with self.backend.scheduler.lock:
            self.backend.find_service(cluster, service, region, account).fail_next_rollback = True


def _service_state(service: Any) -> dict[str, Any]:
    return {
        "account": service.account,
        "region": service.region,
        "cluster": service.cluster.name,
        "service": service.name,
        "serviceArn": service.arn,
        "status": service.status,
        "taskDefinition": service.fields.get("taskDefinition"),
        "deployments": [
            {
                "serviceDeploymentArn": d.arn,
                "status": d.status,
                "lifecycleStage": d.stage,
                "targetServiceRevisionArn": d.target.arn,
                "history": list(d.history),
                # every hook execution of the deployment, in order, with the stage it ran at (ECS's
                # lifecycleHookDetails lists only the active ones and carries no stage)
                "hooks": [{"hookId": h.hook_id, "stage": h.stage, "targetType": h.target_type,
                           "targetArn": h.target_arn, "status": h.status, "invocations": h.invocations,
                           "active": h in d.hooks} for h in d.hook_log],
            }
            for d in service.deployments
        ],
    }
