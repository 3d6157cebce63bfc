"""`kubectl ecsrelease get|approve|abort wave NAME` on wave objects made by the real pass (world.py)."""

from __future__ import annotations

import io

from ecsbg.plugin import cli, waves
from tests.waves.world import World, wave_body

GATED = [{"name": "one", "targets": ["t0"], "gate": {"approval": True}}, {"name": "two", "targets": ["t1"]}]


def _waiting() -> World:
    world = World(wave_body(GATED))
    world.step()
    world.finish("w-t0")
    world.step()
    return world


def test_the_tree_shows_waves_gates_and_targets() -> None:
    world = _waiting()
    text = waves.render_wave(world.body, world.now)
    assert "phase AwaitingApproval" in text and "attempt 1" in text and "progress 1/2" in text
    assert "├─ wave one: Gating   [gate approval: AwaitingApproval]" in text
    assert "│  └─ t0 (w-t0): Succeeded, phase Succeeded, attempt 1" in text
    assert "└─ wave two: Pending" in text and "   └─ t1 (w-t1): Absent" in text
    assert not waves.done(world.body)


def test_the_tree_shows_the_digests_every_target_deploys() -> None:
    from tests.waves.world import IMAGE

    digest = "sha256:" + "1" * 64
    world = World(wave_body(GATED))
    world.step(resolved={IMAGE: digest})
    assert f"  image {IMAGE} = {digest} (resolved by attempt 1)" in waves.render_wave(world.body, world.now)
    assert "  image " not in waves.render_wave(_waiting().body, world.now)  # nothing resolved, nothing shown


def test_approve_names_the_waiting_gate_and_refuses_the_others() -> None:
    world = _waiting()
    assert waves.approve(world.body, None, None).value == "1:one"
    assert waves.approve(world.body, "one", 1).annotation == "ecsbg.dev/approve"
    assert not waves.approve(world.body, "two", None).ok
    assert "not the current one" in waves.approve(world.body, None, 2).message
    world.body["metadata"]["annotations"]["ecsbg.dev/approve"] = waves.approve(world.body, None, None).value
    world.step()
    assert not waves.approve(world.body, None, None).ok  # nothing waits any more


def test_abort_names_the_attempt_until_it_ended() -> None:
    world = _waiting()
    request = waves.abort(world.body, None)
    assert (request.ok, request.annotation, request.value) == (True, "ecsbg.dev/abort", "1")
    world.finish("w-t0", "Failed")
    world.step()
    assert not waves.abort(world.body, None).ok and waves.done(world.body)


def test_the_cli_reads_get_wave_name_and_refuses_a_stray_word(monkeypatch) -> None:
    world = _waiting()

    class Wave:
        obj = world.body
    monkeypatch.setattr(cli.kube, "connect", lambda *a: (object(), "ns"))
    monkeypatch.setattr(cli.kube, "get_wave", lambda api, ns, name: Wave if name == "w" else None)
    annotated = []
    monkeypatch.setattr(cli.kube, "annotate", lambda obj, key, value: annotated.append((key, value)))
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["get", "wave", "w"], out=out, err=err) == 0 and "wave one: Gating" in out.getvalue()
    assert cli.main(["approve", "wave", "w"], out=out, err=err) == 0 and annotated == [("ecsbg.dev/approve", "1:one")]
    assert cli.main(["get", "web", "w"], out=out, err=err) == 1 and "did you mean" in err.getvalue()


def test_lint_checks_a_wave_and_each_rendered_child(tmp_path) -> None:
    import yaml

    from ecsbg.plugin.lint import lint_file

    bad = wave_body([{"name": "one", "targets": ["t0", "nope"]}])
    latest = wave_body([{"name": "one", "targets": ["t0"]}])
    latest["metadata"]["name"] = "latest"
    latest["spec"]["template"]["taskDefinition"]["containers"][0]["image"] = "web:latest"
    path = tmp_path / "waves.yaml"
    path.write_text(yaml.safe_dump_all([bad, latest]))
    (_, first), (_, second) = lint_file(path)
    assert first == ["UnknownTarget: spec.waves[0].targets[1]: no target named 'nope' in spec.targets"]
    assert second and all(p.startswith("target ") for p in second) and any("latest" in p for p in second)
