"""The wave planner against a pure stand-in for the child releases (world.py): order, maxParallel, gates,
restarts (a pass rerun from the children alone), failure and reverse-order rollback."""

from __future__ import annotations

import copy

from ecsbg.domain.waves.status import wave_pass
from tests.waves.world import World, wave_body

THREE = [{"name": "one", "targets": ["t0"], "gate": {"bake": "10s"}},
         {"name": "two", "targets": ["t1", "t2"], "maxParallel": 1, "gate": {"approval": True}},
         {"name": "three", "selector": {"matchLabels": {"tier": "two"}}}]


def _finish_all(world: World, *names: str, phase: str = "Succeeded") -> None:
    for name in names:
        world.finish(f"w-{name}", phase)


def test_three_waves_in_order_with_max_parallel_bake_and_approval() -> None:
    world = World(wave_body(THREE))
    world.body["metadata"]["labels"] = {"shard": "a"}
    out = world.step()
    assert world.created == ["w-t0"] and out.status["phase"] == "Progressing" and out.status["attempt"] == 1
    assert {e.reason for e in out.events} == {"AttemptStarted", "WaveStarted"}
    child = world.children["w-t0"]
    assert child["metadata"]["ownerReferences"][0]["uid"] == "uid-w"
    assert child["metadata"]["labels"] == {"shard": "a", "ecsbg.dev/wave": "w", "ecsbg.dev/wave-step": "one",
                                           "ecsbg.dev/wave-target": "t0"}  # the wave's labels: sharding follows
    assert child["spec"]["target"] == {"region": "us-east-1", "cluster": "demo", "service": "s0"}
    assert world.step().writes == ()  # in flight: nothing more
    world.finish("w-t0")
    out = world.step()  # bake starts
    assert out.writes == () and out.status["waves"][0]["gate"]["state"] == "Baking"
    assert world.step(5).writes == ()
    out = world.step(6)  # 11 s after the bake started: gate passed, wave two starts one target (maxParallel 1)
    assert [w.name for w in out.writes] == ["w-t1"] and "GatePassed" in {e.reason for e in out.events}
    world.finish("w-t1")
    assert [w.name for w in world.step().writes] == ["w-t2"]
    world.finish("w-t2")
    out = world.step()
    assert out.status["phase"] == "AwaitingApproval" and "ecsbg.dev/approve=1:two" in out.status["message"]
    assert "AwaitingApproval" in {e.reason for e in out.events} and world.step(3600).writes == ()
    world.body["metadata"]["annotations"]["ecsbg.dev/approve"] = "2:two"  # names an attempt that is not current
    out = world.step()
    assert out.writes == () and [e.reason for e in out.events] == ["StaleRequest"]
    world.body["metadata"]["annotations"]["ecsbg.dev/approve"] = "1:two"
    out = world.step()
    assert sorted(w.name for w in out.writes) == ["w-t3", "w-t4"] and out.status["progress"] == "3/5"
    assert out.status["currentWave"] == "three"
    _finish_all(world, "t3", "t4")
    out = world.step()
    assert out.status["phase"] == "Succeeded" and out.status["progress"] == "5/5" and not out.active
    ready = {c["type"]: c["status"] for c in out.status["conditions"]}
    assert ready == {"Ready": "True"} and [e.reason for e in out.events] == ["Succeeded"]
    assert world.created == ["w-t0", "w-t1", "w-t2", "w-t3", "w-t4"] and world.patched == []


def test_a_restart_with_lost_status_starts_nothing_twice_and_skips_no_wave() -> None:
    """The status patch of each pass is lost (the process died after its writes): every pass starts from the
    children alone, yet no child is written twice and wave two never starts before wave one's gate."""
    world = World(wave_body(THREE[:2]))
    for _ in range(3):
        world.body.pop("status", None)
        world.step()
    assert world.created == ["w-t0"] and world.patched == []
    world.finish("w-t0")
    world.step()  # the bake starts; its start is recorded in status
    status = copy.deepcopy(world.body["status"])
    for _ in range(3):  # the bake (10 s) must still be honoured from the recorded start
        world.body["status"] = copy.deepcopy(status)
        assert world.step(3).writes == ()
    world.body["status"] = status
    world.step(11)
    assert world.created == ["w-t0", "w-t1"]
    world.body.pop("status")  # lost again: the started later wave proves the gate passed
    out = world.step()
    assert out.writes == () and out.status["waves"][0]["gate"]["state"] == "Passed"


