"""domain.hookstages: a hook is filed under the stage (and step) the spec and the stage order give it, never under
the stage current when the operator first saw it."""

from __future__ import annotations

from ecsbg.domain import hookstages, stagepath
from ecsbg.domain.model import HookDetail
from ecsbg.domain.observation import ObservedDeployment, RevisionSummary
from tests.unit.domain import builders as b

OTHER_FUNCTION = b.FUNCTION.replace("smoke-test", "load-test")


def spec(*hooks, strategy=None):
    return b.release(b.containers_spec(lifecycleHooks=list(hooks),
                                       strategy=strategy or {"type": "BlueGreen", "bakeTimeInMinutes": 10}))


def lam(*stages, function=b.FUNCTION):
    return {"type": "Lambda", "functionArn": function, "stages": list(stages)}


def pause(*stages):
    return {"type": "Pause", "stages": list(stages)}


def run(hook_id, kind="AWS_LAMBDA", status="SUCCEEDED", function=b.FUNCTION):
    return HookDetail(hook_id=hook_id, target_type=kind, status=status,
                      target_arn=function if kind == "AWS_LAMBDA" else None)


def obs(stage, *hooks, status="IN_PROGRESS", production=0.0):
    return ObservedDeployment(
        arn=b.dep_arn(1), status=status, lifecycle_stage=stage, started_at=b.at(0),
        source_revisions=(RevisionSummary(arn=b.rev_arn(1), task_definition_arn=b.BASE_TD_ARN),),
        target_revision=RevisionSummary(arn=b.rev_arn(2), task_definition_arn=b.TD_ARN, production_weight=production),
        hooks=tuple(hooks))


def fold(release, *observations, statuses=False):
    """What progress._mirror does per poll: advance the stage history, then attribute the hooks."""
    path = stagepath.stage_path(release.strategy)
    stages, hooks = (), ()
    for minute, d in enumerate(observations, 1):
        new_stages = stagepath.advance(stages, d, path, b.at(minute))
        hooks = hookstages.attribute(hooks, d, release.hooks, path, before=stagepath.position(path, stages),
                                     after=stagepath.position(path, new_stages), reconcile=stagepath.reconciles(d),
                                     now=b.at(minute))
        stages = new_stages
    return {h.hook_id: (h.stage, h.step.number if h.step else None) for h in hooks} if not statuses else \
        {h.hook_id: h.status for h in hooks}


def test_a_post_test_hook_first_seen_later_is_filed_under_post_test():
    release = spec(lam("POST_TEST_TRAFFIC_SHIFT"))
    seen = fold(release, obs("SCALE_UP"), obs("PRODUCTION_TRAFFIC_SHIFT", run("h1"), production=100.0))
    assert seen == {"h1": ("POST_TEST_TRAFFIC_SHIFT", None)}


def test_a_post_test_hook_listed_while_ecs_still_reports_test_traffic_shift_is_filed_under_post_test():
    release = spec(pause("POST_TEST_TRAFFIC_SHIFT"))
    seen = fold(release, obs("TEST_TRAFFIC_SHIFT", run("p1", "PAUSE", "AWAITING_ACTION")))
    assert seen == {"p1": ("POST_TEST_TRAFFIC_SHIFT", None)}


def test_several_hooks_each_under_its_own_stage():
    release = spec(lam("POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT"), lam("TEST_TRAFFIC_SHIFT", function=OTHER_FUNCTION),
                   pause("POST_TEST_TRAFFIC_SHIFT"))
    seen = fold(release,
                obs("POST_SCALE_UP", run("a1", status="IN_PROGRESS")),
                # the poll missed TEST_TRAFFIC_SHIFT: b1 (other function) is listed done, then POST_TEST's runs
                obs("POST_TEST_TRAFFIC_SHIFT", run("b1", function=OTHER_FUNCTION), run("a2", status="IN_PROGRESS"),
                    run("p1", "PAUSE", "AWAITING_ACTION")),
                obs("BAKE_TIME", run("a2"), run("p1", "PAUSE")))
    assert seen == {"a1": ("POST_SCALE_UP", None), "b1": ("TEST_TRAFFIC_SHIFT", None),
                    "a2": ("POST_TEST_TRAFFIC_SHIFT", None), "p1": ("POST_TEST_TRAFFIC_SHIFT", None)}


def test_linear_steps_number_the_recurring_hooks_even_when_polls_miss_steps():
    release = spec(pause("PRE_PRODUCTION_TRAFFIC_SHIFT"), lam("PRODUCTION_TRAFFIC_SHIFT"),
                   strategy={"type": "Linear", "linear": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}})
    seen = fold(release,
                obs("PRE_PRODUCTION_TRAFFIC_SHIFT", run("p1", "PAUSE", "AWAITING_ACTION")),
                obs("PRODUCTION_TRAFFIC_SHIFT", run("l1", status="IN_PROGRESS"), production=25.0),
                # steps 2 and 3 passed between polls; ECS lists the latest step's runs
                obs("PRE_PRODUCTION_TRAFFIC_SHIFT", run("p3", "PAUSE", "AWAITING_ACTION"), production=50.0),
                obs("PRODUCTION_TRAFFIC_SHIFT", run("p3", "PAUSE"), run("l3", status="IN_PROGRESS"), production=75.0),
                obs("POST_PRODUCTION_TRAFFIC_SHIFT", run("l4"), production=100.0))
    assert seen == {"p1": ("PRE_PRODUCTION_TRAFFIC_SHIFT", 1), "l1": ("PRODUCTION_TRAFFIC_SHIFT", 1),
                    "p3": ("PRE_PRODUCTION_TRAFFIC_SHIFT", 3), "l3": ("PRODUCTION_TRAFFIC_SHIFT", 3),
                    "l4": ("PRODUCTION_TRAFFIC_SHIFT", 4)}


