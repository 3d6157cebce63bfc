"""ecsbg.handlers: kopf builds no essence (NoDiffBase), so nothing may ask it to detect changes; the
registry refuses a change-detecting handler, which NoDiffBase would leave blind; and the watch wakes a release's
loop for a change of what a user edits, never for the operator's own status writes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
import pytest

from ecsbg import handlers
from ecsbg.handlers import NoDiffBase, build_registry, configure_kopf
from ecsbg.settings import Settings

BODY = kopf.Body({"metadata": {"name": "web", "annotations": {"a": "1"}}, "spec": {"onDelete": "Rollback"},
                  "status": {"phase": "Progressing"}})


def test_kopf_gets_no_essence_and_so_sees_no_change():
    # what kopf compares (kopf/_core/reactor/processing.py _detect_causes)
    from kopf._cogs.structs import diffs

    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    storage = settings.persistence.diffbase_storage
    assert isinstance(storage, NoDiffBase)
    old, new = storage.fetch(body=BODY), storage.build(body=BODY)
    assert old is None and new is None
    assert not diffs.diff(old, new), "a diff would reset daemons' idleness on every event"
    patch = kopf.Patch()
    storage.store(body=BODY, patch=patch, essence={"spec": {}})
    assert not patch, "nothing written to the release"


def test_a_change_detecting_handler_is_refused(monkeypatch):
    real = handlers._register_waves

    def with_an_update_handler(registry: kopf.OperatorRegistry) -> None:
        real(registry)

        @kopf.on.update(*handlers.RESOURCE, registry=registry)
        def updated(**_: object) -> None:
            pass

    monkeypatch.setattr(handlers, "_register_waves", with_an_update_handler)
    with pytest.raises(RuntimeError, match="diff-base"):
        build_registry(Settings())


async def test_a_release_loop_is_woken_by_a_change_not_by_the_first_watch_event_after_it_starts(monkeypatch):
    """The loop starts with the body kopf spawned it with; the next watch event (most often its own first status
    write) is no change, so it must not wake the loop for an extra pass (with 1,000 releases started at once
    those extra passes came at random instants and hid how long an in-flight poll really waits). An annotation
    (a request) still wakes it at once."""
    from ecsbg.reconciler import Deps
    from tests.fakes.ecs import FakeEcsGateway
    from tests.unit.test_reconciler import body, make_deps

    registry = build_registry(Settings())
    daemon = next(h.fn for h in registry._spawning.get_all_handlers() if h.fn.__name__ == "release")
    watched = next(h.fn for h in registry._watching.get_all_handlers() if h.fn.__name__ == "watched")
    deps: Deps = make_deps(FakeEcsGateway())
    memo = kopf.Memo(deps=deps, secrets=None)
    looping = asyncio.Event()

    async def loop(*, state: Any, stopped: Any, **_: Any) -> None:
        looping.set()
        await stopped.wait()

    monkeypatch.setattr(handlers, "release_loop", loop)
    spawned = body()
    stopped = asyncio.Event()
    task = asyncio.create_task(daemon(body=spawned, namespace="default", name="web", memo=memo, stopped=stopped,
                                      release_policies={}, namespace_labels={}))
    await asyncio.wait_for(looping.wait(), 5)
    state = memo.loop_state

    async def event(obj: dict[str, Any]) -> None:
        await watched(type="MODIFIED", body=kopf.Body(obj), namespace="default", name="web", memo=memo,
                      patch=kopf.Patch())

    await event({**spawned, "status": {"phase": "Pending"}})  # its own status write
    assert not state.wake.is_set(), "woken by its own status write"
    await event({**spawned, "metadata": {**spawned["metadata"], "annotations": {"ecsbg.dev/approve": "1"}}})
    assert state.wake.is_set(), "an approval must wake the loop at once"
    stopped.set()
    await asyncio.wait_for(task, 5)


async def test_a_startup_cancelled_midway_stops_what_it_had_started(monkeypatch):
    """SIGTERM while the startup handler runs (a replica stopped just as it won the Lease): kopf runs no cleanup
    after a cancelled startup, so the handler stops the watchdog and closes what it built itself; a watchdog left
    running held the exit for kopf's 5 s wait for hung tasks (and a CI run past its 20 s)."""
    from ecsbg import wiring
    from tests.fakes.ecs import FakeEcsGateway
    from tests.unit.test_reconciler import make_deps

    registry = build_registry(Settings())
    startup = next(h.fn for h in registry._activities.get_all_handlers() if h.fn.__name__ == "startup")
    listing = asyncio.Event()

    async def fill_release_book(memo: kopf.Memo, logger: Any) -> None:
        listing.set()
        await asyncio.Event().wait()  # the startup's LIST, still running when the SIGTERM comes

    closed: list[object] = []

    async def close_deps(deps: Any) -> None:
        closed.append(deps)

    monkeypatch.setattr(handlers, "_fill_release_book", fill_release_book)
    monkeypatch.setattr(wiring, "close_deps", close_deps)
    deps = make_deps(FakeEcsGateway())
    memo = kopf.Memo(deps=deps, secrets=object(), wave_api=object(), owns_deps=True)
    task = asyncio.create_task(startup(settings=kopf.OperatorSettings(), memo=memo, logger=logging.getLogger("test")))
    await asyncio.wait_for(listing.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)  # the watchdog's cancellation lands
    assert memo.watchdog.cancelled()
    assert closed == [deps]
