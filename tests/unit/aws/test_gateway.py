"""The production gateway wiring (settings, executor, shared caches) and the fake used by reconciler tests."""

from __future__ import annotations

from ecsbg.aws.gateway import ENDPOINT_ENV, AwsEcsGateway, AwsSettings, EcsGateway
from ecsbg.domain.actions import ApplyResult, StartDeployment, StopDeployment, Wait
from ecsbg.domain.model import AwsProblem, Observation
from tests.fakes.ecs import FakeEcsGateway
from tests.unit.aws.fake_calls import FakeCalls
from tests.unit.aws.samples import DEPLOYMENT_ARN, TD_41, deployment, service, spec


def test_settings_from_env():
    settings = AwsSettings.from_env({ENDPOINT_ENV: "http://127.0.0.1:4566"}.get, coalesce_seconds=0.2)
    assert settings.clients.endpoint_url == "http://127.0.0.1:4566" and settings.coalesce_seconds == 0.2
    assert AwsSettings.from_env({}.get).clients.endpoint_url is None


async def test_gateway_observes_through_its_executor(metrics):
    fake = FakeCalls()
    fake.services["web"] = service()
    fake.deployments[DEPLOYMENT_ARN] = deployment(sourceServiceRevisions=[], targetServiceRevision=None)

    class Factory:
        def ecs(self, key):
            return fake

    gateway = AwsEcsGateway(metrics, AwsSettings(coalesce_seconds=0.0, workers=2), factory=Factory())
    try:
        observed = await gateway.observe(spec(), None)
        result = await gateway.apply(Wait(), observed)
    finally:
        gateway.close()
    assert observed.service.task_definition_arn == TD_41 and observed.current.status == "IN_PROGRESS"
    assert result == ApplyResult()


async def test_fake_gateway_scripts_and_records():
    ecs: EcsGateway = FakeEcsGateway(Observation())
    first = Observation(problem=AwsProblem("ThrottlingException", "slow", False))
    ecs.script(first)
    assert await ecs.observe(spec(), None) is first
    assert await ecs.observe(spec(), None) is first  # the last scripted one stays
    started = await ecs.apply(StartDeployment(1, spec(), TD_41, None), first)
    assert started.deployment_arn.endswith("/prod/web/fake1") and started.task_definition_arn == spec().task_definition.arn
    ecs.queue_result(ApplyResult(problem=AwsProblem("AccessDeniedException", "no", True)))
    stopped = await ecs.apply(StopDeployment(DEPLOYMENT_ARN), first)
    assert stopped.problem.code == "AccessDeniedException"
    await ecs.apply(Wait(), first)
    assert [type(a).__name__ for a in ecs.writes()] == ["StartDeployment", "StopDeployment"]
    assert len(ecs.observed) == 2 and ecs.observed[0] == (spec(), None)
