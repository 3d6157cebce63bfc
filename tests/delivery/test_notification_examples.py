"""The notification provider examples (examples/notifications/*.yaml) pass their CRDs' schemas, and the release
example's subscriptions parse without a problem and name providers the examples define."""

from __future__ import annotations

import jsonschema
import yaml

from ecsbg.domain.notifications import subscriptions
from tests.delivery.conftest import ROOT
from tests.delivery.test_examples import to_json_schema

PROVIDERS = ROOT / "examples" / "notifications" / "providers.yaml"
RELEASE = ROOT / "examples" / "notifications.yaml"
CRDS = {"EcsNotificationProvider": "ecsnotificationproviders",
        "ClusterEcsNotificationProvider": "clusterecsnotificationproviders"}


def schema(kind: str) -> dict:
    crd = yaml.safe_load((ROOT / "crds" / f"{CRDS[kind]}.ecsbg.dev.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def objects() -> list[dict]:
    return [o for o in yaml.safe_load_all(PROVIDERS.read_text()) if o]


def test_provider_examples_are_valid() -> None:
    providers = [o for o in objects() if o["kind"] in CRDS]
    assert {o["spec"]["type"] for o in providers} == {"slack", "msteams", "webhook"}
    for obj in providers:
        errors = [e.message for e in jsonschema.Draft7Validator(to_json_schema(schema(obj["kind"]))).iter_errors(obj)]
        assert errors == [], obj["metadata"]["name"]


def test_the_cluster_provider_schema_requires_the_secret_namespace() -> None:
    (obj,) = [o for o in objects() if o["kind"] == "ClusterEcsNotificationProvider"]
    del obj["spec"]["secretRef"]["namespace"]
    validator = jsonschema.Draft7Validator(to_json_schema(schema(obj["kind"])))
    assert any("namespace" in e.message for e in validator.iter_errors(obj))


def test_the_release_example_subscribes_to_defined_providers() -> None:
    subs, problems = subscriptions(yaml.safe_load(RELEASE.read_text()))
    defined = {f"{o['kind']}/{o['metadata']['name']}" for o in objects() if o["kind"] in CRDS}
    assert problems == [] and {s.provider for s in subs} <= defined and len(subs) == 3
    secrets = {(o["metadata"]["name"], key) for o in objects() if o["kind"] == "Secret" for key in o["stringData"]}
    for obj in objects():
        if obj["kind"] in CRDS:
            ref = obj["spec"]["secretRef"]
            assert (ref["name"], ref.get("key", "address")) in secrets
