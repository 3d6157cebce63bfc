"""Lifecycle hook executions: AWS_LAMBDA (scripted behaviour or a local URL) and PAUSE.

Contract [doc: Lambda hooks for Amazon ECS service deployments; Pause hooks for Amazon ECS service deployments]:
- every hook configured at a stage runs in parallel; the deployment proceeds only when all complete, and any
  rollback decision rolls the whole deployment back;
- a Lambda answers {"hookStatus": SUCCEEDED | FAILED | IN_PROGRESS, "callBackDelay": s, "hookDetails": {...}};
  IN_PROGRESS re-invokes after callBackDelay (default 30 s) with hookDetails merged; anything else (no valid
  hookStatus, an error) rolls back;
- a PAUSE hook waits in AWAITING_ACTION for ContinueServiceDeployment; timeoutConfiguration
  (default 1,440 min, action ROLLBACK) fires when nothing answered in time.
URL targets are called on a small thread pool; the answer is fed back through the scheduler, so a slow
function never blocks the server or the other deployments.
"""

from __future__ import annotations

import json
import secrets
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import stages
from .model import Deployment, HookRun, World
from .scheduler import Scheduler

DONE_OK = {"SUCCEEDED"}
FINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT"}


def traffic_maps(dep: Deployment, stage: str) -> tuple[dict[str, float], dict[str, float]]:
    """Weight maps of the Lambda event: filled only at the shift stages, `{}` elsewhere [doc: Lambda hooks]."""
    revisions = [dep.target, *dep.sources]
    test: dict[str, float] = {}
    prod: dict[str, float] = {}
    if stage == "TEST_TRAFFIC_SHIFT":
        test = {r.arn: r.test_weight or 0.0 for r in revisions}
    if stage in ("PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"):
        prod = {r.arn: r.prod_weight or 0.0 for r in revisions}
    return test, prod