def test_a_failure_in_wave_two_stops_wave_three_and_rolls_back_in_reverse_order() -> None:
    waves = [{"name": "one", "targets": ["t0", "t1"]}, {"name": "two", "targets": ["t2", "t3"]},
             {"name": "three", "targets": ["t4"]}]
    world = World(wave_body(waves, rollback=True))
    world.step()
    _finish_all(world, "t0", "t1")
    world.step()
    world.finish("w-t2", "RolledBack")  # ECS rolled t2 back; t3 still in flight
    out = world.step()
    assert out.status["phase"] == "Failed" and out.writes == () and "waiting for t3" in out.status["message"]
    world.finish("w-t3")
    out = world.step()  # wave two's succeeded target first
    assert out.status["phase"] == "RollingBack" and [w.name for w in out.writes] == ["w-t3"]
    assert world.children["w-t3"]["spec"]["taskDefinition"] == {"arn": "arn:td/web:1"}
    assert world.step().writes == ()  # wave one waits for wave two's rollback
    world.finish("w-t3", source="arn:td/web:2")
    out = world.step()
    assert sorted(w.name for w in out.writes) == ["w-t0", "w-t1"]
    _finish_all(world, "t0", "t1")
    out = world.step()
    assert out.status["phase"] == "RolledBack" and out.writes == () and "w-t4" not in world.children
    assert {t: s for t, s in world.states().items()} == {"t0": "RolledBack", "t1": "RolledBack", "t2": "Failed",
                                                         "t3": "RolledBack", "t4": "Absent"}
    assert {c["type"] for c in out.status["conditions"]} == {"Ready", "Stalled"}


def test_without_rollback_a_failure_leaves_everything_else_alone() -> None:
    world = World(wave_body([{"name": "one", "targets": ["t0"]}, {"name": "two", "targets": ["t1"]}]))
    world.step()
    world.finish("w-t0", "Failed")
    out = world.step()
    assert out.status["phase"] == "Failed" and out.writes == () and "later waves left untouched" in out.status["message"]
    assert [e.reason for e in out.events] == ["WaveFailed", "RolloutFailed"]
    assert world.step().events == ()


def test_abort_is_passed_on_to_children_in_flight() -> None:
    world = World(wave_body([{"name": "one", "targets": ["t0", "t1"]}]))
    world.step()
    world.children["w-t0"]["status"] = {"observedGeneration": 1, "phase": "Deploying", "attempt": 1}
    world.body["metadata"]["annotations"]["ecsbg.dev/abort"] = "1"
    out = world.step()
    assert [w.name for w in out.writes] == ["w-t0"] and out.status["conditions"][0]["reason"] == "Aborted"
    assert world.children["w-t0"]["metadata"]["annotations"]["ecsbg.dev/abort"] == "1"
    assert world.step().writes == ()  # passed on once


def test_a_new_spec_is_a_new_attempt_that_patches_children_wave_by_wave() -> None:
    world = World(wave_body([{"name": "one", "targets": ["t0"]}, {"name": "two", "targets": ["t1"]}]))
    world.step()
    world.finish("w-t0")
    world.step()
    world.finish("w-t1")
    assert world.step().status["phase"] == "Succeeded"
    world.body["spec"]["template"]["taskDefinition"]["containers"][0]["image"] = "web:3"
    out = world.step()
    assert out.status["attempt"] == 2 and [w.name for w in out.writes] == ["w-t0"] and world.patched == ["w-t0"]
    assert world.children["w-t0"]["spec"]["taskDefinition"]["containers"][0]["image"] == "web:3"
    assert world.step().writes == ()  # t0 has not observed its new generation yet: wave two waits
    world.finish("w-t0")
    assert [w.name for w in world.step().writes] == ["w-t1"]


def test_the_pass_is_a_pure_function_of_its_inputs() -> None:
    world = World(wave_body(THREE))
    world.step()
    body, releases = copy.deepcopy(world.body), list(world.children.values())
    one = wave_pass(body, releases, lambda key: [], world.now)
    two = wave_pass(body, releases, lambda key: [], world.now)
    assert one == two


def test_retry_of_a_failed_attempt_retries_the_failed_child_and_carries_on() -> None:
    world = World(wave_body([{"name": "one", "targets": ["t0", "t1"]}, {"name": "two", "targets": ["t2"]}]))
    world.step()
    world.finish("w-t0")
    world.finish("w-t1", "RolledBack")  # child attempt 1 of t1 failed
    assert world.step().status["phase"] == "Failed"
    world.body["metadata"]["annotations"]["ecsbg.dev/retry"] = "1"
    out = world.step()
    assert out.status["attempt"] == 2 and out.status["retried"] == {"t1": 1} and out.status["phase"] == "Progressing"
    assert [w.name for w in out.writes] == ["w-t1"]  # only the failed child is retried, by its own request
    assert world.children["w-t1"]["metadata"]["annotations"]["ecsbg.dev/retry"] == "1"
    assert world.step().writes == ()  # asked once; the child has not acted yet: not a new failure either
    world.body.pop("status")  # a lost status: the same baseline is found again, nothing written twice
    world.body["status"] = {"attempt": 1, "phase": "Failed", "specHash": out.status["specHash"],
                            "waves": out.status["waves"]}
    assert world.step().writes == ()
    world.finish("w-t1")  # the child's attempt 2 succeeded
    out = world.step()
    assert [w.name for w in out.writes] == ["w-t2"] and out.status["attempt"] == 2
    world.finish("w-t2")
    assert world.step().status["phase"] == "Succeeded"
    world.body["metadata"]["annotations"]["ecsbg.dev/retry"] = "2"  # attempt 2 did not fail: nothing to retry
    out = world.step()
    assert out.status["attempt"] == 2 and out.writes == () and [e.reason for e in out.events] == ["StaleRequest"]
