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
from typing import Any

import yaml

FIELD_MANAGER = "ecsbg-crds-upgrade"


def load_crds(directory: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                found.append(doc)
    return found


def upgrade(api: Any, crds: list[dict[str, Any]]) -> list[str]:
    """Create each CRD that does not exist and replace each that does; one line per CRD for the Job's log."""
    from kubernetes.client.exceptions import ApiException

    lines = []
    for crd in crds:
        name = crd["metadata"]["name"]
        try:
            live = api.read_custom_resource_definition(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
            api.create_custom_resource_definition(crd, field_manager=FIELD_MANAGER)
            lines.append(f"created {name}")
            continue
        wanted = {**crd, "metadata": {**crd["metadata"], "resourceVersion": live.metadata.resource_version}}
        api.replace_custom_resource_definition(name, wanted, field_manager=FIELD_MANAGER)
        lines.append(f"replaced {name} (was resourceVersion {live.metadata.resource_version})")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, help="directory of CRD YAML files (the chart's crds/)")
    parser.add_argument("--kubeconfig", help="kubeconfig file; default: the pod's service account")


def run(args: argparse.Namespace) -> int:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    crds = load_crds(args.directory)
    if not crds:
        print(f"crds-upgrade: no CustomResourceDefinition in {args.directory}", file=sys.stderr)
        return 2
    if args.kubeconfig:
        config.load_kube_config(config_file=args.kubeconfig)
    else:
        config.load_incluster_config()
    try:
        for line in upgrade(client.ApiextensionsV1Api(), crds):
            print(line)
    except ApiException as exc:
        print(f"crds-upgrade: the API server refused the CRD: {exc.status} {exc.reason}: {exc.body}",
              file=sys.stderr)
        return 1
    return 0
