"""ecsbg.handlers: kopf builds no essence (NoDiffBase), so nothing may ask it to detect changes; and the
registry refuses a change-detecting handler, which NoDiffBase would leave blind."""

from __future__ import annotations

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
