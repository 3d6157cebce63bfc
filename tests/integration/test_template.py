"""spec.taskDefinition.template end to end (real kopf, the Kubernetes API, real boto3 + the ECS emulator):

- a whole task definition from Git, with a sidecar and a secret by ARN, is registered as given (plus the
  content-hash tag) and deployed;
- registering is idempotent by content: a template reverted to an earlier content reuses its revision;
- a template botocore's model refuses (a wrong type, an unknown enum value) fails the attempt before any write,
  naming each field; the plugin's lint names the same fields offline.
"""

from __future__ import annotations

import copy
import io
from typing import Any

import yaml

from ecsbg.plugin import cli
from tests.integration.conftest import ReleaseEnv, release_manifest

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:web/db-password-AbCdEf"
TEMPLATE: dict[str, Any] = {
    "family": "web",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "512",
    "memory": "1024",
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    "containerDefinitions": [
        {"name": "app", "image": "public.ecr.aws/nginx/nginx:1.29", "essential": True,
         "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
         "secrets": [{"name": "DB_PASSWORD", "valueFrom": SECRET}],
         "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"], "interval": 10}},
        {"name": "log-router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4",
         "essential": False, "firelensConfiguration": {"type": "fluentbit"}},
    ],
    "tags": [{"key": "team", "value": "shop"}],
}


def _manifest(env: ReleaseEnv, template: dict[str, Any]) -> dict[str, Any]:
    manifest = release_manifest("web", env.namespace)
    manifest["spec"]["taskDefinition"] = {"template": template}
    return manifest


def _registered(env: ReleaseEnv) -> list[dict[str, Any]]:
    return [r for r in env.ecs.requests[env.seeded:] if r["operation"] == "RegisterTaskDefinition"]


def test_a_template_is_registered_as_given_and_reused_by_content(release_env: ReleaseEnv, tmp_path,
                                                                  monkeypatch) -> None:
    env = release_env
    env.start_operator()
    env.apply(_manifest(env, TEMPLATE))
    status = env.wait_phase("web", "Succeeded", "Failed", "RolledBack")
    assert status["phase"] == "Succeeded", status["message"]
    assert status["revision"] == "web:2"
    described = env.client.describe_task_definition(taskDefinition="web:2", include=["TAGS"])
    task_definition = described["taskDefinition"]
    assert [c["name"] for c in task_definition["containerDefinitions"]] == ["app", "log-router"]
    assert task_definition["containerDefinitions"][0]["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": SECRET}]
    assert (task_definition["cpu"], task_definition["memory"]) == ("512", "1024")
    tags = {t["key"]: t["value"] for t in described["tags"]}
    assert tags["team"] == "shop" and len(tags["ecsbg.dev/taskdef-hash"]) == 16

    changed = copy.deepcopy(TEMPLATE)
    changed["containerDefinitions"][0]["image"] = "public.ecr.aws/nginx/nginx:1.30"
    env.apply(_manifest(env, changed))
    status = env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "Succeeded")
    assert status["revision"] == "web:3"
    env.apply(_manifest(env, TEMPLATE))  # a Git revert: the content of web:2 again
    status = env.wait_status("web", lambda s: s.get("attempt") == 3 and s.get("phase") == "Succeeded")
    assert status["revision"] == "web:2"
    assert len(_registered(env)) == 2, "web:2 was reused, not registered again"

    (tmp_path / "web.yaml").write_text(yaml.safe_dump(_manifest(env, changed)))
    monkeypatch.setenv("ECSBG_AWS_ENDPOINT_URL", env.ecs.url)
    out = io.StringIO()
    assert cli.main(["plan", "-f", str(tmp_path / "web.yaml"), "--kubeconfig", str(tmp_path / "none")],
                    out=out, err=out) == 0, out.getvalue()
    assert "task definition: reuse arn:aws:ecs:us-east-1:123456789012:task-definition/web:3" in out.getvalue()


def test_a_template_the_model_refuses_fails_before_any_write(release_env: ReleaseEnv, tmp_path) -> None:
    env = release_env
    bad = copy.deepcopy(TEMPLATE)
    bad["networkMode"] = "bridged"
    bad["containerDefinitions"][0]["portMappings"][0]["containerPort"] = "80"
    env.start_operator()
    env.apply(_manifest(env, bad))
    status = env.wait_phase("web", "Failed")
    assert "spec.taskDefinition.template.networkMode: 'bridged' is not one of bridge, host, awsvpc, none" \
        in status["message"]
    assert "spec.taskDefinition.template.containerDefinitions[0].portMappings[0].containerPort: '80' is not of " \
        "type int" in status["message"]
    writes = [r["operation"] for r in env.ecs.requests[env.seeded:] if r["operation"] in (
        "RegisterTaskDefinition", "UpdateService")]
    assert writes == []

    (tmp_path / "web.yaml").write_text(yaml.safe_dump(_manifest(env, bad)))
    out = io.StringIO()
    assert cli.main(["lint", str(tmp_path / "web.yaml")], out=out) == 1
    assert "spec.taskDefinition.template.networkMode: 'bridged' is not one of" in out.getvalue()


def test_overrides_reach_secrets_resources_ports_health_and_add_a_sidecar(release_env: ReleaseEnv) -> None:
    env = release_env
    manifest = release_manifest("web", env.namespace)
    manifest["spec"]["taskDefinition"] = {
        "cpu": "1024", "memory": "2048",
        "containers": [{"name": "app", "image": "public.ecr.aws/nginx/nginx:1.29",
                        "secrets": [{"name": "DB_PASSWORD", "valueFrom": SECRET}],
                        "cpu": 256, "memory": 512,
                        "portMappings": [{"containerPort": 8080, "protocol": "tcp", "name": "http"}],
                        "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"],
                                        "retries": 3}}],
        "sidecars": [{"name": "agent", "image": "public.ecr.aws/datadog/agent:7.60.0", "essential": False,
                      "environment": [{"name": "DD_SITE", "value": "datadoghq.eu"}]}],
    }
    env.start_operator()
    env.apply(manifest)
    status = env.wait_phase("web", "Succeeded", "Failed", "RolledBack")
    assert status["phase"] == "Succeeded", status["message"]
    task_definition = env.client.describe_task_definition(taskDefinition=status["revision"])["taskDefinition"]
    app, agent = task_definition["containerDefinitions"]
    assert (task_definition["cpu"], task_definition["memory"]) == ("1024", "2048")
    assert app["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": SECRET}]
    assert (app["cpu"], app["memory"], app["portMappings"][0]["containerPort"]) == (256, 512, 8080)
    assert app["healthCheck"]["command"][1].startswith("curl -f http://localhost:8080/")
    assert agent["name"] == "agent" and agent["essential"] is False

    manifest["spec"]["taskDefinition"]["sidecars"][0]["restartPolcy"] = {"enabled": True}  # a typo
    manifest["spec"]["strategy"]["bakeTimeInMinutes"] = 5
    before = len(env.ecs.requests)
    env.apply(manifest)
    status = env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "Failed")
    assert "InvalidTaskDefinitionOverride" in str(status["conditions"])
    assert "containerDefinitions[1].restartPolcy: unknown member" in status["message"]
    assert not {"RegisterTaskDefinition", "UpdateService"} & {r["operation"] for r in env.ecs.requests[before:]}
