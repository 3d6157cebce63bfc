"""Rendered objects: valid Kubernetes, the restricted security context, settings per docs/design.md."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.delivery import design
from tests.delivery.conftest import CHART, NAMESPACE, ROOT, find, helm, missing_chart_files, render, the

# The chart's kubeVersion floor (1.29: CEL rules in the CRD) and the minor of the CI's helm/kubectl (v1.32).
K8S_VERSIONS = ("1.29.0", "1.32.0")
PROMETHEUS_OPERATOR_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}  # no bundled schema: checked below
BY_NAME = {path.stem: path for path in (CHART / "ci").glob("*.yaml")}


def rendered(ci_values: Path) -> list[dict]:
    wants_files = ci_values.stem == "monitoring-values"
    if wants_files and missing_chart_files():
        pytest.skip(f"sources not written yet: {missing_chart_files()} (test_generated fails for them)")
    return render(ci_values)


def deployment_env(objects: list[dict]) -> dict[str, str]:
    container = the(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item["value"] for item in container["env"] if "value" in item}


@pytest.mark.parametrize("k8s_version", K8S_VERSIONS)
def test_builtin_objects_are_valid_kubernetes(ci_values: Path, k8s_version: str):
    objects = rendered(ci_values)
    assert {"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"} <= {o["kind"] for o in objects}
    for obj in objects:
        if obj["kind"] in PROMETHEUS_OPERATOR_KINDS:
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        if obj["kind"] == "EcsReleasePolicy":  # our own kind: checked against its CRD (test_policy_chart.py)
            continue
        try:
            kubernetes_validate.validate(obj, k8s_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_namespaced_objects_carry_a_namespace(ci_values: Path):
    for obj in rendered(ci_values):
        if obj["kind"] not in {"ClusterRole", "ClusterRoleBinding", "EcsReleasePolicy"}:
            assert obj["metadata"].get("namespace"), f"{obj['kind']}/{obj['metadata']['name']}"


def test_active_standby_replicas_and_restricted_security(ci_values: Path):
    objects = rendered(ci_values)
    deployment = the(objects, "Deployment")
    # two replicas, one active: the Lease (ecsbg.k8s.leader) decides, so a rolling update is safe
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    env = deployment_env(objects)
    assert env["ECSBG_LEASE_NAME"] and float(env["ECSBG_LEASE_RENEW_DEADLINE_SECONDS"]) < float(
        env["ECSBG_LEASE_SECONDS"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    namespace_ref = next(e for e in container["env"] if e["name"] == "ECSBG_LEADER_ELECTION_NAMESPACE")
    assert namespace_ref["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert the(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["topologyKey"] == \
        "kubernetes.io/hostname"
    leases = [r for role in find(objects, "Role") for r in role["rules"] if "leases" in r["resources"]]
    assert leases == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                       "verbs": ["get", "create", "update"]}]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is True
    [container] = pod["containers"]
    ctx = container["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert "privileged" not in ctx and "add" not in ctx["capabilities"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_probes_hit_kopf_healthz_on_the_health_port(ci_values: Path):
    objects = rendered(ci_values)
    container = the(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert str(ports["health"]) == deployment_env(objects)["ECSBG_HEALTH_PORT"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}


# Settings whose chart default differs from the operator's on purpose: new installs refuse releases until a policy
# exists, an operator upgraded without the chart keeps today's behaviour (docs/api.md "EcsReleasePolicy").
CHART_DIFFERS = {"ECSBG_REQUIRE_POLICY": {"require_policy": True},
                 "ECSBG_OPERATOR_ID": {"operator_id": "ecsbg-system.ecsbg-ecs-bluegreen-operator"}}


def test_default_env_matches_design_defaults():
    env = deployment_env(render(None))
    for name, default in design.settings_defaults().items():
        if name in CHART_DIFFERS:
            continue
        if default is None:
            assert name not in env, f"{name} is unset by default in docs/design.md"
        else:
            assert env.get(name) == default, f"{name}: chart {env.get(name)!r}, design {default!r}"


def test_operator_reads_the_rendered_env_as_its_defaults():
    settings = pytest.importorskip("ecsbg.settings", reason="ecsbg.settings not written yet")
    expected = dataclasses.replace(settings.Settings(), **{k: v for d in CHART_DIFFERS.values() for k, v in d.items()})
    assert settings.Settings.from_env(deployment_env(render(None))) == expected


def test_namespaced_values_reach_the_operator():
    settings = pytest.importorskip("ecsbg.settings", reason="ecsbg.settings not written yet")
    parsed = settings.Settings.from_env(deployment_env(render(BY_NAME["namespaced-values"])))
    assert parsed.namespaces == ("team-a", "team-b")
    assert (parsed.log_format, parsed.log_level) == ("json", "DEBUG")
    assert (parsed.poll_fast_seconds, parsed.poll_idle_seconds) == (2, 120)
    assert parsed.metrics_port == 0  # metrics.enabled false: the design's "0 disables"


def test_metrics_service_selects_the_pod_and_its_port():
    objects = render(None)
    service = the(objects, "Service")
    pod = the(objects, "Deployment")["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    [port] = service["spec"]["ports"]
    container_ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
    assert container_ports[port["targetPort"]] == int(deployment_env(objects)["ECSBG_METRICS_PORT"])


def test_metrics_disabled_removes_service_and_port():
    objects = render(BY_NAME["namespaced-values"])
    assert not find(objects, "Service")
    container = the(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert [p["name"] for p in container["ports"]] == ["health"]


def test_irsa_values_annotate_the_service_account_used_by_the_pod():
    objects = render(BY_NAME["irsa-values"])
    account = the(objects, "ServiceAccount")
    annotations = account["metadata"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"] == "arn:aws:iam::111122223333:role/ecsbg-operator"
    assert annotations["eks.amazonaws.com/sts-regional-endpoints"] == "true"
    assert annotations["example.com/owner"] == "platform"
    pod = the(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"] == "ecsbg-operator"
    assert pod["containers"][0]["image"].endswith("@sha256:" + "0123456789abcdef" * 4)
    assert deployment_env(objects)["AWS_REGION"] == "eu-west-1"
    assert deployment_env(objects)["HTTPS_PROXY"] == "http://proxy.internal:3128"


def test_default_service_account_has_no_irsa_annotation():
    account = the(render(None), "ServiceAccount")
    assert "eks.amazonaws.com/role-arn" not in (account["metadata"].get("annotations") or {})


def test_monitoring_objects_match_their_sources():
    objects = rendered(BY_NAME["monitoring-values"])
    monitor = the(objects, "ServiceMonitor")
    service = the(objects, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rule = the(objects, "PrometheusRule")
    source = yaml.safe_load((ROOT / "deploy/prometheus/ecsbg-rules.yaml").read_text())
    assert rule["spec"] == source and rule["spec"]["groups"]
    dashboard = the(objects, "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "ECS releases"}
    assert json.loads(dashboard["data"]["ecsbg-releases.json"]) == json.loads(
        (ROOT / "dashboards/ecsbg-releases.json").read_text())


def test_service_monitor_without_metrics_is_refused():
    result = helm("template", "t", str(CHART), "--set", "metrics.enabled=false",
                  "--set", "metrics.serviceMonitor.enabled=true", check=False)
    assert result.returncode != 0 and "needs metrics.enabled" in result.stderr


def test_without_leader_election_one_replica_recreated():
    objects = render(None, "leaderElection.enabled=false")
    deployment = the(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "ECSBG_LEADER_ELECTION_NAMESPACE" not in deployment_env(objects)
    assert find(objects, "PodDisruptionBudget") == []
