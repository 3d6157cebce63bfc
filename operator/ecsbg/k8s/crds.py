"""`ecsbg crds-upgrade DIR`: create or replace the CRDs of a directory, for the chart's pre-upgrade hook.

Helm installs a chart's crds/ on the first install and never upgrades them (helm.sh/docs/chart_best_practices/
custom_resource_definitions). The chart's pre-upgrade hook Job runs this command in the operator's own image with
the CRDs the new chart version carries (docs/install.md "Upgrades"), so `helm upgrade` brings the CRD the new
operator needs before the new operator starts. Replace is Flux's `CreateReplace`: the chart's CRD is the whole
truth. A CRD change the API server refuses (dropping a version still in status.storedVersions) fails the Job,
and with it the upgrade, before anything else changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from ecsbg.k8s.rest import RestClient

FIELD_MANAGER = "ecsbg-crds-upgrade"


def load_crds(directory: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                found.append(doc)
    return found


def upgrade(api: RestClient, crds: list[dict[str, Any]]) -> list[str]:
    """Create each CRD that does not exist and replace each that does; one line per CRD for the Job's log."""
    from ecsbg.k8s.rest import ApiError

    manager = {"fieldManager": FIELD_MANAGER}
    lines = []
    for crd in crds:
        name = crd["metadata"]["name"]
        try:
            live = api.get(_crd_path(name))
        except ApiError as exc:
            if exc.status != 404:
                raise
            api.post(_crd_path(), crd, query=manager)
            lines.append(f"created {name}")
            continue
        version = live["metadata"]["resourceVersion"]
        wanted = {**crd, "metadata": {**crd["metadata"], "resourceVersion": version}}
        api.put(_crd_path(name), wanted, query=manager)
        lines.append(f"replaced {name} (was resourceVersion {version})")
    return lines


def _crd_path(name: str | None = None) -> str:
    from ecsbg.k8s.rest import custom_path

    return custom_path("apiextensions.k8s.io", "v1", "customresourcedefinitions", name=name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, help="directory of CRD YAML files (the chart's crds/)")
    parser.add_argument("--kubeconfig", help="kubeconfig file; default: the pod's service account")


def run(args: argparse.Namespace) -> int:
    from ecsbg.k8s import credentials
    from ecsbg.k8s.rest import ApiError, RestClient

    crds = load_crds(args.directory)
    if not crds:
        print(f"crds-upgrade: no CustomResourceDefinition in {args.directory}", file=sys.stderr)
        return 2
    if args.kubeconfig:
        found = credentials.from_kubeconfig(args.kubeconfig)
    else:
        found = credentials.in_cluster()
        if found is None:
            print("crds-upgrade: not in a pod (no service account): pass --kubeconfig", file=sys.stderr)
            return 2
    try:
        for line in upgrade(RestClient(found), crds):
            print(line)
    except ApiError as exc:
        print(f"crds-upgrade: the API server refused the CRD: {exc.status} {exc.reason}: {exc.body}",
              file=sys.stderr)
        return 1
    return 0
