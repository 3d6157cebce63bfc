"""Patch semantics and selectors, as the apiserver applies them."""

from __future__ import annotations

import json

import pytest

from ecsbg_emulators.devcluster.errors import ApiError
from ecsbg_emulators.devcluster.patching import (
    json_patch,
    merge_patch,
    parse_field_selector,
    parse_label_selector,
    strategic_merge,
)


def test_merge_patch_rfc7386():
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": None, "e": 3}, "d": [2]}) == \
        {"a": {"c": 2, "e": 3}, "d": [2]}


def test_json_patch_ops_and_failed_test_is_422():
    doc = {"metadata": {"resourceVersion": "5", "finalizers": ["a"]}, "spec": {"list": [1, 2]}}
    out = json_patch(doc, [{"op": "test", "path": "/metadata/resourceVersion", "value": "5"},
                           {"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
                           {"op": "replace", "path": "/spec/list/0", "value": 9},
                           {"op": "move", "from": "/spec/list", "path": "/spec/moved"},
                           {"op": "remove", "path": "/metadata/resourceVersion"}])
    assert out == {"metadata": {"finalizers": ["a", "b"]}, "spec": {"moved": [9, 2]}}
    assert doc["spec"]["list"] == [1, 2]  # the stored object is never mutated
    with pytest.raises(ApiError) as caught:
        json_patch(doc, [{"op": "test", "path": "/metadata/resourceVersion", "value": "4"}])
    assert caught.value.code == 422 and caught.value.message == \
        "the server rejected our request due to an error in our request"  # kube-apiserver's generic text
    # evanphx/json-patch v4 (kube-apiserver's): replace of a missing object key sets it
    assert json_patch(doc, [{"op": "replace", "path": "/spec/new", "value": 1}])["spec"]["new"] == 1


def test_strategic_merge_of_keyed_lists_as_kubectl_apply_sends_it():
    current = {"containers": [{"name": "x", "image": "a:1", "env": [{"name": "K", "value": "v"}]},
                              {"name": "sidecar", "image": "s:1"}, {"name": "y", "image": "b:1"}]}
    patch = {"$setElementOrder/containers": [{"name": "y"}, {"name": "x"}],
             "containers": [{"name": "x", "image": "a:2"}, {"name": "old", "$patch": "delete"}]}
    out = strategic_merge(current, patch)
    # ordered as applied, x merged (its env kept), sidecar (not ours) kept at the end
    assert [c["name"] for c in out["containers"]] == ["y", "x", "sidecar"]
    assert out["containers"][1] == {"name": "x", "image": "a:2", "env": [{"name": "K", "value": "v"}]}
    assert "$setElementOrder/containers" not in json.dumps(out)


def test_strategic_merge_deletes_and_replaces():
    current = {"containers": [{"name": "x"}, {"name": "y"}], "labels": {"a": "1", "b": "2"}}
    out = strategic_merge(current, {"$setElementOrder/containers": [{"name": "x"}],
                                    "containers": [{"name": "y", "$patch": "delete"}], "labels": {"a": None}})
    assert out == {"containers": [{"name": "x"}], "labels": {"b": "2"}}
    assert strategic_merge({"m": {"a": 1}}, {"m": {"$patch": "replace", "b": 2}}) == {"m": {"b": 2}}


def test_label_selectors():
    match = parse_label_selector("tier in (gold,silver),env!=prod,app,!legacy")
    assert match({"tier": "gold", "env": "dev", "app": "x"})
    assert not match({"tier": "bronze", "app": "x"})
    assert not match({"tier": "gold", "env": "prod", "app": "x"})
    assert not match({"tier": "gold", "app": "x", "legacy": "1"})
    assert parse_label_selector("a notin (b)")({"a": "c"}) and parse_label_selector("") is None


def test_field_selectors():
    match = parse_field_selector("metadata.name=w1,involvedObject.kind!=Pod")
    assert match({"metadata": {"name": "w1"}, "involvedObject": {"kind": "Widget"}})
    assert not match({"metadata": {"name": "w2"}, "involvedObject": {"kind": "Widget"}})
    assert not match({"metadata": {"name": "w1"}, "involvedObject": {"kind": "Pod"}})
