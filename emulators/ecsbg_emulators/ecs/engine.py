"""The service-deployment state machine: runs programs (programs.py), rollbacks, stops and monitors.

Statuses and transitions follow [doc: View service history using Amazon ECS service deployments]:
PENDING -> IN_PROGRESS -> SUCCESSFUL; a newer deployment makes an ongoing one STOP_REQUESTED -> STOPPED;
StopServiceDeployment(ROLLBACK) makes it ROLLBACK_REQUESTED -> ROLLBACK_IN_PROGRESS (or SUCCESSFUL when it
is already cleaning up); a failure detector with rollback goes straight to ROLLBACK_IN_PROGRESS, ending
ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED. All methods run under the scheduler lock.
"""

from __future__ import annotations

import math
from typing import Any

from . import elbv2, events, programs, stages
from .hooks import HookRunner
from .model import ANY, Deployment, Revision, Service, World
from .scheduler import Scheduler

ROLLING_BACK = {"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"}


def breaker_threshold(cfg: dict[str, Any], desired: int) -> int:
    """[doc: How the Amazon ECS deployment circuit breaker detects failures]: BOUNDED_PERCENT is
    clamp(ceil(value% x desired), 3, 200); UNBOUNDED_PERCENT has no clamp; COUNT is the value."""
    threshold = (cfg.get("deploymentCircuitBreaker") or {}).get("thresholdConfiguration") or {}
    kind, value = threshold.get("type", "BOUNDED_PERCENT"), threshold.get("value", 50)
    if kind == "COUNT":
        return max(1, int(value))
    raw = math.ceil(value / 100.0 * max(desired, 1))
    return max(1, raw) if kind == "UNBOUNDED_PERCENT" else min(max(raw, 3), 200)


def _stable_revision(service: Service, sources: list[Revision]) -> Revision | None:
    """What a rollback returns to: the target of the last SUCCESSFUL deployment when it still runs, else the
    source serving most production traffic ("roll back to the last successful revision" [doc: Lambda hooks])."""
    for dep in reversed(service.deployments):
        if dep.status == "SUCCESSFUL" and dep.target in sources:
            return dep.target
        if dep.status == "ROLLBACK_SUCCESSFUL" and dep.rollback_target in sources:
            return dep.rollback_target
    return max(sources, key=lambda r: r.prod_weight or 0.0, default=None)


