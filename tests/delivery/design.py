"""What docs/design.md "Operator settings" promises, read from the page so the chart cannot drift from it."""

from __future__ import annotations

import re

from tests.delivery.conftest import ROOT

DESIGN = (ROOT / "docs" / "design.md").read_text()
# Kubernetes API group of each resource the design names (core resources have the empty group).
API_GROUPS = {
    "ecsbluegreenreleases": "ecsbg.dev",
    "ecsbluegreenreleases/status": "ecsbg.dev",
    "ecsreleasewaves": "ecsbg.dev",
    "ecsreleasewaves/status": "ecsbg.dev",
    "events": "",
    "customresourcedefinitions": "apiextensions.k8s.io",
    "namespaces": "",
    "ecsreleasepolicies": "ecsbg.dev",
    "ecsanalysistemplates": "ecsbg.dev",
    "clusterecsanalysistemplates": "ecsbg.dev",
    "ecsnotificationproviders": "ecsbg.dev",
    "clusterecsnotificationproviders": "ecsbg.dev",
    "secrets": "",
}
CLUSTER_SCOPED = {"customresourcedefinitions", "namespaces", "clusterecsanalysistemplates", "ecsreleasepolicies",
                  "clusterecsnotificationproviders"}


def settings_defaults() -> dict[str, str | None]:
    """ECSBG_* variable -> default as the container sees it ("" for empty, None for unset)."""
    section = DESIGN.split("## Operator settings", 1)[1]
    defaults: dict[str, str | None] = {}
    for name, default in re.findall(r"^\| `(ECSBG_\w+)` \| ([^|]*) \|", section, flags=re.M):
        default = default.strip()
        if default.startswith("`"):
            defaults[name] = default.strip("`")
        elif default.startswith("empty"):
            defaults[name] = ""
        elif default == "unset":
            defaults[name] = None
        else:
            raise AssertionError(f"unreadable default for {name} in docs/design.md: {default!r}")
    assert len(defaults) >= 8, "the settings table of docs/design.md was not found"
    return defaults


def permissions() -> dict[str, set[str]]:
    """Resource -> verbs from the sentence "Kubernetes permissions the operator needs: ..."."""
    sentence = DESIGN.split("Kubernetes permissions the operator needs:", 1)[1].split("(kopf", 1)[0]
    found = {resource: set(verbs.split("/")) for resource, verbs in
             re.findall(r"`([\w./]+)`\s+([a-z]+(?:/[a-z]+)*)", sentence)}
    assert set(found) == set(API_GROUPS), f"docs/design.md permissions changed: {sorted(found)}"
    return found
