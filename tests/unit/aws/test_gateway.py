"""The production gateway wiring (settings, executor, shared caches) and the fake used by reconciler tests."""

from __future__ import annotations

from ecsbg.aws.gateway import ENDPOINT_ENV, AwsSettings, Boto3EcsGateway, EcsGateway
from ecsbg.domain.actions import ApplyResult, StartDeployment, StopDeployment, Wait
from ecsbg.domain.model import Target
from ecsbg.domain.observation import AwsProblem, Observation
from tests.fakes.ecs import FakeEcsGateway
from tests.unit.aws.fake_calls import FakeCalls
from tests.unit.aws.samples import DEPLOYMENT_ARN, TD_41, deployment, service, spec

ROLE_TARGET = Target(region="eu-west-1", cluster="prod", service="web", role_arn="arn:aws:iam::4:role/deployer")


def test_settings_from_env():
    settings = AwsSettings.from_env({ENDPOINT_ENV: "http://127.0.0.1:4566"}.get, coalesce_seconds=0.2)
    assert settings.clients.endpoint_url == "http://127.0.0.1:4566" and settings.coalesce_seconds == 0.2
    assert AwsSettings.from_env({}.get).clients.endpoint_url is None


class Factory:
    """Hands out one FakeCalls and remembers which client keys (region, role) were asked for."""

    def __init__(self) -> None:
        self.fake = FakeCalls()
        self.fake.services["web"] = service()
        self.fake.deployments[DEPLOYMENT_ARN] = deployment(sourceServiceRevisions=[], targetServiceRevision=None)
        self.keys = []

    def ecs(self, key):
        self.keys.append(key)
        return self.fake


async def test_gateway_observes_through_its_executor(metrics):
    gateway = Boto3EcsGateway(metrics=metrics, settings=AwsSettings(coalesce_seconds=0.0, workers=2), factory=Factory())
    try:
        observed = await gateway.observe(spec(), None)
        result = await gateway.apply(Wait(), observed)
    finally:
        gateway.close()
    assert observed.service.task_definition_arn == TD_41 and observed.current.status == "IN_PROGRESS"
    assert result == ApplyResult()


async def test_stop_without_target_uses_the_role_of_the_release_that_observed_it(metrics):
    factory = Factory()
    gateway = Boto3EcsGateway(metrics=metrics, settings=AwsSettings(coalesce_seconds=0.0), factory=factory)
    try:
        observed = await gateway.observe(spec(target=ROLE_TARGET), None)
        factory.keys.clear()
        result = await gateway.apply(StopDeployment(DEPLOYMENT_ARN), observed)  # as the reconciler calls it
    finally:
        gateway.close()
    assert result.problem is None and factory.fake.count("StopServiceDeployment") == 1
    assert [(k.region, k.role_arn) for k in factory.keys] == [("eu-west-1", ROLE_TARGET.role_arn)]


def test_endpoint_and_window_shortcuts(metrics):
    gateway = Boto3EcsGateway(metrics=metrics, endpoint_url="http://127.0.0.1:9", coalesce_seconds=0.2,
                              clock=object())
    gateway.close()
    assert gateway.settings.clients.endpoint_url == "http://127.0.0.1:9"
    assert gateway.settings.coalesce_seconds == 0.2


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
