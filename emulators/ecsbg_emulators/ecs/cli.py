"""`ecsbg emulator`: serve the local ECS API until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4566, help="port to bind (0 = any free port)")
    parser.add_argument("--speed", type=float, default=1.0, help="divide every emulated wait by this factor")
    parser.add_argument("--record", metavar="FILE", help="append one JSON line per ECS request to FILE")
    parser.add_argument("--faults", metavar="SPEC", help="fault rules, e.g. 'throttle:0.2@DescribeServices'")
    parser.add_argument("--regions", metavar="LIST",
                        help="comma-separated regions to serve (default: the AWS commercial regions); requests "
                             "signed for any other region get no answer, like an endpoint that does not exist")
    parser.add_argument("--events-queue", metavar="URL",
                        help="an SQS queue URL (moto's server) the emulator sends 'ECS Deployment State Change' events "
                             "to, as an EventBridge rule with an SQS target would")
    parser.add_argument("--elbv2-endpoint", metavar="URL",
                        help="an ELBv2 endpoint (moto's server) whose listener rules the emulator rewrites as it "
                             "shifts traffic, as ECS does; unset: the weights live only in the emulator")


def run(args: argparse.Namespace) -> int:
    from .faults import parse
    from .server import EmulatorServer

    try:
        parse(args.faults)
    except ValueError as exc:
        print(f"ecsbg emulator: bad --faults: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    regions = [r.strip() for r in (args.regions or "").split(",") if r.strip()] or None
    srv = EmulatorServer(host=args.host, port=args.port, speed=args.speed, record_path=args.record,
                         faults=args.faults, regions=regions, elbv2_url=args.elbv2_endpoint,
                         events_queue_url=args.events_queue)
    srv.start()
    print(f"ECS emulator listening on {srv.url} (speed {args.speed:g})", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        srv.stop()
    return 0