class Engine:
    def __init__(self, world: World, scheduler: Scheduler) -> None:
        self.world = world
        self.scheduler = scheduler
        self.hooks = HookRunner(world, scheduler, self._hooks_done)

    # -- starting ----------------------------------------------------------------------------------------
    def start(self, service: Service, target: Revision, dep_arn: str, initial: bool = False) -> Deployment:
        now = self.scheduler.now()
        previous = service.current_deployment()
        if previous is not None:
            self.stop(previous, "A newer service deployment started.")
        sources = [r for r in service.revisions if r is not target and r.requested > 0]
        dep = Deployment(arn=dep_arn, service=service, target=target, sources=sources,
                         config=dict(service.fields.get("deploymentConfiguration") or {}),
                         created=now, updated=now, initial=initial)
        dep.rollback_target = _stable_revision(service, sources)
        self._start_monitors(dep)
        service.deployments.append(dep)
        self.world.store_of(service).deployments[dep.arn] = dep
        service.primary = target
        service.fields["taskDefinition"] = target.task_definition
        self._load_program(dep)
        self._record(dep)
        self._advance(dep, dep.token)
        return dep

    def _start_monitors(self, dep: Deployment) -> None:
        breaker = dep.config.get("deploymentCircuitBreaker") or {}
        dep.cb_status = "MONITORING" if breaker.get("enable") else "DISABLED"
        alarms = dep.config.get("alarms") or {}
        if alarms.get("enable"):
            dep.alarm_status = "MONITORING"
            # an alarm already in ALARM when the deployment starts is ignored [doc: CloudWatch alarms page]
            svc = dep.service
            dep.ignored_alarms = {a for a in alarms.get("alarmNames", [])
                                  if self.world.alarm_state(svc.account, svc.region, a) == "ALARM"}

    def _load_program(self, dep: Deployment) -> None:
        traffic = dep.config.get("strategy", "ROLLING") in stages.TRAFFIC_STRATEGIES
        if dep.initial:
            dep.program = programs.initial_program(traffic)
            return
        if not traffic:
            dep.program = programs.rolling_program()
            return
        dep.program = programs.traffic_program(dep.config, reconcile=len(dep.sources) > 1)
        dep.target.prod_weight = dep.target.test_weight = 0.0  # green starts with no traffic
        for source in dep.sources:  # sources of a ROLLING past carry no weights: the stable one has it all
            if source.prod_weight is None:
                source.prod_weight = source.test_weight = 100.0 if source is dep.rollback_target else 0.0

    # -- the program runner ------------------------------------------------------------------------------
    def _advance(self, dep: Deployment, token: int) -> None:
        if token != dep.token:
            return  # a timer of a program that was replaced (rollback, stop)
        dep.timer = None
        while dep.program and token == dep.token:
            kind, *args = dep.program.pop(0)
            blocked = getattr(self, f"_step_{kind}")(dep, *args)
            dep.updated = self.scheduler.now()
            self._record(dep)
            if blocked:
                return

    def _later(self, dep: Deployment, seconds: float, fn: Any = None) -> None:
        token = dep.token
        fn = fn or (lambda: self._advance(dep, token))
        dep.timer = self.scheduler.call_later(seconds, fn)

    def _step_wait(self, dep: Deployment, seconds: float) -> bool:
        if seconds <= 0:
            return False
        self._later(dep, seconds)
        return True

    def _step_status(self, dep: Deployment, status: str) -> bool:
        dep.status = status
        if status == "IN_PROGRESS":
            dep.started = self.scheduler.now()
        return False

    def _step_stage(self, dep: Deployment, stage: str) -> bool:
        if stage != dep.stage:
            # lifecycleHookDetails lists "each active hook" [doc: Lifecycle hooks for Amazon ECS service
            # deployments, "Lifecycle hook details"]: the hooks of a finished stage drop out of it
            self.hooks.close_stage(dep)
        dep.stage = stage
        return False

    def _step_hooks(self, dep: Deployment, stage: str) -> bool:
        return self.hooks.start_stage(dep, stage)

    def _hooks_done(self, dep: Deployment, rollback_reason: str | None) -> None:
        if rollback_reason is not None and dep.status not in ROLLING_BACK:
            self.rollback(dep, rollback_reason)
        else:  # during a rollback, re-invoked hooks cannot stop it
            self._advance(dep, dep.token)

    def _step_scale_up(self, dep: Deployment) -> bool:
        target, desired = dep.target, int(dep.service.fields.get("desiredCount", 0))
        target.requested, target.pending = desired, max(desired - target.running, 0)
        self._later(dep, stages.STAGE_SECONDS["SCALE_UP"], lambda token=dep.token: self._launch(dep, token))
        return True

    def _launch(self, dep: Deployment, token: int) -> None:
        """One task-launch attempt; injected failures feed the circuit breaker (control.fail_tasks)."""
        if token != dep.token:
            return
        target, service = dep.target, dep.service
        missing = max(target.requested - target.running, 0)
        failures = missing if service.fail_tasks is None else min(missing, service.fail_tasks)
        if service.fail_tasks is not None:
            service.fail_tasks -= failures
        target.running += missing - failures
        target.failed += failures
        target.pending = target.requested - target.running
        if not failures:
            self._advance(dep, token)
            return
        dep.cb_failures += failures
        breaker = dep.config.get("deploymentCircuitBreaker") or {}
        if breaker.get("enable") and dep.cb_failures >= breaker_threshold(dep.config, target.requested):
            dep.cb_status = "TRIGGERED"
            reason = f"ECS deployment circuit breaker: {dep.cb_failures} tasks failed to start."
            if breaker.get("rollback"):
                self.rollback(dep, reason)
            else:
                self._stop(dep, reason)
            return
        self._later(dep, stages.STAGE_SECONDS["SCALE_UP"], lambda: self._launch(dep, token))

    # -- traffic and capacity ------------------------------------------------------------------------------
    def _step_test_shift(self, dep: Deployment) -> bool:
        dep.target.test_weight = 100.0
        for source in dep.sources:
            source.test_weight = 0.0
        self._rewrite_rules(dep, "testListenerRule", "test_weight")
        return False

    def _step_prod_shift(self, dep: Deployment, weight: float) -> bool:
        before = sum(s.prod_weight or 0.0 for s in dep.sources) or 1.0
        for source in dep.sources:  # the sources share what green does not take, in their current ratio
            source.prod_weight = round((source.prod_weight or 0.0) / before * (100.0 - weight), 1)
        dep.target.prod_weight = weight
        self._rewrite_rules(dep, "productionListenerRule", "prod_weight")
        return False

    def _step_clean_up(self, dep: Deployment) -> bool:
        for source in dep.sources:  # "blue scaled to 0; green is production" [doc: workflow]
            source.requested = source.running = source.pending = 0
            source.prod_weight = source.test_weight = 0.0 if source.prod_weight is not None else None
        self._rewrite_rules(dep, "productionListenerRule", "prod_weight")  # blue's targets deregistered
        return False

    def _step_finish(self, dep: Deployment) -> bool:
        now = self.scheduler.now()
        if dep.status == "ROLLBACK_REQUESTED":  # too late to roll back: ROLLBACK_REQUESTED -> SUCCESSFUL
            dep.status_reason = "Rollback was requested after traffic shifting completed."
        dep.status, dep.finished = "SUCCESSFUL", now
        self._complete_monitors(dep)
        self.hooks.close_stage(dep)
        dep.service.add_event("has reached a steady state.", now)
        return False

    # -- rollback and stop -----------------------------------------------------------------------------
    def rollback(self, dep: Deployment, reason: str, requested: bool = False) -> None:
        if requested and dep.stage == "CLEAN_UP" and dep.status == "IN_PROGRESS":
            dep.status = "ROLLBACK_REQUESTED"  # the current program finishes as SUCCESSFUL
            self._record(dep)
            return
        self._replace_program(dep)
        back_to = dep.rollback_target
        now = self.scheduler.now()
        dep.rollback = {"reason": reason, "startedAt": now}
        if back_to is not None:
            dep.rollback["serviceRevisionArn"] = back_to.arn
            dep.service.primary = back_to
            dep.service.fields["taskDefinition"] = back_to.task_definition
        dep.status = "ROLLBACK_REQUESTED" if requested else "ROLLBACK_IN_PROGRESS"
        dep.status_reason = reason
        traffic = dep.config.get("strategy", "ROLLING") in stages.TRAFFIC_STRATEGIES and not dep.initial
        dep.program = programs.rollback_program(traffic and back_to is not None, requested)
        self._record(dep)
        self._advance(dep, dep.token)

    def _step_prod_back(self, dep: Deployment) -> bool:
        for revision in [dep.target, *dep.sources]:
            revision.prod_weight = 100.0 if revision is dep.rollback_target else 0.0
        self._rewrite_rules(dep, "productionListenerRule", "prod_weight")
        return False

    def _step_test_back(self, dep: Deployment) -> bool:
        for revision in [dep.target, *dep.sources]:
            revision.test_weight = 100.0 if revision is dep.rollback_target else 0.0
        self._rewrite_rules(dep, "testListenerRule", "test_weight")
        return False

    def _rewrite_rules(self, dep: Deployment, rule_key: str, weight_of: str) -> None:
        """ECS updates the listener rules as it shifts [doc: ALB resources for blue/green]: the real ELBv2 too."""
        elbv2.publish(self.world.elbv2, [dep.target, *dep.sources], rule_key, weight_of)

    def _step_scale_down_target(self, dep: Deployment) -> bool:
        if dep.rollback_target is None:
            return False
        for revision in [dep.target, *dep.sources]:
            if revision is not dep.rollback_target:
                revision.requested = revision.running = revision.pending = 0
        self._rewrite_rules(dep, "productionListenerRule", "prod_weight")  # green's targets deregistered
        return False

    def _step_finish_rollback(self, dep: Deployment) -> bool:
        now = self.scheduler.now()
        dep.finished = now
        if dep.rollback_target is None or dep.service.fail_next_rollback:
            dep.service.fail_next_rollback = False
            dep.status = "ROLLBACK_FAILED"
            dep.status_reason = "Rollback failed: no previous service revision could be restored." \
                if dep.rollback_target is None else "Rollback failed (injected by the emulator's control API)."
        else:
            dep.status = "ROLLBACK_SUCCESSFUL"
        self._complete_monitors(dep)
        self.hooks.close_stage(dep)
        dep.service.add_event(f"rolled back service deployment {dep.arn}.", now)
        return False

    def stop(self, dep: Deployment, reason: str) -> None:
        if dep.status not in stages.FINISHED_STATUSES:
            self._stop(dep, reason)

    def _stop(self, dep: Deployment, reason: str) -> None:
        """STOP_REQUESTED -> STOPPED: tasks and weights stay where they are."""
        self._replace_program(dep)
        dep.status, dep.status_reason = "STOP_REQUESTED", reason
        dep.program = [("wait", 1.0), ("stopped",)]
        self._record(dep)
        self._advance(dep, dep.token)

    def _step_stopped(self, dep: Deployment) -> bool:
        now = self.scheduler.now()
        dep.status, dep.stopped, dep.finished = "STOPPED", now, now
        self._complete_monitors(dep)
        self.hooks.close_stage(dep)
        return False

    def _replace_program(self, dep: Deployment) -> None:
        dep.token += 1
        self.scheduler.cancel(dep.timer)
        dep.timer = None
        self.hooks.cancel(dep)

    def _complete_monitors(self, dep: Deployment) -> None:
        if dep.cb_status == "MONITORING":
            dep.cb_status = "MONITORING_COMPLETE"
        if dep.alarm_status == "MONITORING":
            dep.alarm_status = "MONITORING_COMPLETE"

    # -- alarms ------------------------------------------------------------------------------------------
    def set_alarm(self, name: str, state: str, account: str = ANY, region: str = ANY) -> None:
        """CloudWatch alarms are regional: the alarm `name` of one account and region (ANY: of every one)."""
        self.world.alarms[(account, region, name)] = state
        for dep in self.world.deployments():
            if account not in (ANY, dep.service.account) or region not in (ANY, dep.service.region):
                continue
            if dep.alarm_status != "MONITORING" or name not in (dep.config.get("alarms") or {}).get("alarmNames", []):
                continue
            if state != "ALARM":
                dep.ignored_alarms.discard(name)
            elif name not in dep.ignored_alarms and dep.status in ("PENDING", "IN_PROGRESS"):
                dep.alarm_status = "TRIGGERED"
                dep.triggered_alarms.append(name)
                reason = f"CloudWatch alarm {name} is in ALARM state."
                if (dep.config.get("alarms") or {}).get("rollback"):
                    self.rollback(dep, reason)
                else:
                    self._stop(dep, reason)

    # -- history -------------------------------------------------------------------------------------------
    def _record(self, dep: Deployment) -> None:
        entry = {
            "status": dep.status,
            "stage": dep.stage,
            "productionWeight": dep.target.prod_weight,
            "testWeight": dep.target.test_weight,
        }
        if not dep.history or {k: dep.history[-1][k] for k in entry} != entry:
            if self.world.events is not None and (not dep.history or dep.history[-1]["status"] != dep.status):
                message = events.body(dep, dep.status)  # ECS emits an event for these status changes only
                if message is not None:
                    self.world.events.send(message)
            dep.history.append({"time": self.scheduler.iso(), **entry})
