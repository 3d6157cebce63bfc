"""PodMonitor, extra volumes and mounts (private CA bundles): what docs/install.md promises for them."""

from __future__ import annotations

import pytest

from tests.delivery.conftest import CHART, find, helm, render, the

CA = CHART / "ci" / "podmonitor-ca-values.yaml"


def test_pod_monitor_scrapes_the_pods_metrics_port():
    objects = render(CA)
    monitor = the(objects, "PodMonitor")
    pod = the(objects, "Deployment")["spec"]["template"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint == {"port": "metrics", "path": "/metrics", "interval": "20s", "scrapeTimeout": "10s"}
    ports = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert "metrics" in ports
    assert not find(objects, "ServiceMonitor") and not find(render(None), "PodMonitor")


@pytest.mark.parametrize("sets, message", [
    (("metrics.podMonitor.enabled=true", "metrics.serviceMonitor.enabled=true"), "scrape the operator twice"),
    (("metrics.podMonitor.enabled=true", "metrics.enabled=false"), "needs metrics.enabled"),
])
def test_pod_monitor_refuses_contradictory_values(sets, message):
    args = ["template", "x", str(CHART)] + [arg for s in sets for arg in ("--set", s)]
    result = helm(*args, check=False)
    assert result.returncode != 0 and message in result.stderr


def test_extra_volumes_and_mounts_carry_a_ca_bundle():
    pod = the(render(CA), "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert volumes["ca-bundle"] == {"name": "ca-bundle", "configMap": {"name": "corporate-ca"}}
    assert mounts["ca-bundle"] == {"name": "ca-bundle", "mountPath": "/etc/ecsbg/ca", "readOnly": True}
    assert "tmp" in volumes and "tmp" in mounts  # the chart's own scratch volume stays
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AWS_CA_BUNDLE"] == "/etc/ecsbg/ca/ca.crt"


def test_the_schema_refuses_a_mount_without_a_path():
    result = helm("template", "x", str(CHART), "--set", "extraVolumeMounts[0].name=ca", check=False)
    assert result.returncode != 0 and "mountPath" in result.stderr
