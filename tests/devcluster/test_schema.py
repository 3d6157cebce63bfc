"""Schema enforcement units: pruning, defaulting, validation messages and CEL, as kube-apiserver does them."""

from __future__ import annotations

import pytest
import yaml

from ecsbg_emulators.devcluster.admission import CelHolder
from ecsbg_emulators.devcluster.schema import apply_defaults, prune, validate

from .conftest import WIDGETS_CRD

SCHEMA = yaml.safe_load(WIDGETS_CRD.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def messages(obj, old=None):
    return [str(e) for e in validate(obj, SCHEMA, "", old, old is not None, CelHolder())]


def test_prune_drops_undeclared_fields_but_keeps_preserved_ones():
    obj = {"apiVersion": "v", "kind": "Widget", "metadata": {"name": "x", "bogus": 1},
           "spec": {"size": 1, "extra": {"known": 1, "anything": {"deep": True}}, "placement": {"zone": "b", "z": 1}},
           "status": {"handlers": {"free": "form"}, "notDeclared": 1}, "top": 1}
    dropped = prune(obj, SCHEMA)
    assert sorted(dropped) == ["metadata.bogus", "spec.placement.z", "status.notDeclared", "top"]
    assert obj["spec"]["extra"] == {"known": 1, "anything": {"deep": True}}  # x-kubernetes-preserve-unknown-fields
    assert obj["status"] == {"handlers": {"free": "form"}}
    assert obj["metadata"] == {"name": "x"} and obj["apiVersion"] == "v"


def test_defaults_fill_nested_objects_and_replace_nulls():
    obj = {"spec": {"size": 2, "mode": None}}
    apply_defaults(obj, SCHEMA)
    assert obj["spec"] == {"size": 2, "minSize": 1, "mode": "Balanced", "placement": {"zone": "a", "spread": False}}
    assert obj["status"] == {"observedGeneration": -1}  # status default {} then its own property default
    kept = {"spec": {"size": 2, "placement": {"zone": "c"}}, "status": {"observedGeneration": 4}}
    apply_defaults(kept, SCHEMA)
    assert kept["spec"]["placement"] == {"zone": "c", "spread": False} and kept["status"]["observedGeneration"] == 4


@pytest.mark.parametrize(("spec", "expected"), [
    ({"size": 1, "mode": "Foo"}, 'spec.mode: Unsupported value: "Foo": supported values: "Fast", "Slow", "Balanced"'),
    ({}, "spec.size: Required value"),
    ({"size": 101}, "spec.size: Invalid value: 101: spec.size in body should be less than or equal to 100"),
    ({"size": "3"}, 'spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"'),
    ({"size": 1, "owner": "A"}, "spec.owner: Invalid value: \"A\": spec.owner in body should match '^[a-z][a-z0-9-]*$'"),
    ({"size": 1, "owner": "a" * 21}, "spec.owner: Too long: may not be more than 20 bytes"),
    ({"size": 1, "tags": ["a", "b", "c", "d"]}, "spec.tags: Too many: 4: must have at most 3 items"),
    ({"size": 1, "tags": [""]}, 'spec.tags[0]: Invalid value: "": spec.tags[0] in body should be at least 1 chars long'),
    ({"size": 1, "port": 1.5}, 'spec.port: Invalid value: "number": spec.port in body must be of type integer or string: "number"'),
])
def test_openapi_validation_messages(spec, expected):
    assert expected in messages({"spec": spec})


@pytest.mark.parametrize(("value", "ok"), [
    ("2026-11-22T02:04:19Z", True), ("2026-11-22T02:04:19.123456+01:00", True), ("2026-11-22 02:04:19", True),
    ("22/11/2026", False), ("2026-11-22T02:04:19Zulu", False), ("yesterday", False),
])
def test_date_time_format(value, ok):
    errors = messages({"spec": {"size": 1, "minSize": 1}, "status": {"lastSeen": value}})
    expected = [] if ok else [f'status.lastSeen: Invalid value: "{value}": status.lastSeen in body must be of type '
                              f'date-time: "{value}"']
    assert [e for e in errors if not e.startswith("<nil>")] == expected


def test_embedded_resource_keeps_object_header_and_prunes_the_rest():
    schema = {"type": "object", "properties": {"template": {
        "type": "object", "x-kubernetes-embedded-resource": True,
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}}}
    obj = {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"a": "x", "b": 1},
                        "other": 1}}
    assert sorted(prune(obj, schema)) == ["template.other", "template.spec.b"]
    assert obj["template"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"a": "x"}}


def test_int_or_string_accepts_both():
    assert messages({"spec": {"size": 1, "minSize": 1, "port": "http"}}) == []
    assert messages({"spec": {"size": 1, "minSize": 1, "port": 80}}) == []


def test_cel_rules_with_message_expression_and_field_path():
    assert messages({"spec": {"size": 2, "minSize": 3}}) == ['spec: Invalid value: minSize must not exceed size']
    assert messages({"spec": {"size": 60, "minSize": 1, "mode": "Fast"}}) == \
        ['spec.size: Invalid value: Fast mode allows a size of at most 50']


def test_cel_skips_rules_cel_python_cannot_run_and_reports_them():
    cel = CelHolder()
    assert validate({"spec": {"size": 1, "minSize": 1, "owner": "ok"}}, SCHEMA, "", None, False, cel) == []
    assert "!has(self.owner) || !isURL(self.owner)" in cel.skipped


def test_cel_not_run_after_a_blocking_error():
    errors = messages({"spec": {"size": "x", "minSize": 5}})
    assert errors[0].startswith("spec.size: Invalid value")
    assert errors[1].startswith("<nil>: Invalid value: null: some validation rules were not checked")


def test_unchanged_fields_are_ratcheted():
    old = {"spec": {"size": 1, "owner": "BAD"}}  # stored before the pattern existed, say
    assert messages({"spec": {"size": 1, "owner": "BAD"}, "status": {"phase": "Ready"}}, old) == []
    assert messages({"spec": {"size": 1, "owner": "BAD2"}}, old)


def test_transition_rule_sees_old_self():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {
        "type": "integer", "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "cannot shrink"}]}}}}}
    cel = CelHolder()
    assert validate({"spec": {"size": 3}}, schema, "", None, False, cel) == []  # no oldSelf on create
    errors = validate({"spec": {"size": 2}}, schema, "", {"spec": {"size": 3}}, True, cel)
    assert [str(e) for e in errors] == ['spec.size: Invalid value: cannot shrink']


def test_list_map_keys_must_be_unique():
    schema = {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
              "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
    errors = validate([{"name": "a"}, {"name": "a"}], schema, "spec.items")
    assert [str(e) for e in errors] == ['spec.items[1]: Duplicate value: map[string]interface {}{"name":"a"}']
