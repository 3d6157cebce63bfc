"""We test the operator's runtime safety nets with fakes (issue 18 defects 2, 3 and 6):

- the redacting log filter removes every kind of credential botocore and urllib3 would print, and
  adds the release a task works on; wire loggers are floored at INFO unless the unsafe switch is set;
- Health reports a stuck loop once (naming the release) and an API unreachable for too long;
- a release loop backs off while AWS throttles (doubling, bounded, visible as a metric) and resets on success.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import pytest

from ecsbg import logs
from ecsbg.domain.observation import AwsProblem, Observation
from ecsbg.health import Health
from ecsbg.loop import release_loop
from ecsbg.reconciler import LoopState
from ecsbg.settings import Settings
from tests.fakes.ecs import FakeEcsGateway
from tests.unit.test_reconciler import SERVICE, _Stopper, body, make_deps

SECRET, TOKEN, KEY_ID, EXTERNAL = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "IQoJb3JpZ2luX2VjEJr//wEaCX", \
    "ASIAIOSFODNN7EXAMPLE", "ext-7f3a9c"
WIRE = [
    f"Response body: b'<AssumeRoleResponse><Credentials><AccessKeyId>{KEY_ID}</AccessKeyId><SecretAccessKey>"
    f"{SECRET}</SecretAccessKey><SessionToken>{TOKEN}</SessionToken></Credentials></AssumeRoleResponse>'",
    f"Making request with params: {{'body': {{'Action': 'AssumeRole', 'ExternalId': '{EXTERNAL}'}}}}",
    f"body=Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam&ExternalId={EXTERNAL}&DurationSeconds=3600",
    f"headers={{'X-Amz-Security-Token': b'{TOKEN}', 'Authorization': b'AWS4-HMAC-SHA256 "
    f"Credential={KEY_ID}/20261203/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0a1b2c'}}",
    f"CanonicalRequest:\nPOST\n/\n\nhost:ecs.us-east-1.amazonaws.com\nx-amz-security-token:{TOKEN}\n",
    f"{{'Credentials': {{'AccessKeyId': '{KEY_ID}', 'SecretAccessKey': '{SECRET}', 'SessionToken': '{TOKEN}'}}}}",
    "Authorization: Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.payload.sig",
]


@pytest.mark.parametrize("line", WIRE)
def test_redact_removes_credentials_in_every_wire_form(line: str) -> None:
    cleaned = logs.redact(line)
    for secret in (SECRET, TOKEN, KEY_ID, EXTERNAL, "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ"):
        assert secret not in cleaned, cleaned
    assert logs.REDACTED in cleaned


def test_redact_keeps_ordinary_text_and_scrubs_registered_values() -> None:
    text = "ecs:DescribeServices took 0.004 s for arn:aws:ecs:us-east-1:123456789012:service/demo/web (sha 0a1b2c)"
    assert logs.redact(text) == text
    logs.register_secret("opaque-value-9q8w")
    assert logs.redact("assumed with opaque-value-9q8w") == "assumed with ***"
    logs.register_secret("bench")  # too short to be a real credential: would blank out namespaces like bench-1
    assert logs.redact("reconcile of bench-1/web") == "reconcile of bench-1/web"


@pytest.fixture
def captured() -> Any:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in logs.WIRE_LOGGERS})
    logs.configure("json", "DEBUG")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def test_configured_logging_redacts_floors_the_wire_and_names_the_release(captured: io.StringIO) -> None:
    logging.getLogger("botocore.endpoint").debug("Sending http request: %s", WIRE[3])
    logging.getLogger("ecsbg.aws.session").debug("assumed: %s", WIRE[5])
    try:
        raise RuntimeError(WIRE[0])
    except RuntimeError:
        logging.getLogger("ecsbg.reconciler").exception("failed")

    async def loop_task() -> None:
        logs.bind_release("team-a", "web")
        logging.getLogger("ecsbg.reconciler").info("pass done")

    asyncio.run(loop_task())
    logging.getLogger("ecsbg.main").info("outside any release")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert not [e for e in lines if e["logger"].startswith("botocore")], "botocore DEBUG is floored at INFO"
    text = captured.getvalue()
    assert SECRET not in text and TOKEN not in text and KEY_ID not in text
    assert any("exception" in e and "RuntimeError" in e["exception"] for e in lines)
    named = {e["message"]: (e.get("namespace"), e.get("name")) for e in lines}
    assert named["pass done"] == ("team-a", "web") and named["outside any release"] == (None, None)


def test_the_unsafe_switch_lets_wire_logging_through(captured: io.StringIO) -> None:
    logs.configure("json", "DEBUG", unsafe_wire_logging=True)
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("botocore.endpoint").debug("Sending http request: %s", WIRE[3])
    assert "Sending http request" in stream.getvalue() and TOKEN not in stream.getvalue(), "still redacted"


def test_health_reports_a_stuck_loop_once_and_an_unreachable_api(caplog) -> None:
    clock = {"now": 0.0}
    health = Health(stuck_after=60, api_unreachable_after=30, now=lambda: clock["now"])
    health.pass_started("team-a/web")
    health.pass_started("team-a/api")
    health.pass_finished("team-a/api")
    clock["now"] = 59
    assert health.check() == []
    clock["now"] = 61
    health.api_failed()
    assert health.check() == ["release loop of team-a/web stuck for 61 s"]
    assert health.check() == ["release loop of team-a/web stuck for 61 s"]
    assert [r.getMessage() for r in caplog.records if "stuck" in r.getMessage()] == [
        "release loop of team-a/web is stuck: its pass has run for 61 s (limit 60 s)"]
    clock["now"] = 95
    assert health.check()[1] == "Kubernetes API unreachable for 34 s"
    health.pass_finished("team-a/web")
    health.api_answered()
    assert health.check() == []


def _record_sleeps(monkeypatch: pytest.MonkeyPatch, stopped: _Stopper, passes: int) -> list[float]:
    """The loop's sleeps, recorded instead of slept; the loop stops after `passes` of them."""
    delays: list[float] = []

    async def sleep(wake: Any, stop: Any, delay: float) -> None:
        delays.append(delay)
        if len(delays) >= passes:
            stopped.event.set()

    monkeypatch.setattr("ecsbg.loop._sleep", sleep)
    return delays