class HookRunner:
    def __init__(self, world: World, scheduler: Scheduler, on_done: Callable[[Deployment, str | None], None]):
        self.world = world
        self.scheduler = scheduler
        self.on_done = on_done
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ecs-emulator-hook")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- starting ------------------------------------------------------------------------------------------
    def start_stage(self, dep: Deployment, stage: str) -> bool:
        """Start every hook configured at `stage`; False when there is none (the caller moves on)."""
        configured = [
            (index, hook)
            for index, hook in enumerate(dep.config.get("lifecycleHooks") or [])
            if stage in (hook.get("lifecycleStages") or [])
        ]
        if not configured:
            return False
        now = self.scheduler.now()
        dep.hooks = []
        for index, hook in configured:
            target_type = hook.get("targetType", "AWS_LAMBDA")
            timeout = hook.get("timeoutConfiguration") or {}
            minutes = timeout.get("timeoutInMinutes", stages.DEFAULT_HOOK_TIMEOUT_MINUTES)
            prefix = "ecs-pause-" if target_type == "PAUSE" else "ecs-lambda-"
            run = HookRun(
                hook_id=prefix + secrets.token_urlsafe(32),
                target_type=target_type,
                target_arn=hook.get("hookTargetArn"),
                stage=stage,
                status="AWAITING_ACTION" if target_type == "PAUSE" else "IN_PROGRESS",
                expires_at=now + self.scheduler.real_delay(minutes * 60.0),
                timeout_action=timeout.get("action", "ROLLBACK"),
                hook_details=dep.hook_memory.get(index, hook.get("hookDetails")),
                index=index,
            )
            dep.hooks.append(run)
            dep.hook_log.append(run)
            run.timer = self.scheduler.call_later(minutes * 60.0, lambda d=dep, r=run: self._timed_out(d, r))
            if target_type == "AWS_LAMBDA":
                self._invoke(dep, run)
        return True

    def close_stage(self, dep: Deployment) -> None:
        """The deployment left the stage: its hooks are no longer active, so no longer listed."""
        self.cancel(dep)
        dep.hooks = []

    def cancel(self, dep: Deployment) -> None:
        """Close the stage's hooks: timers off, late answers ignored; unfinished hooks end FAILED (they were
        cut short by a rollback, a stop or another hook's rollback decision)."""
        for run in dep.hooks:
            self.scheduler.cancel(run.timer)
            run.timer = None
            if run.status not in FINAL:
                run.status = "FAILED"

    # -- Lambda ----------------------------------------------------------------------------------------
    def _event(self, dep: Deployment, run: HookRun) -> dict[str, Any]:
        test, prod = traffic_maps(dep, run.stage)
        event: dict[str, Any] = {
            "executionId": str(uuid.uuid4()),
            "lifecycleStage": run.stage,
            "resourceArn": dep.arn,
            "executionDetails": {
                "serviceArn": dep.service.arn,
                "targetServiceRevisionArn": dep.target.arn,
                "testTrafficWeights": test,
                "productionTrafficWeights": prod,
            },
        }
        if run.hook_details is not None:
            event["hookDetails"] = run.hook_details
        return event

    def _invoke(self, dep: Deployment, run: HookRun) -> None:
        event = self._event(dep, run)
        run.invocations += 1
        behaviour = self.world.hook_behaviours.get(run.target_arn or "", {"kind": "succeed"})
        self.world.hook_invocations.append(
            {"time": self.scheduler.iso(), "functionArn": run.target_arn, "hookId": run.hook_id, "event": event}
        )
        if behaviour.get("kind") == "url":
            future = self._pool.submit(_post_json, behaviour["url"], event)
            future.add_done_callback(
                lambda f: self.scheduler.call_later(0.0, lambda: self._answer(dep, run, _future_answer(f)))
            )
            return
        if behaviour.get("kind") == "manual":
            return  # answered later through the control API (answer_hook)
        answer = _scripted_answer(behaviour, run.invocations)
        self.scheduler.call_later(stages.LAMBDA_INVOKE_SECONDS, lambda: self._answer(dep, run, answer))

    def answer(self, dep: Deployment, run: HookRun, answer: Any) -> None:
        """An answer given through the control API for a hook whose function behaves "manual"."""
        self._answer(dep, run, answer)

    def _answer(self, dep: Deployment, run: HookRun, answer: Any) -> None:
        if run.status in FINAL or run not in dep.hooks:
            return  # late answer: the hook already timed out or the deployment moved on
        status = answer.get("hookStatus") if isinstance(answer, dict) else None
        if status == "IN_PROGRESS":
            if isinstance(answer.get("hookDetails"), dict):
                merged = {**(run.hook_details or {}), **answer["hookDetails"]}
                run.hook_details = merged
                dep.hook_memory[run.index] = merged
            delay = answer.get("callBackDelay", stages.DEFAULT_CALLBACK_DELAY_SECONDS)
            if not isinstance(delay, int | float) or delay < 0:
                delay = stages.DEFAULT_CALLBACK_DELAY_SECONDS
            self.scheduler.call_later(float(delay), lambda: self._reinvoke(dep, run))
            return
        if status == "SUCCEEDED":
            self._finish(dep, run, "SUCCEEDED", None)
        elif status == "FAILED":
            self._finish(dep, run, "FAILED", f"Lifecycle hook {run.target_arn} returned FAILED at {run.stage}.")
        else:
            reason = f"Lifecycle hook {run.target_arn} did not return a valid hookStatus at {run.stage}."
            self._finish(dep, run, "FAILED", reason)

    def _reinvoke(self, dep: Deployment, run: HookRun) -> None:
        if run.status not in FINAL and run in dep.hooks:
            self._invoke(dep, run)

    # -- PAUSE -----------------------------------------------------------------------------------------
    def continue_pause(self, dep: Deployment, run: HookRun, action: str) -> None:
        if action == "ROLLBACK":
            self._finish(dep, run, "FAILED", f"Rollback requested at the pause hook {run.hook_id}.")
        else:
            self._finish(dep, run, "SUCCEEDED", None)

    # -- completion ------------------------------------------------------------------------------------
    def _timed_out(self, dep: Deployment, run: HookRun) -> None:
        if run.status in FINAL or run not in dep.hooks:
            return
        reason = None
        if run.timeout_action == "ROLLBACK":
            reason = f"Lifecycle hook {run.hook_id} timed out at {run.stage}."
        self._finish(dep, run, "TIMED_OUT", reason)

    def _finish(self, dep: Deployment, run: HookRun, status: str, rollback_reason: str | None) -> None:
        if run.status in FINAL or run not in dep.hooks:
            return
        run.status = status
        self.scheduler.cancel(run.timer)
        run.timer = None
        dep.updated = self.scheduler.now()
        if rollback_reason is not None:
            self.cancel(dep)
            self.on_done(dep, rollback_reason)
        elif all(r.status in FINAL for r in dep.hooks):
            self.on_done(dep, None)

    @staticmethod
    def find(dep: Deployment, hook_id: str) -> HookRun | None:
        return next((r for r in dep.hooks if r.hook_id == hook_id), None)


def _scripted_answer(behaviour: dict[str, Any], invocation: int) -> Any:
    kind = behaviour.get("kind", "succeed")
    if kind == "fail":
        return {"hookStatus": "FAILED"}
    if kind == "raise":
        return {"errorType": "Unhandled", "errorMessage": "scripted function error"}
    if kind == "in_progress" and invocation <= int(behaviour.get("times", 1)):
        answer: dict[str, Any] = {"hookStatus": "IN_PROGRESS"}
        if "callBackDelay" in behaviour:
            answer["callBackDelay"] = behaviour["callBackDelay"]
        if "hookDetails" in behaviour:
            answer["hookDetails"] = behaviour["hookDetails"]
        return answer
    return {"hookStatus": "SUCCEEDED"}


def _post_json(url: str, event: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(event).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local test target
        return json.loads(response.read() or b"null")


def _future_answer(future: Any) -> Any:
    try:
        return future.result()
    except Exception as exc:  # a failing function is an answer too: ECS rolls back
        return {"errorType": type(exc).__name__, "errorMessage": str(exc)}
