"""A scripted release life: the MetricsRecorder calls a reconciler makes (docs/design.md), step by step.

Four releases share the timeline so that at the end every dashboard panel and alert rule has something to show:
shop/web succeeds (BlueGreen, a pause hook approved) and then drifts (changed out of band), shop/api is rolled back (Canary, a Lambda hook fails),
ops/admin waits for approval before its first production step (Linear), ops/worker sits in SCALE_UP, ops/batch fails (a terminal AWS error while
starting), and tmp/gone is deleted midway (its series
must disappear). Some AWS calls are throttled. Each step is one reconcile round; `steps()` yields them so a test
can let Prometheus scrape between steps, because `increase()`/`rate()` only see changes between two scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ecsbg.metrics.recorder import MetricsRecorder

Step = Callable[[MetricsRecorder], None]
SECONDS_PER_STEP = 90.0  # emulated time between two reconcile rounds, for the duration histograms


@dataclass
class ScriptedRelease:
    """One release as the reconciler sees it: phase/stage changes produce stage_finished for the stage left."""

    namespace: str
    name: str
    strategy: str
    stage: str | None = None
    phase: str = "Pending"
    age: float = 0.0
    stage_age: float = 0.0
    traffic: dict[str, float | None] = field(default_factory=lambda: {"production": None, "test": None})
    step: tuple[int, int] | None = None  # (number, count) of the Linear/Canary step in flight
    drifted: bool = False

    def report(self, m: MetricsRecorder) -> None:
        m.release_state(
            namespace=self.namespace, name=self.name, strategy=self.strategy, cluster="prod",
            service=f"arn:aws:ecs:eu-west-1:111122223333:service/prod/{self.name}",
            phase=self.phase, stage=self.stage, **self.traffic,
        )  # fmt: skip
        number, count = self.step or (None, None)
        m.release_step(namespace=self.namespace, name=self.name, number=number, count=count)

    def move(self, m: MetricsRecorder, phase: str, stage: str | None, step: tuple[int, int] | None = None,
             **traffic: float) -> None:
        self.step = step
        left = "AWAITING_APPROVAL" if self.phase == "AwaitingApproval" else self.stage
        if left is not None and (stage != self.stage or phase != self.phase):
            m.stage_finished(strategy=self.strategy, stage=left, seconds=self.stage_age)
            self.stage_age = 0.0
        self.phase, self.stage = phase, stage
        self.traffic.update(traffic)
        self.report(m)

    def finish(self, m: MetricsRecorder, phase: str, result: str) -> None:
        self.move(m, phase, None)
        m.release_finished(strategy=self.strategy, result=result, seconds=self.age)

    def tick(self) -> None:
        self.age += SECONDS_PER_STEP
        self.stage_age += SECONDS_PER_STEP


def _round(m: MetricsRecorder, releases: list[ScriptedRelease], *, throttled: bool = False) -> None:
    """What every reconcile round does besides the transitions: AWS reads and the reconcile metrics."""
    for r in releases:
        r.tick()
        m.reconcile_started()
        m.aws_call(service="ecs", operation="DescribeServiceDeployments", seconds=0.04, error_code=None)
        m.release_drift(namespace=r.namespace, name=r.name, drifted=r.drifted)
        if throttled:
            m.aws_call(
                service="ecs", operation="DescribeServices", seconds=0.2, error_code="ThrottlingException"
            )
        m.reconcile(result="requeue_after", seconds=0.05)
        m.release_backoff(namespace=r.namespace, name=r.name, seconds=10.0 if throttled else 0.0)
    m.runtime_health(loops_stuck=0, api_unreachable_seconds=0.0)
    m.starts_waiting(count=0)


def _analysis(m: MetricsRecorder, phase: str, verdict: str | None = None) -> None:
    """Automated analysis metrics (ecsbg.analysis.runner.AnalysisMetrics), where the recorder has them."""
    measured = getattr(m, "analysis_measurement", None)
    if measured is None:
        return
    if verdict is None:
        m.analysis_started(template="EcsAnalysisTemplate/error-rate")  # type: ignore[attr-defined]
    measured(template="EcsAnalysisTemplate/error-rate", metric="error-ratio", phase=phase, seconds=0.05)
    if verdict is not None:
        m.analysis_run(template="EcsAnalysisTemplate/error-rate", verdict=verdict)  # type: ignore[attr-defined]


def _wave(m: MetricsRecorder, namespace: str, name: str, phase: str, current: str | None, done: int,
          gate: str | None = None, result: str | None = None) -> None:
    """Release wave metrics (ecsbg.waves): a wave of 4 targets, its gate verdicts and its end."""
    if getattr(m, "wave_state", None) is None:
        return
    m.wave_state(namespace=namespace, name=name, phase=phase, current_wave=current, done=done, total=4)
    if gate is not None:
        m.wave_gate(verdict=gate)
    if result is not None:
        m.wave_finished(result=result)


def steps() -> Iterator[Step]:
    web = ScriptedRelease("shop", "web", "BlueGreen")
    api = ScriptedRelease("shop", "api", "Canary")
    admin = ScriptedRelease("ops", "admin", "Linear")
    worker = ScriptedRelease("ops", "worker", "BlueGreen")
    batch = ScriptedRelease("ops", "batch", "Linear")
    gone = ScriptedRelease("tmp", "gone", "BlueGreen")
    everyone = [web, api, admin, worker, batch]

    def start(m: MetricsRecorder) -> None:
        for r in [*everyone, gone]:
            r.report(m)
        m.aws_call(service="ecs", operation="UpdateService", seconds=0.3, error_code=None)
        _wave(m, "shop", "rollout", "Progressing", "staging", 0)
        _wave(m, "ops", "fleet", "Progressing", "canary", 0)
        _round(m, everyone)

    def scale(m: MetricsRecorder) -> None:
        web.move(m, "Deploying", "PRE_SCALE_UP", production=0.0, test=0.0)
        api.move(m, "Deploying", "SCALE_UP", production=0.0, test=0.0)
        admin.move(m, "Deploying", "SCALE_UP", production=0.0, test=0.0)
        worker.move(m, "Deploying", "SCALE_UP", production=0.0, test=0.0)
        m.forget_release(namespace=gone.namespace, name=gone.name)
        m.aws_call(service="ecs", operation="UpdateService", seconds=0.1, error_code="AccessDeniedException")
        batch.finish(m, "Failed", "failed")
        _round(m, everyone, throttled=True)

    def test_traffic(m: MetricsRecorder) -> None:
        web.move(m, "Deploying", "TEST_TRAFFIC_SHIFT", test=100.0)
        api.move(m, "Deploying", "POST_TEST_TRAFFIC_SHIFT", test=100.0)
        admin.move(m, "Deploying", "TEST_TRAFFIC_SHIFT", test=100.0)
        _round(m, everyone, throttled=True)

    def pauses(m: MetricsRecorder) -> None:
        web.move(m, "AwaitingApproval", "POST_TEST_TRAFFIC_SHIFT")
        admin.move(m, "AwaitingApproval", "POST_TEST_TRAFFIC_SHIFT")
        m.hook_outcome(hook_type="AWS_LAMBDA", stage="POST_TEST_TRAFFIC_SHIFT", outcome="failed")
        api.move(m, "RollingBack", "POST_TEST_TRAFFIC_SHIFT")
        m.request(request="approve", result="stale")  # an approval naming an earlier attempt
        _analysis(m, "Successful")  # shop/web's pause analysis measures...
        _wave(m, "shop", "rollout", "AwaitingApproval", "staging", 2, gate="Baked")  # its bake passed; approval
        _wave(m, "ops", "fleet", "RollingBack", "canary", 0, gate="AnalysisFailed")  # its canary's analysis failed
        _round(m, everyone, throttled=True)

    def approve(m: MetricsRecorder) -> None:
        _analysis(m, "Successful", verdict="Successful")  # ...and is successful; a person approves admin
        m.request(request="approve", result="applied")
        m.aws_call(service="ecs", operation="ContinueServiceDeployment", seconds=0.1, error_code=None)
        m.hook_outcome(hook_type="PAUSE", stage="POST_TEST_TRAFFIC_SHIFT", outcome="approved")
        web.move(m, "Deploying", "PRODUCTION_TRAFFIC_SHIFT", production=50.0)
        # ops/admin's first step is in flight, paused before its production shift
        admin.move(m, "AwaitingApproval", "PRE_PRODUCTION_TRAFFIC_SHIFT", step=(1, 10))
        api.finish(m, "RolledBack", "rolled_back")
        _wave(m, "shop", "rollout", "Progressing", "production", 2, gate="Approved")
        _wave(m, "ops", "fleet", "RolledBack", "canary", 1, result="rolled_back")
        _round(m, everyone)

    def bake(m: MetricsRecorder) -> None:
        web.move(m, "Baking", "BAKE_TIME", production=100.0)
        _round(m, everyone)

    def succeed(m: MetricsRecorder) -> None:
        web.move(m, "Deploying", "CLEAN_UP")
        web.finish(m, "Succeeded", "succeeded")
        _wave(m, "shop", "rollout", "Succeeded", None, 4, result="succeeded")
        # then someone runs aws ecs update-service on it
        web.drifted = True
        m.release_drift(namespace=web.namespace, name=web.name, drifted=True, detected=("taskDefinition",))
        _round(m, everyone, throttled=True)

    yield from (start, scale, test_traffic, pauses, approve, bake, succeed)


def drive(m: MetricsRecorder) -> None:
    """The whole life at once, for tests that only need the end state."""
    for step in steps():
        step(m)
    _notifications(m)
    m.ecs_event(result="woke")  # an ECS event from the events queue woke the release


def _notifications(m: MetricsRecorder) -> None:
    """The notification sender's counter (ecsbg.notify.sender.NotificationMetrics): a retried delivery."""
    notified = getattr(m, "notification", None)
    if notified is not None:
        for outcome in ("retry", "delivered"):
            notified(provider="EcsNotificationProvider/shop/team-slack", type="slack", trigger="RolledBack",
                     outcome=outcome)


# The end state, for assertions: (namespace, name) -> (phase, stage).
FINAL = {
    ("shop", "web"): ("Succeeded", None),
    ("shop", "api"): ("RolledBack", None),
    ("ops", "admin"): ("AwaitingApproval", "PRE_PRODUCTION_TRAFFIC_SHIFT"),
    ("ops", "worker"): ("Deploying", "SCALE_UP"),
    ("ops", "batch"): ("Failed", None),
}
DELETED = ("tmp", "gone")