async def test_the_loop_backs_off_while_aws_throttles_and_resets_on_success(monkeypatch) -> None:
    throttled = Observation(problem=AwsProblem("ThrottlingException", "Rate exceeded", False, "DescribeServices"))
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    deps.settings = Settings(poll_fast_seconds=1, poll_idle_seconds=60, backoff_max_seconds=8)
    state, stopped = LoopState(), _Stopper()
    delays = _record_sleeps(monkeypatch, stopped, 10)
    script = [Observation(service=SERVICE)] * 2 + [throttled] * 6 + [Observation(service=SERVICE)]

    async def observe(spec: Any, prior: Any, reuse: Any = None) -> Observation:
        return script.pop(0) if len(script) > 1 else script[0]

    gateway.observe = observe  # type: ignore[method-assign]
    await release_loop(body=body(), namespace="default", name="web", deps=deps, state=state, stopped=stopped)
    # intent (0.05 s), start, then six throttled passes (1, 2, 4, 8, 8, 8 s), then a clean in-flight poll (1 s);
    # neither back-offs nor in-flight polls are put on the cluster's grid (domain.schedule: idle polls only)
    # (the in-flight poll counts from the pass's start: 1 s less the few milliseconds the fake pass took)
    assert delays[2:8] == [1, 2, 4, 8, 8, 8] and 0.9 < delays[8] <= 1, delays
    gauge = [c["seconds"] for c in deps.metrics.of("release_backoff")]  # type: ignore[attr-defined]
    assert gauge == [1, 2, 4, 8, 8, 8, 0]


@pytest.mark.parametrize(("pass_seconds", "low", "high"), [(0.3, 0.5, 0.72), (0.8, 0.5, 0.5)])
async def test_in_flight_polls_count_from_the_start_of_the_pass(monkeypatch, pass_seconds, low, high) -> None:
    """A stage ECS enters just after a read is seen one poll later, not one poll plus the pass's own time; a
    pass slower than half a poll still leaves half a poll before the next one (a saturated operator)."""
    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    deps.settings = Settings(poll_fast_seconds=1, poll_idle_seconds=60)
    state, stopped = LoopState(), _Stopper()
    delays = _record_sleeps(monkeypatch, stopped, 5)
    real_observe = gateway.observe

    async def slow_observe(spec: Any, prior: Any, reuse: Any = None) -> Observation:
        await asyncio.sleep(pass_seconds)  # the read and everything else a busy operator's pass waits for
        return await real_observe(spec, prior, reuse)

    gateway.observe = slow_observe  # type: ignore[method-assign]
    await release_loop(body=body(), namespace="default", name="web", deps=deps, state=state, stopped=stopped)
    assert delays[0] < 0.1, delays  # the intent's next step follows at once, whatever the pass took
    in_flight = delays[2:]  # after the start: in-flight polls
    assert all(low <= d <= high for d in in_flight), delays


