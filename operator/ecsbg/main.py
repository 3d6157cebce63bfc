"""`ecsbg run`: the operator process."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecsbg.k8s.leader import LeaderElector
    from ecsbg.settings import Settings

# Objects allocated (net) between two young-generation collections; CPython's default is 700. A pass allocates
# thousands (parsed answers, status dicts, kopf's per-event views), almost all freed by reference counting, so at
# 700 the collector ran several times per pass to find next to no cycles. 50,000: 1,000 releases created at once
# and a restart of 2,000 take about a tenth less CPU (docs/design.md "Scale"); the older generations keep their
# thresholds, so full collections still come as often per young collection.
GC_YOUNG_THRESHOLD = 50_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namespace", action="append", default=[],
                        help="namespace to watch (repeatable); default: ECSBG_NAMESPACES, else all namespaces")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.add_argument("--require-policy", action="store_true",
                        help="refuse releases while no EcsReleasePolicy exists (default: ECSBG_REQUIRE_POLICY)")


def run(args: argparse.Namespace) -> int:
    from ecsbg.k8s.login import keep_other_clients_out

    keep_other_clients_out()  # before kopf's first import: it would load the official client and pykube
    from ecsbg import httpheaders

    httpheaders.install()  # every response's headers, ECS's and the Kubernetes API's, parsed without email
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    import kopf

    from ecsbg.handlers import build_registry
    from ecsbg.settings import Settings

    try:
        settings = Settings.from_env()
    except ValueError as exc:  # one line naming the variable, not a traceback in a crash-looping pod's log
        print(f"ecsbg run: {exc}", file=sys.stderr)
        return 2
    if args.require_policy:
        settings = dataclasses.replace(settings, require_policy=True)
    namespaces = tuple(args.namespace) or settings.namespaces
    _configure_logging(settings, "DEBUG" if args.verbose else settings.log_level)

    def operate(stopped: Callable[[], None] | None = None) -> None:
        """`stopped`: called by the cleanup handler once kopf has stopped every release loop (handlers)."""
        kopf.run(
            registry=build_registry(settings),
            standalone=True,  # kopf's peering is off: one active replica, chosen by ecsbg.k8s.leader
            namespaces=namespaces,
            clusterwide=not namespaces,
            # watched_namespaces: what ecsbg.releasebook lists at startup
            memo=kopf.Memo(watched_namespaces=namespaces, stopped=stopped),
            liveness_endpoint=f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None,
        )

    if settings.leader_election is None:
        operate()
        return 0
    return _run_elected(settings, operate)


def _run_elected(settings: Settings, operate: Callable[..., None], elector: LeaderElector | None = None) -> int:
    """Standby until this replica holds the Lease, then the operator; losing the Lease ends the process (exit 1:
    the kubelet restarts the container, which becomes a standby). `elector`: the tests' own."""
    import signal

    from ecsbg.k8s.leader import KubeLeases, LeaderElector, StandbyProbe

    if elector is None:
        elector = LeaderElector(KubeLeases(settings.leader_election), settings.leader_election)
    stop, received = threading.Event(), []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    probe = StandbyProbe(settings.health_port) if settings.health_port else None
    logging.getLogger(__name__).info("leader election: %s is standby for lease %s/%s", elector.identity,
                                     settings.leader_election.namespace, settings.leader_election.name)
    try:
        try:
            if not elector.acquire(stop):
                return 0
        finally:
            if probe is not None:
                probe.close()
        if stop.is_set():  # SIGTERM came as the Lease was won (closing the probe takes up to 0.5 s): hand it back
            elector.release()
            return 0
        return _operate_elected(settings, operate, elector, _Redelivery(stop, received, on_signal))
    finally:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is on_signal:
                signal.signal(sig, handler)


class _Redelivery:
    """Our handler stays until kopf has put its own in place (`loop.add_signal_handler`, once its tasks are
    spawned): a SIGTERM in between would otherwise take the default action and kill the replica with its Lease
    held. A signal caught meanwhile is sent again as soon as kopf's handler replaced ours."""

    def __init__(self, stop: threading.Event, received: list[int], ours: object) -> None:
        self._stop, self._received, self._ours = stop, received, ours
        self.finished = threading.Event()

    def close(self) -> None:
        self.finished.set()
        self._stop.set()  # wakes the thread when no signal came

    def start(self) -> None:
        threading.Thread(target=self._run, name="ecsbg-signals", daemon=True).start()

    def _run(self) -> None:
        import signal

        self._stop.wait()
        while self._received and not self.finished.is_set():
            if signal.getsignal(self._received[-1]) is not self._ours:
                # to the main thread, where Python runs handlers: a process-wide kill may land on this thread
                # and wait for the main thread's next bytecode (a blocked wait would not see it)
                signal.pthread_kill(threading.main_thread().ident or 0, self._received[-1])
                return
            self.finished.wait(0.02)


def _operate_elected(settings: Settings, operate: Callable[..., None], elector: LeaderElector,
                     redelivery: _Redelivery) -> int:
    import signal

    lost, done = threading.Event(), threading.Event()

    def on_lost() -> None:
        lost.set()
        # stop acting as a SIGTERM would (kopf's stop_flag waits on an executor thread that then blocks the
        # loop's shutdown); and if stopping takes longer than the rest of the lease, exit outright
        os.kill(os.getpid(), signal.SIGTERM)
        grace = settings.leader_election.lease_seconds - settings.leader_election.renew_deadline_seconds
        if not done.wait(max(0.5, grace / 2)):
            logging.getLogger(__name__).error("leader election: lease lost and the operator did not stop: exiting")
            os._exit(1)

    def stopped() -> None:
        # every release loop has stopped (kopf's cleanup, or operate returned): the Lease goes now, not after the
        # rest of the shutdown (closing kopf's watch streams took 5 s more against the real API server)
        if not done.is_set():
            done.set()  # the keeper renews no more
            if not lost.is_set():
                elector.release()

    keeper = threading.Thread(target=elector.keep, args=(done, on_lost), name="ecsbg-lease", daemon=True)
    keeper.start()
    redelivery.start()
    try:
        operate(stopped=stopped)
    finally:
        redelivery.close()
        stopped()
    return 1 if lost.is_set() else 0


def _configure_logging(settings: Settings, level: str) -> None:
    from ecsbg import logs

    logs.configure(settings.log_format, level, unsafe_wire_logging=settings.unsafe_wire_logging)
    if level != "DEBUG":
        # kopf logs "Handler ... succeeded" at INFO for every watch event of every release: thousands of lines a
        # minute at 1,000 releases, 6 % of a restart's CPU, and nothing the release loop's own lines do not say
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    for key in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"):
        logs.register_secret(os.environ.get(key))  # the operator's own credentials, wherever they would show
