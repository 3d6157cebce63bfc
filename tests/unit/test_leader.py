"""ecsbg.k8s.leader against an in-memory Lease store with the API server's optimistic concurrency (a write must
carry the resourceVersion it read, else 409) and clocks the tests move: who holds, when a standby may take over,
when the holder must stop."""

from __future__ import annotations

import copy
import signal
import threading
import time

import pytest

from ecsbg.k8s.leader import LeaderElector
from ecsbg.k8s.rest import ApiError
from ecsbg.main import _run_elected
from ecsbg.settings import LeaseSettings, Settings

SETTINGS = LeaseSettings(namespace="ecsbg-system", lease_seconds=15, renew_deadline_seconds=10, retry_seconds=2)


class Store:
    """KubeLeases' three calls on one Lease (its JSON form, as the API server sends it)."""

    def __init__(self) -> None:
        self.lease: dict | None = None
        self.version = 0
        self.fail = False

    def read(self, namespace, name):
        if self.fail:
            raise ApiError(503, "Service Unavailable")
        if self.lease is None:
            raise ApiError(404, "Not Found")
        return copy.deepcopy(self.lease)

    def create(self, namespace, body):
        if self.lease is not None:
            raise ApiError(409, "Conflict")
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        self.lease = copy.deepcopy(body)

    def replace(self, namespace, name, body):
        if self.fail:
            raise ApiError(503, "Service Unavailable")
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict")
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        self.lease = copy.deepcopy(body)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_holder_and_a_standby_takes_over_only_after_a_whole_lease_of_silence():
    store, clock = Store(), Clock()
    a = LeaderElector(store, SETTINGS, clock=clock)
    b = LeaderElector(store, SETTINGS, clock=clock)
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    clock.now = 14.0
    assert not b.try_acquire_or_renew()  # a has not renewed, but b first saw the record at 0: 14 s < 15 s
    assert a.try_acquire_or_renew()  # renewed: b's count starts again from now
    clock.now = 28.0
    assert not b.try_acquire_or_renew()
    clock.now = 43.5
    assert b.try_acquire_or_renew() and store.lease["spec"]["holderIdentity"] == b.identity
    assert store.lease["spec"]["leaseTransitions"] == 1
    assert not a.try_acquire_or_renew()  # the old holder sees it lost


def test_a_stale_write_loses_to_the_one_that_read_later():
    store, clock = Store(), Clock()
    a = LeaderElector(store, SETTINGS, clock=clock)
    assert a.try_acquire_or_renew()
    stale = store.read("y", "x")
    assert a.try_acquire_or_renew()  # a renews: the version moves on
    stale["spec"]["holderIdentity"] = "intruder"
    with pytest.raises(ApiError) as refused:
        store.replace("y", "x", stale)
    assert refused.value.status == 409


def test_a_released_lease_is_taken_at_once():
    store, clock = Store(), Clock()
    a, b = LeaderElector(store, SETTINGS, clock=clock), LeaderElector(store, SETTINGS, clock=clock)
    assert a.try_acquire_or_renew()
    a.release()
    assert store.lease["spec"]["holderIdentity"] is None
    assert b.try_acquire_or_renew()


def test_the_holder_gives_up_once_it_could_not_renew_for_the_renew_deadline():
    store = Store()
    fast = LeaseSettings(namespace="n", lease_seconds=0.6, renew_deadline_seconds=0.3, retry_seconds=0.05)
    a = LeaderElector(store, fast)
    assert a.try_acquire_or_renew()
    store.fail = True  # the API server is unreachable from here on
    lost, done = threading.Event(), threading.Event()
    keeper = threading.Thread(target=a.keep, args=(done, lost.set))
    keeper.start()
    assert lost.wait(2.0), "on_lost was called"
    keeper.join(2.0)
    assert not keeper.is_alive()


def test_settings_refuse_a_renew_deadline_past_the_lease():
    with pytest.raises(ValueError, match="retry < renew deadline < lease duration"):
        LeaseSettings(namespace="n", lease_seconds=10, renew_deadline_seconds=10)


def test_a_sigterm_as_the_lease_is_won_hands_it_back_instead_of_operating():
    """The kubelet stops a standby just as it wins the Lease (a rolling update, a drain), while the standby's own
    SIGTERM handler is still installed: the process must end and give the Lease up, not ignore the signal, run
    the operator and hold the Lease until the kubelet SIGKILLs it."""
    store = Store()
    elector = LeaderElector(store, SETTINGS)
    wins = elector.acquire

    def acquire(stop: threading.Event) -> bool:
        held = wins(stop)
        signal.raise_signal(signal.SIGTERM)
        return held

    elector.acquire = acquire
    before = signal.getsignal(signal.SIGTERM)
    operated = []
    assert _run_elected(Settings(leader_election=SETTINGS, health_port=0), lambda: operated.append(1), elector) == 0
    assert not operated and store.lease["spec"]["holderIdentity"] is None
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_lease_is_handed_over_as_soon_as_the_release_loops_have_stopped() -> None:
    """The cleanup handler calls `stopped` once kopf has stopped every release loop: the Lease is released then,
    not after the rest of kopf's shutdown (closing its watch streams took 5 s more on the real API server)."""
    store = Store()
    elector = LeaderElector(store, SETTINGS)
    holders = []

    def operate(stopped) -> None:
        holders.append(store.lease["spec"]["holderIdentity"])
        stopped()  # the cleanup handler
        holders.append(store.lease["spec"]["holderIdentity"])  # the rest of the shutdown

    assert _run_elected(Settings(leader_election=SETTINGS, health_port=0), operate, elector) == 0
    assert holders == [elector.identity, None]


def test_a_sigterm_before_kopf_has_its_signal_handlers_is_sent_again_once_it_has() -> None:
    """kopf installs its SIGTERM handler only once its tasks are spawned: a SIGTERM just after the Lease was won
    took the default action (the replica died holding the Lease). Ours stays until kopf's replaces it, then the
    signal is delivered again to kopf's."""
    store = Store()
    elector = LeaderElector(store, SETTINGS)
    before = signal.getsignal(signal.SIGTERM)
    delivered = threading.Event()

    def operate(stopped) -> None:
        signal.raise_signal(signal.SIGTERM)  # kopf is still starting: ours catches it
        signal.signal(signal.SIGTERM, lambda *_: delivered.set())  # kopf's loop.add_signal_handler
        try:  # kopf's loop polls with a wakeup fd; here, short sleeps (Python runs handlers between them)
            deadline = time.monotonic() + 5
            while not delivered.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert delivered.is_set()
        finally:
            signal.signal(signal.SIGTERM, before)
        stopped()

    assert _run_elected(Settings(leader_election=SETTINGS, health_port=0), operate, elector) == 0
    assert store.lease["spec"]["holderIdentity"] is None
    assert signal.getsignal(signal.SIGTERM) is before