async def test_a_status_is_decoded_again_only_when_a_pass_changed_it(monkeypatch) -> None:
    """Most passes change nothing: the loop keeps the status dict it has and its decoding for the next pass;
    a pass that changes the status (here: reading ECS starts failing) makes the next one decode the new one."""
    from ecsbg import reconciler

    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    deps.settings = Settings(poll_fast_seconds=1, poll_idle_seconds=60)
    state, stopped = LoopState(), _Stopper()
    decoded: list[dict[str, Any]] = []
    real_decode = reconciler.status_from_dict

    def counting_decode(raw: Any) -> Any:
        decoded.append(dict(raw))
        return real_decode(raw)

    passes = 0

    async def sleep(wake: Any, stop: Any, delay: float) -> None:
        nonlocal passes
        passes += 1
        if passes == 5:  # intent, start, in-flight passes; then reading ECS starts failing (a new condition)
            gateway.observation = Observation(service=SERVICE, problem=AwsProblem(
                "InternalFailure", "try again", False, "DescribeServices"))
        if passes >= 9:
            stopped.event.set()

    monkeypatch.setattr("ecsbg.reconciler.status_from_dict", counting_decode)
    monkeypatch.setattr("ecsbg.loop._sleep", sleep)
    await release_loop(body=body(), namespace="default", name="web", deps=deps, state=state, stopped=stopped)

    def failing(status: dict[str, Any]) -> bool:
        return any(c.get("type") == "ObservationFailed" and c.get("status") == "True"
                   for c in status.get("conditions") or [])

    # nine passes, five decodings: the first, the three after the intent, the start and the first in-flight
    # pass changed the status, and the one after reading started failing; the four others changed nothing
    assert len(decoded) == 5, [d.get("phase") for d in decoded]
    assert [failing(d) for d in decoded] == [False] * 4 + [True]
    assert decoded[-1] == state.last_status and failing(state.last_status)
    assert state.decoded is not None and state.decoded[0] is state.last_status


async def test_the_watchdog_names_a_stuck_loop_and_counts_it(caplog) -> None:
    """A status write that never returns (what a half-open connection did before writes had timeouts): the
    watchdog logs the release once and exports the stuck loop; the loop is counted again once it completes."""
    from ecsbg.handlers import watchdog

    gateway = FakeEcsGateway(observation=Observation(service=SERVICE))
    deps = make_deps(gateway)
    deps.settings = Settings(poll_fast_seconds=0.01, k8s_timeout_seconds=3600, loop_stuck_seconds=0.05)
    deps.health = Health(stuck_after=0.05, api_unreachable_after=3600)
    release = asyncio.Event()

    async def hang(**_: Any) -> None:
        await release.wait()

    deps.status.patch_status = hang  # type: ignore[method-assign]
    state, stopped = LoopState(), _Stopper()
    loop = asyncio.create_task(release_loop(body=body(), namespace="team-a", name="web", deps=deps, state=state,
                                            stopped=stopped))
    dog = asyncio.create_task(watchdog(deps))
    for _ in range(200):
        if any(c["loops_stuck"] == 1 for c in deps.metrics.of("runtime_health")):  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.01)
    assert any(c["loops_stuck"] == 1 for c in deps.metrics.of("runtime_health"))  # type: ignore[attr-defined]
    stuck = [r.getMessage() for r in caplog.records if "is stuck" in r.getMessage()]
    assert len(stuck) == 1 and "team-a/web" in stuck[0]
    release.set()
    for _ in range(200):
        if "completes passes again" in caplog.text:
            break
        await asyncio.sleep(0.01)
    assert "release loop of team-a/web completes passes again" in caplog.text
    stopped.event.set()
    state.wake.set()
    dog.cancel()
    await asyncio.wait_for(loop, 2.0)
