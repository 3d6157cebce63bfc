"""spec.paused and `kubectl ecsrelease plan`, end to end (real kopf, the Kubernetes API, real boto3 + the ECS
emulator, whose request record shows every AWS call):

- a spec change committed with `paused: true` starts nothing: no RegisterTaskDefinition, no UpdateService; the
  release stays Succeeded with the Paused condition, an AttemptHeld Event and status.plan showing the revision
  that would be registered (its diff names the new image) and the UpdateService request; `paused: false`
  starts exactly that attempt;
- `plan -f FILE` prints the same for a file, from reads only; once registered, the same content is reused.
"""

from __future__ import annotations

import io
import json

import pytest
import yaml

from ecsbg.plugin import cli
from tests.integration.conftest import IMAGE_V2, ReleaseEnv, release_manifest

IMAGE_V3 = "public.ecr.aws/nginx/nginx:1.29"
WRITES = {"RegisterTaskDefinition", "UpdateService", "ContinueServiceDeployment", "StopServiceDeployment",
          "DeregisterTaskDefinition", "TagResource"}


def _conditions(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status.get("conditions") or []}


def _operations(env: ReleaseEnv, since: int) -> list[str]:
    return [r["operation"] for r in env.ecs.requests[since:]]


def test_a_paused_spec_change_is_planned_not_deployed_until_unpaused(release_env: ReleaseEnv) -> None:
    env = release_env
    env.start_operator()
    env.apply(release_manifest("web", env.namespace))
    assert env.wait_phase("web", "Succeeded")["revision"] == "web:2"
    before = len(env.ecs.requests)

    env.apply(release_manifest("web", env.namespace, image=IMAGE_V3, paused=True))
    status = env.wait_status("web", lambda s: "plan" in s, what="status.plan")
    plan = status["plan"]
    assert (status["phase"], status["attempt"], status["revision"]) == ("Succeeded", 1, "web:2")
    assert _conditions(status)["Paused"]["reason"] == "SpecPaused" and _conditions(status)["Ready"]["status"] == "True"
    assert plan["attempt"] == 2 and plan["taskDefinition"] == {"action": "Register"}
    assert plan["runningTaskDefinition"].endswith("task-definition/web:2")
    assert f'-      "image": "{IMAGE_V2}",' in plan["diff"] and f'+      "image": "{IMAGE_V3}",' in plan["diff"]
    assert plan["updateService"]["taskDefinition"] == "(the next revision of web)"
    assert plan["updateService"]["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    assert status["message"].startswith("spec.paused holds attempt 2")
    env.wait_status("web", lambda s: True)  # a few more polls
    events = [e for e in env.cluster.list("v1", "events", env.namespace) if e.get("reason") == "AttemptHeld"]
    assert len(events) == 1 and "status.plan shows what it would deploy" in events[0]["message"]
    assert not WRITES & set(_operations(env, before)), _operations(env, before)

    env.apply(release_manifest("web", env.namespace, image=IMAGE_V3, paused=False))
    status = env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "Succeeded",
                             what="attempt 2 Succeeded")
    assert "plan" not in status and "Paused" not in _conditions(status) and status["revision"] == "web:3"
    assert _operations(env, before).count("RegisterTaskDefinition") == 1
    assert _operations(env, before).count("UpdateService") == 1


@pytest.fixture
def plan_cli(release_env: ReleaseEnv, monkeypatch, tmp_path):
    monkeypatch.setenv("ECSBG_AWS_ENDPOINT_URL", release_env.ecs.url)

    def run(manifest: dict, *args: str) -> tuple[int, str]:
        path = tmp_path / "release.yaml"
        path.write_text(yaml.safe_dump(manifest))
        out = io.StringIO()
        # a file plan needs no cluster: this kubeconfig does not exist
        code = cli.main(["plan", "-f", str(path), "--kubeconfig", str(tmp_path / "none"), *args], out=out, err=out)
        return code, out.getvalue()

    return run


def test_plan_of_a_file_reads_only_and_reuses_what_is_registered(release_env: ReleaseEnv, plan_cli) -> None:
    env = release_env
    before = len(env.ecs.requests)
    code, text = plan_cli(release_manifest("web", env.namespace, image=IMAGE_V3))
    assert code == 0, text
    assert "task definition: register a new revision" in text
    assert f'+      "image": "{IMAGE_V3}",' in text and "--- arn:aws:ecs:" in text
    assert '"taskDefinition": "(the next revision of web)"' in text
    operations = _operations(env, before)
    assert not WRITES & set(operations) and "DescribeServices" in operations, operations

    env.start_operator()
    env.apply(release_manifest("web", env.namespace, image=IMAGE_V3))
    env.wait_phase("web", "Succeeded")
    env.apply(release_manifest("web", env.namespace, image=IMAGE_V2))  # web:2 (v3) was deployed, now web:3 (v2)
    env.wait_status("web", lambda s: s.get("attempt") == 2 and s.get("phase") == "Succeeded")
    code, text = plan_cli(release_manifest("web", env.namespace, image=IMAGE_V3), "-o", "json")
    planned = json.loads(text)
    assert code == 0 and planned["taskDefinition"]["action"] == "Reuse"
    assert planned["taskDefinition"]["arn"].endswith("task-definition/web:2")  # registered for v3 before
    assert planned["updateService"]["taskDefinition"] == planned["taskDefinition"]["arn"]


def test_plan_of_a_bad_file_says_what_is_wrong(release_env: ReleaseEnv, plan_cli) -> None:
    manifest = release_manifest("web", release_env.namespace)
    manifest["spec"]["strategy"] = {"type": "Linear", "linear": {"stepPercent": 3.05}}
    code, text = plan_cli(manifest)
    assert code == 1 and text.startswith("error: invalid spec: spec.strategy.linear.stepPercent")
    code, text = plan_cli(release_manifest("web", release_env.namespace, service="absent"))
    assert code == 1 and "ServiceNotFoundException" in text, text
