"""The chart's roles for people match docs/install.md "Roles for people", evaluated as Kubernetes RBAC would.

Both tables of that section are read from the page. The first must equal the rendered ClusterRoles rule for rule.
The second is evaluated: a person bound to `view` or `edit` gets every chart ClusterRole whose labels the built-in
role's aggregationRule selects (Kubernetes' `view` is itself aggregated into `edit`), plus the built-in rules for
core objects, and each verb of the table is allowed or not by that union of rules.
"""

from __future__ import annotations

import re

import pytest

from tests.delivery.conftest import ROOT, find, render

SECTION = (ROOT / "docs" / "install.md").read_text().split("## Roles for people", 1)[1].split("\n## ", 1)[0]
GROUP = "ecsbg.dev"
# Built-in aggregation (kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy): the label each role selects.
AGGREGATES = {"view": ["aggregate-to-view"], "edit": ["aggregate-to-edit", "aggregate-to-view"],
              "admin": ["aggregate-to-admin", "aggregate-to-edit", "aggregate-to-view"]}
ACTIONS = {  # column of the second table -> (verb, resource) the command needs
    "`kubectl get ecsreleases`": ("list", "ecsbluegreenreleases"),
    "`kubectl apply -f release.yaml`": ("create", "ecsbluegreenreleases"),
    "`kubectl ecsrelease approve NAME`": ("patch", "ecsbluegreenreleases"),
    "`kubectl delete ecsrelease NAME`": ("delete", "ecsbluegreenreleases"),
    "write `status`": ("patch", "ecsbluegreenreleases/status"),
}


def tables() -> list[list[list[str]]]:
    found, current = [], []
    for line in SECTION.splitlines():
        if line.startswith("|"):
            if not set(line) <= set("|- "):
                current.append([cell.strip() for cell in line.strip("|").split("|")])
        elif current:
            found.append(current)
            current = []
    return found + ([current] if current else [])


def chart_roles(*sets: str) -> dict[str, dict]:
    return {r["metadata"]["name"]: r for r in find(render(None, *sets), "ClusterRole")}


def documented_role_name(cell: str) -> str:
    name = re.match(r"`([^`]+)`", cell).group(1)
    return name.replace("<fullname>", "ecsbg-ecs-bluegreen-operator")


def grants(role: dict) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in role["rules"]:
        for resource in rule["resources"]:
            key = resource if rule["apiGroups"] == [GROUP] else f"{rule['apiGroups'][0]}/{resource}".lstrip("/")
            found.setdefault(key, set()).update(rule["verbs"])
    return found


def test_the_role_table_is_what_the_chart_renders():
    roles = chart_roles()
    header, *rows = tables()[0]
    resources = [h.strip("`") for h in header[2:]]
    assert len(rows) == 3
    documented = set()
    for row in rows:
        name = documented_role_name(row[0])
        documented.add(name)
        wanted = {res: {v.strip() for v in cell.split(",")}
                  for res, cell in zip(resources, row[2:], strict=True) if cell != "-"}
        assert grants(roles[name]) == wanted, name
        labels = roles[name]["metadata"]["labels"]
        aggregated = {k.split("/", 1)[1] for k, v in labels.items()
                      if k.startswith("rbac.authorization") and v == "true"}
        named = set(re.findall(r"`(view|edit|admin)`", row[1]))
        # "view (so also edit, admin)" names them all; the role itself carries only the direct label(s).
        assert aggregated <= {f"aggregate-to-{n}" for n in named}, name
        assert bool(aggregated) is bool(named), name
    operator = render(None)
    binding = find(operator, "ClusterRoleBinding")[0]["roleRef"]["name"]
    assert set(roles) - {binding} == documented


def effective_rules(binding: str, roles: dict[str, dict]) -> list[dict]:
    if binding in AGGREGATES:
        labels = {f"rbac.authorization.k8s.io/{label}" for label in AGGREGATES[binding]}
        chosen = [r for r in roles.values() if labels & {k for k, v in r["metadata"].get("labels", {}).items()
                                                             if v == "true"}]
    else:
        chosen = [roles[binding]]
    return [rule for role in chosen for rule in role["rules"]]


def allows(rules: list[dict], verb: str, resource: str) -> bool:
    return any(GROUP in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
               for rule in rules)


def test_the_person_table_holds_for_the_rendered_rules():
    roles = chart_roles()
    header, *rows = tables()[1]
    assert [h for h in header[1:]] == list(ACTIONS)
    assert [documented_role_name(r[0]) for r in rows] == ["view", "edit", "ecsbg-approver"]
    for row in rows:
        rules = effective_rules(documented_role_name(row[0]), roles)
        for column, cell in zip(header[1:], row[1:], strict=True):
            assert cell in ("yes", "no")
            assert allows(rules, *ACTIONS[column]) is (cell == "yes"), f"{row[0]}: {column}"


def test_no_role_for_people_reads_secrets_or_writes_status():
    for name, role in chart_roles().items():
        if "aggregate" in name or name == "ecsbg-approver":
            for rule in role["rules"]:
                assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], name
                assert "secrets" not in rule["resources"], name
                if "ecsbluegreenreleases/status" in rule["resources"]:
                    assert set(rule["verbs"]) <= {"get", "list", "watch"}, name


@pytest.mark.parametrize("sets", [("rbac.userRoles.create=false",), ("rbac.create=false",)])
def test_user_roles_can_be_turned_off(sets):
    assert not [n for n in chart_roles(*sets) if "aggregate" in n or n == "ecsbg-approver"]


def test_the_approver_role_name_is_configurable():
    assert "shop-approver" in chart_roles("rbac.userRoles.approverRoleName=shop-approver")