def test_hooks_all_listed_at_once_take_the_slots_in_order():
    release = spec(lam("PRE_PRODUCTION_TRAFFIC_SHIFT"),
                   strategy={"type": "Canary", "canary": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}})
    seen = fold(release, obs("SCALE_UP"), obs("BAKE_TIME", run("x1"), run("x2"), production=100.0))
    assert seen == {"x1": ("PRE_PRODUCTION_TRAFFIC_SHIFT", 1), "x2": ("PRE_PRODUCTION_TRAFFIC_SHIFT", 2)}


def test_rollback_re_invocations_are_filed_under_the_stage_ecs_rolls_back_through():
    release = spec(lam("TEST_TRAFFIC_SHIFT"), pause("POST_TEST_TRAFFIC_SHIFT"))
    seen = fold(release,
                obs("TEST_TRAFFIC_SHIFT", run("t1", status="IN_PROGRESS")),
                obs("POST_TEST_TRAFFIC_SHIFT", run("p1", "PAUSE", "AWAITING_ACTION")),
                obs("TEST_TRAFFIC_SHIFT", run("t2", status="IN_PROGRESS"), status="ROLLBACK_IN_PROGRESS"))
    assert seen == {"t1": ("TEST_TRAFFIC_SHIFT", None), "p1": ("POST_TEST_TRAFFIC_SHIFT", None),
                    "t2": ("TEST_TRAFFIC_SHIFT", None)}


def test_a_failed_hook_first_seen_during_the_rollback_keeps_its_forward_stage():
    release = spec(lam("POST_TEST_TRAFFIC_SHIFT"))
    seen = fold(release, obs("TEST_TRAFFIC_SHIFT"),
                obs("TEST_TRAFFIC_SHIFT", run("h1", status="FAILED"), status="ROLLBACK_IN_PROGRESS"))
    assert seen == {"h1": ("POST_TEST_TRAFFIC_SHIFT", None)}


def test_a_hook_the_spec_does_not_declare_is_not_guessed():
    release = spec(lam("POST_TEST_TRAFFIC_SHIFT"))
    seen = fold(release, obs("POST_SCALE_UP", run("x", "PAUSE", "AWAITING_ACTION"),
                             run("y", function=OTHER_FUNCTION)))
    assert seen == {"x": (None, None), "y": (None, None)}


def test_attribution_is_kept_once_made():
    release = spec(lam("POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT"))
    seen = fold(release, obs("POST_SCALE_UP", run("a1", status="IN_PROGRESS")), obs("POST_SCALE_UP", run("a1")),
                obs("BAKE_TIME", run("a1"), production=100.0))
    assert seen == {"a1": ("POST_SCALE_UP", None)}


def test_a_hook_ecs_stops_listing_once_the_deployment_moved_on_has_succeeded():
    release = spec(pause("POST_TEST_TRAFFIC_SHIFT"), lam("POST_SCALE_UP"))
    statuses = fold(release, obs("POST_SCALE_UP", run("l1", status="IN_PROGRESS")),
                    obs("POST_TEST_TRAFFIC_SHIFT", run("p1", "PAUSE", "AWAITING_ACTION")),
                    obs("BAKE_TIME", production=100.0), statuses=True)
    assert statuses == {"l1": "SUCCEEDED", "p1": "SUCCEEDED"}


def test_a_hook_not_listed_keeps_its_status_while_its_stage_lasts_or_when_it_may_have_timed_out():
    release = b.release(b.containers_spec(lifecycleHooks=[
        {"type": "Lambda", "functionArn": b.FUNCTION, "stages": ["POST_SCALE_UP"],
         "timeout": {"minutes": 1, "action": "Continue"}}]))
    running = HookDetail("l1", "AWS_LAMBDA", "IN_PROGRESS", target_arn=b.FUNCTION, timeout_action="CONTINUE")
    assert fold(release, obs("POST_SCALE_UP", running), obs("POST_SCALE_UP"), statuses=True) == {"l1": "IN_PROGRESS"}
    assert fold(release, obs("POST_SCALE_UP", running), obs("BAKE_TIME"), statuses=True) == {"l1": "IN_PROGRESS"}


def test_a_finished_run_listed_at_a_stage_of_its_hook_is_that_stage_s():
    """ECS lists active hooks, and finished ones beside them until their stage ends: a run seen at one of its
    hook's stages is that stage's, even when an earlier stage's run was missed."""
    release = spec(lam("POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT"))
    assert fold(release, obs("SCALE_UP"), obs("POST_TEST_TRAFFIC_SHIFT", run("a1"))) == {
        "a1": ("POST_TEST_TRAFFIC_SHIFT", None)}


def test_runs_of_one_hook_are_put_back_in_the_order_they_were_seen():
    release = spec(lam("POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT"), pause("POST_TEST_TRAFFIC_SHIFT"))
    seen = fold(release, obs("SCALE_UP"),
                obs("POST_TEST_TRAFFIC_SHIFT", run("a1"), run("p1", "PAUSE", "AWAITING_ACTION")),
                obs("POST_TEST_TRAFFIC_SHIFT", run("a2"), run("p1", "PAUSE", "AWAITING_ACTION")))
    # a1 took POST_TEST's slot at first sight; a2, seen later, can only be the later run: a1 was POST_SCALE_UP's
    assert seen == {"a1": ("POST_SCALE_UP", None), "a2": ("POST_TEST_TRAFFIC_SHIFT", None),
                    "p1": ("POST_TEST_TRAFFIC_SHIFT", None)}
