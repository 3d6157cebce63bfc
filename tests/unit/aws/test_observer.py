"""The batched read path: shared calls per cluster, caches, and problems as observations."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from botocore.stub import Stubber

from ecsbg.aws.calls import AwsCalls
from ecsbg.aws.observer import Observer
from ecsbg.domain.model import (
    ContainerOverride,
    DeploymentRecord,
    ReleaseStatus,
    RevisionRecord,
    Target,
    TaskDefinitionSource,
)
from ecsbg.domain.observation import AwsProblem
from ecsbg.domain.taskdefs import content_hash
from tests.unit.aws import samples
from tests.unit.aws.fake_calls import FakeCalls
from tests.unit.aws.samples import REV_BLUE, REV_GREEN, TD_41, TD_42, deployment, revision, service, spec

ARN = "arn:aws:ecs:eu-west-1:111122223333"


def world(n: int) -> FakeCalls:
    """n services web-0..web-(n-1) in cluster prod, each with its own deployment and two revisions."""
    fake = FakeCalls()
    for i in range(n):
        dep = f"{ARN}:service-deployment/prod/web-{i}/d{i}"
        blue, green = f"{ARN}:service-revision/prod/web-{i}/1{i}", f"{ARN}:service-revision/prod/web-{i}/2{i}"
        fake.services[f"web-{i}"] = service(serviceName=f"web-{i}", serviceArn=f"{ARN}:service/prod/web-{i}",
                                            currentServiceDeployment=dep)
        fake.deployments[dep] = deployment(serviceDeploymentArn=dep,
                                           sourceServiceRevisions=[{"arn": blue}], targetServiceRevision={"arn": green})
        fake.revisions[blue] = revision(blue, TD_41)
        fake.revisions[green] = revision(green, TD_42)
    for arn, image in ((TD_41, "web:1"), (TD_42, "web:2")):
        fake.task_definitions[arn] = {"taskDefinition": {"taskDefinitionArn": arn, "family": "web", "containerDefinitions":
                                                         [{"name": "app", "image": image}]}, "tags": []}
    return fake


def content_of(fake: FakeCalls, arn: str) -> str:
    return content_hash(fake.task_definitions[arn]["taskDefinition"])


def release(i: int, **changes):
    return spec(target=Target(region="eu-west-1", cluster="prod", service=f"web-{i}"), **changes)


async def test_25_releases_on_one_cluster_share_3_describe_services_calls():
    fake = world(25)
    observer = Observer(lambda key: fake, window=0.05)
    observations = await asyncio.gather(*(observer.observe(release(i), None) for i in range(25)))
    assert fake.count("DescribeServices") == 3  # 10 + 10 + 5
    assert sorted(len(p["services"]) for op, p in fake.log if op == "DescribeServices") == [5, 10, 10]
    assert fake.count("DescribeServiceDeployments") == 2  # 20 + 5
    assert fake.count("DescribeServiceRevisions") == 3  # 50 revisions: 20 + 20 + 10
    assert [o.service.arn for o in observations] == [f"{ARN}:service/prod/web-{i}" for i in range(25)]
    assert all(o.problem is None for o in observations)
    assert observations[7].current.arn == f"{ARN}:service-deployment/prod/web-7/d7"
    assert observations[7].current.target_revision.task_definition_arn == TD_42
    assert observations[7].current.source_revisions[0].task_definition_arn == TD_41


async def test_revisions_are_cached_deployments_are_not():
    fake = world(3)
    observer = Observer(lambda key: fake, window=0.01)
    await asyncio.gather(*(observer.observe(release(i), None) for i in range(3)))
    fake.deployments[f"{ARN}:service-deployment/prod/web-0/d0"]["lifecycleStage"] = "BAKE_TIME"
    again = await observer.observe(release(0), None)
    assert again.current.lifecycle_stage == "BAKE_TIME"
    assert fake.count("DescribeServiceRevisions") == 1
    assert fake.count("DescribeServiceDeployments") == 2 and fake.count("DescribeServices") == 2


async def test_a_finished_deployment_is_read_once_an_idle_pass_reads_only_the_service():
    fake = world(2)
    fake.deployments[f"{ARN}:service-deployment/prod/web-0/d0"]["status"] = "SUCCESSFUL"
    observer = Observer(lambda key: fake, window=0.01)
    for _ in range(3):
        observed = await asyncio.gather(*(observer.observe(release(i), None) for i in range(2)))
    assert observed[0].current.status == "SUCCESSFUL"
    assert fake.count("DescribeServices") == 3
    deployment_reads = [p["serviceDeploymentArns"] for op, p in fake.log if op == "DescribeServiceDeployments"]
    assert sum(f"{ARN}:service-deployment/prod/web-0/d0" in arns for arns in deployment_reads) == 1
    assert sum(f"{ARN}:service-deployment/prod/web-1/d1" in arns for arns in deployment_reads) == 3  # in progress


async def test_other_clusters_and_roles_are_separate_batches():
    fake = world(2)
    observer = Observer(lambda key: fake, window=0.02)
    other_role = Target(region="eu-west-1", cluster="prod", service="web-1", role_arn="arn:aws:iam::1:role/x")
    await asyncio.gather(observer.observe(release(0), None), observer.observe(spec(target=other_role), None))
    assert fake.count("DescribeServices") == 2


async def test_missing_service_is_a_terminal_problem_without_a_service():
    fake = world(1)
    observer = Observer(lambda key: fake, window=0)
    observed = await observer.observe(release(9), None)
    assert observed.service is None
    assert observed.problem.terminal and observed.problem.code == "ServiceNotFoundException"
    assert "web-9" in observed.problem.message


async def test_aws_errors_become_problems_for_every_release_in_the_batch():
    fake = world(3)
    fake.fail["DescribeServices"] = AwsProblem("AccessDeniedException", "no ecs:DescribeServices", True,
                                               "DescribeServices")
    observer = Observer(lambda key: fake, window=0.02)
    observed = await asyncio.gather(*(observer.observe(release(i), None) for i in range(3)))
    assert fake.count("DescribeServices") == 1
    assert [o.problem.code for o in observed] == ["AccessDeniedException"] * 3


async def test_a_failing_deployment_read_keeps_the_service():
    fake = world(1)
    fake.fail["DescribeServiceDeployments"] = AwsProblem("ThrottlingException", "slow down", False,
                                                         "DescribeServiceDeployments")
    observed = await Observer(lambda key: fake, window=0).observe(release(0), None)
    assert observed.service is not None and observed.current is None
    assert not observed.problem.terminal


async def test_tracked_deployment_is_read_in_the_same_call_as_the_current_one():
    fake = world(1)
    old = f"{ARN}:service-deployment/prod/web-0/old"
    fake.deployments[old] = deployment(serviceDeploymentArn=old, status="ROLLBACK_SUCCESSFUL",
                                       sourceServiceRevisions=[], targetServiceRevision=None)
    prior = ReleaseStatus(attempt=2, deployment=DeploymentRecord(attempt=1, arn=old, status="IN_PROGRESS"))
    observed = await Observer(lambda key: fake, window=0.01).observe(release(0), prior)
    assert observed.tracked.arn == old and observed.tracked.status == "ROLLBACK_SUCCESSFUL"
    assert observed.current.arn.endswith("/d0")
    assert fake.count("DescribeServiceDeployments") == 1


async def test_taskdef_hash_only_for_the_containers_form_about_to_start_and_read_once():
    fake = world(2)
    observer = Observer(lambda key: fake, window=0.01)
    starting = ReleaseStatus(attempt=1)  # the attempt is recorded, its deployment not yet: planning's _start
    by_arn = await observer.observe(release(0), None)
    assert by_arn.current_target_taskdef_hash is None and fake.count("DescribeTaskDefinition") == 0
    derived = TaskDefinitionSource(containers=(ContainerOverride(name="app", image="web:2"),))
    settled = await observer.observe(release(0, task_definition=derived), None)
    assert settled.current_target_taskdef_hash is None and fake.count("DescribeTaskDefinition") == 0
    results = await asyncio.gather(*(observer.observe(release(i, task_definition=derived), starting)
                                     for i in (0, 1)))
    await observer.observe(release(0, task_definition=derived), starting)
    assert [r.current_target_taskdef_hash for r in results] == [content_of(fake, TD_42)] * 2
    # each task definition once for all three passes: the target's (for the hash) and the base (the service's)
    described = sorted(p["taskDefinition"] for op, p in fake.log if op == "DescribeTaskDefinition")
    assert described == sorted([TD_41, TD_42])
    assert all(p["include"] == ["TAGS"] for op, p in fake.log if op == "DescribeTaskDefinition")


async def test_an_idle_release_in_step_with_ecs_reads_no_task_definition():
    """API economy: the service, its deployment and the status all name one task definition: nothing to compare."""
    fake = world(1)
    fake.deployments[f"{ARN}:service-deployment/prod/web-0/d0"].update(status="SUCCESSFUL")
    fake.services["web-0"]["taskDefinition"] = TD_42
    done = ReleaseStatus(attempt=1, deployment=DeploymentRecord(attempt=1, arn=f"{ARN}:service-deployment/prod/web-0/d0",
                                                                status="SUCCESSFUL"),
                         target=RevisionRecord(f"{ARN}:service-revision/prod/web-0/20", TD_42))
    observer = Observer(lambda key: fake, window=0)
    for _ in range(3):
        observed = await observer.observe(release(0), done)
    assert observed.taskdef_hashes == {} and fake.count("DescribeTaskDefinition") == 0


async def test_drift_reads_each_task_definition_once_and_then_from_the_cache():
    fake = world(1)
    fake.deployments[f"{ARN}:service-deployment/prod/web-0/d0"].update(status="SUCCESSFUL")
    done = ReleaseStatus(attempt=1, deployment=DeploymentRecord(attempt=1, arn=f"{ARN}:service-deployment/prod/web-0/d0",
                                                                status="SUCCESSFUL"),
                         target=RevisionRecord(f"{ARN}:service-revision/prod/web-0/20", TD_42))
    observer = Observer(lambda key: fake, window=0)
    for _ in range(3):  # the service runs TD_41 (changed out of band), the release deployed TD_42
        observed = await observer.observe(release(0), done)
    assert observed.taskdef_hashes == {TD_41: content_of(fake, TD_41), TD_42: content_of(fake, TD_42)}
    assert fake.count("DescribeTaskDefinition") == 2


async def test_a_cached_and_a_new_task_definition_each_keep_their_own_hash():
    """The cached hashes are taken as they are and only the others are described, each under its own ARN."""
    fake = world(1)
    fake.deployments[f"{ARN}:service-deployment/prod/web-0/d0"].update(status="SUCCESSFUL")
    td_43 = TD_42.replace(":42", ":43")
    fake.task_definitions[td_43] = {"taskDefinition": {"taskDefinitionArn": td_43, "family": "web",
                                                       "containerDefinitions": [{"name": "app", "image": "web:3"}]},
                                    "tags": []}

    def done(target_td: str) -> ReleaseStatus:
        return ReleaseStatus(attempt=1, deployment=DeploymentRecord(
            attempt=1, arn=f"{ARN}:service-deployment/prod/web-0/d0", status="SUCCESSFUL"),
            target=RevisionRecord(f"{ARN}:service-revision/prod/web-0/20", target_td))

    observer = Observer(lambda key: fake, window=0)
    await observer.observe(release(0), done(TD_42))  # TD_41 (the service's) and TD_42 described
    observed = await observer.observe(release(0), done(td_43))
    # the service's (TD_41) and the deployment's (TD_42) cached, the release's target (td_43) described
    assert observed.taskdef_hashes == {arn: content_of(fake, arn) for arn in (TD_41, td_43, TD_42)}
    assert len(set(observed.taskdef_hashes.values())) == 3
    assert [p for op, p in fake.log if op == "DescribeTaskDefinition"][-1]["taskDefinition"] == td_43
    assert fake.count("DescribeTaskDefinition") == 3


async def test_an_attempt_about_to_start_gets_its_base_and_the_running_content():
    fake = world(1)
    derived = TaskDefinitionSource(containers=(ContainerOverride(name="app", image="web:2"),))
    starting = ReleaseStatus(attempt=1, base_task_definition_arn=TD_41)
    observed = await Observer(lambda key: fake, window=0).observe(release(0, task_definition=derived), starting)
    assert observed.base_task_definition == fake.task_definitions[TD_41]["taskDefinition"]  # as described
    assert observed.taskdef_hashes[TD_41] == content_of(fake, TD_41)


async def test_draining_service_is_reported_as_not_active():
    fake = world(1)
    fake.services["web-0"]["status"] = "DRAINING"
    observed = await Observer(lambda key: fake, window=0).observe(release(0), None)
    assert observed.service.status == "DRAINING"
    assert observed.problem.code == "ServiceNotActiveException" and observed.problem.terminal


async def test_real_client_params_with_stubber(metrics):
    """One settled release of the containers form, in order, against the real model: the exact requests the
    observer sends (no DescribeTaskDefinition: only an attempt about to start compares task definitions)."""
    client = samples.stubbable()
    derived = replace(spec(), task_definition=TaskDefinitionSource(containers=(ContainerOverride(name="app"),)))
    with Stubber(client) as stub:
        stub.add_response("describe_services", {"services": [service()], "failures": []},
                          {"cluster": "prod", "services": ["web"], "include": ["TAGS"]})
        stub.add_response("describe_service_deployments", {"serviceDeployments": [deployment()], "failures": []},
                          {"serviceDeploymentArns": [samples.DEPLOYMENT_ARN]})
        stub.add_response("describe_service_revisions",
                          {"serviceRevisions": [revision(REV_BLUE, TD_41), revision(REV_GREEN, TD_42)],
                           "failures": []},
                          {"serviceRevisionArns": [REV_BLUE, REV_GREEN]})
        observed = await Observer(lambda key: AwsCalls(client, metrics), window=0).observe(derived, None)
        stub.assert_no_pending_responses()
    assert observed.problem is None and observed.current_target_taskdef_hash is None
    assert observed.current.hooks[0].status == "AWAITING_ACTION"
    assert [op for _, op, _ in metrics.calls] == ["DescribeServices", "DescribeServiceDeployments",
                                                  "DescribeServiceRevisions"]


async def test_one_malformed_service_does_not_fail_its_batch_neighbours():
    fake = world(4)
    fake.poison.add("web-2")  # e.g. a service ARN of another cluster: ECS refuses the whole request
    fake.services["web-2"] = fake.services["web-1"]
    observer = Observer(lambda key: fake, window=0.02)
    observed = await asyncio.gather(*(observer.observe(release(i), None) for i in range(4)))
    assert [o.problem.code if o.problem else None for o in observed] == [None, None,
                                                                        "InvalidParameterException", None]
    assert fake.count("DescribeServices") == 1 + 4  # the batch, then each item alone


async def test_batch_wide_errors_are_not_split():
    fake = world(4)
    fake.fail["DescribeServices"] = AwsProblem("ClusterNotFoundException", "no cluster", True, "DescribeServices")
    observer = Observer(lambda key: fake, window=0.02)
    await asyncio.gather(*(observer.observe(release(i), None) for i in range(4)))
    assert fake.count("DescribeServices") == 1


async def test_a_task_definition_that_cannot_be_described_is_compared_by_arn_when_idle():
    fake = world(1)
    del fake.task_definitions[TD_41]
    fake.fail["DescribeTaskDefinition"] = AwsProblem("ClientException", "Unable to describe task definition.", True,
                                                     "DescribeTaskDefinition")
    done = ReleaseStatus(attempt=1, deployment=DeploymentRecord(attempt=1, arn=f"{ARN}:service-deployment/prod/web-0/d0",
                                                                status="SUCCESSFUL"),
                         target=RevisionRecord(None, TD_42))
    observed = await Observer(lambda key: fake, window=0).observe(release(0), done)
    assert observed.problem is None and observed.taskdef_hashes == {}
    starting = ReleaseStatus(attempt=1, base_task_definition_arn=TD_41)
    observed = await Observer(lambda key: fake, window=0).observe(release(0), starting)
    assert observed.problem.code == "ClientException", "a start needs the content: the error is reported"


async def test_the_start_after_an_intent_reuses_that_passs_read_of_the_service():
    """A spec change is read from ECS once: the pass that recorded the intent read the service and its deployment;
    the start a moment later reads only the task definitions it compares."""
    fake = world(1)
    observer = Observer(lambda key: fake, window=0.01)
    derived = release(0, task_definition=TaskDefinitionSource(containers=(ContainerOverride(name="app",
                                                                                           image="web:3"),)))
    intent_pass = await observer.observe(derived, ReleaseStatus())
    before = {op: fake.count(op) for op in ("DescribeServices", "DescribeServiceDeployments",
                                            "DescribeServiceRevisions")}
    starting = ReleaseStatus(attempt=1)
    reused = await observer.observe(derived, starting, reuse=intent_pass)
    assert {op: fake.count(op) for op in before} == before  # no second read of the service or deployments
    assert reused.service == intent_pass.service and reused.current == intent_pass.current
    assert reused.current_target_taskdef_hash == content_of(fake, TD_42)  # what the start compares, read now
    assert reused.base_task_definition is not None
    settled = await observer.observe(derived, None, reuse=intent_pass)  # not starting: a read of its own
    assert fake.count("DescribeServices") == before["DescribeServices"] + 1 and settled.service is not None
