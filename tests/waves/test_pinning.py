"""The wave loop's digest pinning (ecsbg.pinning, ecsbg.waves) against the fakes: resolved once per distinct
reference, as the first target deploying it, recorded before any child, reused after a restart; a tag moved
after wave one changes nothing for wave two; errors start nothing, transient ones are retried."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ecsbg.gating import PolicyContext
from ecsbg.waves import WaveDeps, WaveState, wave_once
from tests.fakes.clock import FixedClock
from tests.fakes.digests import FakeDigests
from tests.fakes.events import RecordingEvents
from tests.fakes.waves import FakeWaveApi
from tests.waves.world import IMAGE, T0, wave_body

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
EU = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
WAVES = [{"name": "one", "targets": ["t0"], "gate": {"approval": True}}, {"name": "two", "targets": ["t1", "t3"]}]
ROLE = "arn:aws:iam::111122223333:role/deployer"
POLICY_ROLE = "arn:aws:iam::111122223333:role/ecsbg/team"


def _targets() -> list[dict[str, Any]]:
    return [{"name": "t0", "region": "us-east-1", "cluster": "demo", "service": "s0", "roleArn": ROLE},
            {"name": "t1", "region": "us-east-1", "cluster": "demo", "service": "s1"},
            {"name": "t3", "region": "eu-west-1", "cluster": "demo", "service": "s3", "imageRegistry": EU}]


def _body(resolve: bool | None = True) -> dict[str, Any]:
    body = wave_body(WAVES, _targets())
    if resolve is not None:
        body["spec"]["images"] = {"resolveDigests": resolve}
    return body


def _deps(api: FakeWaveApi, digests: FakeDigests | None, policy: PolicyContext | None = None,
          events: RecordingEvents | None = None) -> WaveDeps:
    return WaveDeps(api=api, events=events or RecordingEvents(), clock=FixedClock(T0), poll_fast=0.01,
                    poll_idle=0.05, backoff_max=0.02, digests=digests, policy=policy)


def _finish(api: FakeWaveApi, name: str) -> None:
    child = api.releases[name]
    child["status"] = {"observedGeneration": child["metadata"]["generation"], "phase": "Succeeded", "attempt": 1,
                       "source": {"taskDefinitionArn": "arn:td/web:1"}}


def _image(api: FakeWaveApi, name: str) -> str:
    return str(api.releases[name]["spec"]["taskDefinition"]["containers"][0]["image"])


async def test_tags_resolve_once_per_reference_and_wave_two_gets_them_after_the_tag_moved() -> None:
    api, digests = FakeWaveApi(), FakeDigests({IMAGE: D1, f"{EU}/web:2": D1})
    body, state = _body(), WaveState()
    await wave_once(body, _deps(api, digests), state, lambda key: [])
    # one lookup per distinct reference, as the first target deploying it (its role; the region is the host's)
    assert digests.lookups == [(IMAGE, "us-east-1", ROLE), (f"{EU}/web:2", "eu-west-1", None)]
    assert api.statuses[0] == {"images": state.last_status["images"]}  # recorded before any child
    assert _image(api, "w-t0") == f"111122223333.dkr.ecr.us-east-1.amazonaws.com/web@{D1}"
    _finish(api, "w-t0")
    digests.tags = {IMAGE: D2, f"{EU}/web:2": D2}  # the tag moves while wave one's gate waits
    await wave_once(body, _deps(api, digests), state, lambda key: [])
    assert state.last_status["phase"] == "AwaitingApproval"
    restarted = WaveState()  # a new process, reading the stored status back
    approved = copy.deepcopy(body)
    approved["metadata"]["annotations"]["ecsbg.dev/approve"] = "1:one"
    await wave_once({**approved, "status": state.last_status}, _deps(api, digests), restarted, lambda key: [])
    assert api.creates == ["w-t0", "w-t1", "w-t3"] and len(digests.lookups) == 2  # never resolved again
    assert _image(api, "w-t1") == f"111122223333.dkr.ecr.us-east-1.amazonaws.com/web@{D1}"
    assert _image(api, "w-t3") == f"{EU}/web@{D1}"


async def test_a_kill_after_recording_the_digests_reuses_them() -> None:
    api, digests = FakeWaveApi(), FakeDigests({IMAGE: D1, f"{EU}/web:2": D1})

    async def lost(namespace: str, body: dict[str, Any]) -> None:
        raise ConnectionError("killed before the first child")

    api.create_release = lost  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await wave_once(_body(), _deps(api, digests), WaveState(), lambda key: [])
    recorded = api.statuses[-1]
    del api.create_release  # the class's again
    digests.tags = {IMAGE: D2, f"{EU}/web:2": D2}
    await wave_once({**_body(), "status": recorded}, _deps(api, digests), WaveState(), lambda key: [])
    assert len(digests.lookups) == 2 and _image(api, "w-t0").endswith(D1)


async def test_a_missing_tag_starts_nothing_and_says_why_until_it_exists() -> None:
    api, digests, events = FakeWaveApi(), FakeDigests({IMAGE: D1}), RecordingEvents()
    state = WaveState()
    await wave_once(_body(), _deps(api, digests, events=events), state, lambda key: [])
    assert api.creates == [] and state.last_status["phase"] == "Invalid"
    assert f"{EU}/web:2 (resolved as target 't3'): {EU}/web:2: manifest unknown" in state.last_status["message"]
    assert events.reasons() == ["ImageDigestUnresolved"]
    digests.tags[f"{EU}/web:2"] = D1  # pushed
    await wave_once(_body(), _deps(api, digests, events=events), state, lambda key: [])
    assert api.creates == ["w-t0"] and state.last_status["phase"] == "Progressing"


async def test_a_transient_registry_error_writes_nothing_and_the_loop_retries() -> None:
    api, digests = FakeWaveApi(), FakeDigests({IMAGE: D1, f"{EU}/web:2": D1})
    digests.transient = TimeoutError("ThrottlingException")
    with pytest.raises(TimeoutError):
        await wave_once(_body(), _deps(api, digests), WaveState(), lambda key: [])
    assert api.creates == [] and api.statuses == []
    digests.transient = None
    await wave_once(_body(), _deps(api, digests), WaveState(), lambda key: [])
    assert api.creates == ["w-t0"]


async def test_without_the_switch_or_a_policy_asking_nothing_is_resolved() -> None:
    api, digests = FakeWaveApi(), FakeDigests({IMAGE: D1})
    await wave_once(_body(resolve=None), _deps(api, digests), WaveState(), lambda key: [])
    assert digests.lookups == [] and _image(api, "w-t0") == IMAGE


def _policy(resolve: bool, regions: list[str]) -> PolicyContext:
    body = {"metadata": {"name": "team"}, "spec": {
        "namespaceSelector": {"names": ["ns"]}, "targets": {"regions": regions},
        "role": {"arn": POLICY_ROLE}, "images": {"resolveDigests": resolve}}}

    async def read(**_: Any) -> str:
        raise AssertionError("no Secret is named")

    return PolicyContext(policies=lambda: [body], namespace_labels=lambda ns: {},
                         secrets=type("S", (), {"read": read})())


async def test_a_policy_asking_for_digests_pins_the_wave_with_its_role() -> None:
    api, digests = FakeWaveApi(), FakeDigests({IMAGE: D1, f"{EU}/web:2": D1})
    targets = [{k: v for k, v in t.items() if k != "roleArn"} for t in _targets()]
    body = wave_body(WAVES, targets)
    await wave_once(body, _deps(api, digests, _policy(True, ["us-east-1"])), WaveState(), lambda key: [])
    # the eu-west-1 target is refused by the policy: it lends no identity, its reference stays a tag
    assert digests.lookups == [(IMAGE, "us-east-1", POLICY_ROLE)]
    assert _image(api, "w-t0").endswith(D1)
    api2, digests2 = FakeWaveApi(), FakeDigests({IMAGE: D1})
    await wave_once(body, _deps(api2, digests2, _policy(False, ["*"])), WaveState(), lambda key: [])
    assert digests2.lookups == [] and _image(api2, "w-t0") == IMAGE
