"""`ecsbg dev-cluster`: serve the local Kubernetes API until SIGINT/SIGTERM and write a kubeconfig for it."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: 0, a free port)")
    parser.add_argument("--kubeconfig", default=".demo/kubeconfig", metavar="FILE",
                        help="where to write the kubeconfig (context ecsbg-dev; default: .demo/kubeconfig)")
    parser.add_argument("--crd", action="append", default=[], metavar="PATH",
                        help="a CRD (or any manifest) YAML file or directory to apply at start; repeatable")
    parser.add_argument("--no-repo-crds", action="store_true",
                        help="do not apply ./crds/*.yaml (applied by default when that directory exists)")


def manifests(args: argparse.Namespace) -> list[Path]:
    paths = [] if args.no_repo_crds else sorted(Path("crds").glob("*.yaml"))
    for given in args.crd:
        path = Path(given)
        paths.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return paths


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from .cluster import DevCluster

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with DevCluster(host=args.host, port=args.port) as cluster:
        kubeconfig = cluster.write_kubeconfig(args.kubeconfig)
        for path in manifests(args):
            cluster.apply(path)
            print(f"applied {path}", flush=True)
        print(f"Kubernetes API at {cluster.url}\nexport KUBECONFIG={kubeconfig.resolve()}\n"
              "(Ctrl-C to stop)", flush=True)
        stop.wait()
    return 0
