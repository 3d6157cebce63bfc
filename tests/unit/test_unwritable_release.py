"""A release the API server refuses every write to (stored past an older schema without a spec, issue 13).

- a 422 naming only fields outside `status` is the object's fault (StatusRefused), one naming status is ours;
- the watch wakes the loop when spec, annotations or labels change, never for the loop's own status writes
  (this replaced kopf.on.update, whose diff-base annotation kopf would retry forever on such a release).
"""

from __future__ import annotations

import json

import pytest

from ecsbg.handlers import _essence
from ecsbg.k8s.status import refused_for_the_object


def _answer(*fields: str) -> str:
    return json.dumps({"kind": "Status", "code": 422, "message": "EcsBlueGreenRelease.ecsbg.dev \"x\" is invalid: "
                       + ", ".join(f"{f}: Required value" for f in fields),
                       "details": {"causes": [{"reason": "FieldValueRequired", "field": f} for f in fields]}})


@pytest.mark.parametrize(("code", "body", "refused"), [
    (422, _answer("spec"), True),
    (422, _answer("spec.target", "spec.strategy"), True),
    (422, _answer("status.phase"), False),  # our patch is wrong: a bug to report, not the object's state
    (422, _answer("spec", "status"), False),
    (422, _answer(), False),
    (422, "not json", False),
    (409, _answer("spec"), False),
    (500, _answer("spec"), False),
])
def test_only_a_422_about_the_object_itself_is_a_refusal(code: int, body: str, refused: bool) -> None:
    message = refused_for_the_object(code, body)
    assert (message is not None) is refused
    if refused:
        assert "is invalid" in message


def _body(generation: int, annotations: dict | None = None, status: dict | None = None) -> dict:
    return {"metadata": {"generation": generation, "annotations": annotations or {}, "resourceVersion": "7"},
            "status": status or {}}


def test_the_loop_wakes_for_spec_annotation_and_label_changes_not_for_status() -> None:
    base = _essence(_body(1))
    assert _essence(_body(1, status={"phase": "Succeeded"})) == base
    assert _essence(_body(2)) != base
    assert _essence(_body(1, {"ecsbg.dev/approve": "1"})) != base
    assert _essence({"metadata": {"generation": 1, "labels": {"team": "a"}}}) != base
    assert _essence({"metadata": None}) == _essence({})  # a hostile body does not raise
