"""The stage table and default timings: the one data module the state machine reads.

Sources (titles of AWS documentation pages, as collected in the project's ECS reference notes):
- [workflow]  "Amazon ECS blue/green service deployments workflow" (stage list, order, hook support, 24 h limit).
- [hooks]     "Lifecycle hooks for Amazon ECS service deployments" and "Lambda hooks for Amazon ECS service
              deployments" (which stages accept hooks, which recur per step, callBackDelay default 30 s).
- [pause]     "Pause hooks for Amazon ECS service deployments" (PAUSE not allowed at TEST_TRAFFIC_SHIFT /
              PRODUCTION_TRAFFIC_SHIFT, timeout 1-20,160 min, default 1,440, action default ROLLBACK).
- [linear]    "Amazon ECS linear deployments" (steps of stepPercent, stepBakeTimeInMinutes, no bake after 100 %).
- [canary]    "Creating an Amazon ECS canary deployment" (canaryPercent, canaryBakeTimeInMinutes, then 100 %).
- [model]     botocore 1.44.5 ECS model: enums DeploymentLifecycleHookStage, ServiceDeploymentLifecycleStage,
              ServiceDeploymentStatus, DeploymentLifecycleHookStatus; ranges of the configuration members.
"""

from __future__ import annotations

# Every stage of a traffic-shifting deployment, in AWS's order [workflow].
# PRE_PRODUCTION_TRAFFIC_SHIFT is in the stage doc string and the hook enum but missing from the
# ServiceDeploymentLifecycleStage enum [model]; the emulator reports it (botocore does not validate enums).
STAGES: tuple[str, ...] = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)

# Stages a hook may name (DeploymentLifecycleHookStage [model]); SCALE_UP, BAKE_TIME, CLEAN_UP take none.
HOOK_STAGES: frozenset[str] = frozenset(
    {
        "RECONCILE_SERVICE",
        "PRE_SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
    }
)
# "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages" [model], [pause].
LAMBDA_ONLY_STAGES: frozenset[str] = frozenset({"TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"})
# "When a roll back happens, Amazon ECS runs the lifecycle hooks for the following lifecycle stages:
# PRODUCTION_TRAFFIC_SHIFT, TEST_TRAFFIC_SHIFT" [hooks]; traffic moves back in this order.
ROLLBACK_HOOK_STAGES: tuple[str, ...] = ("PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT")

STRATEGIES: frozenset[str] = frozenset({"ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"})
TRAFFIC_STRATEGIES: frozenset[str] = frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})
HOOK_TARGET_TYPES: frozenset[str] = frozenset({"AWS_LAMBDA", "PAUSE"})
HOOK_ACTIONS: frozenset[str] = frozenset({"ROLLBACK", "CONTINUE"})
STOP_TYPES: frozenset[str] = frozenset({"ABORT", "ROLLBACK"})

# ServiceDeploymentStatus grouped as "View service history using Amazon ECS service deployments" groups them.
FINISHED_STATUSES: frozenset[str] = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
DEPLOYMENT_STATUSES: frozenset[str] = frozenset(
    {"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"}
) | FINISHED_STATUSES

# Ranges [model] (LinearConfiguration, CanaryConfiguration, DeploymentLifecycleHookDuration doc strings).
STEP_PERCENT_RANGE = (3.0, 100.0)
CANARY_PERCENT_RANGE = (0.1, 100.0)
BAKE_MINUTES_RANGE = (0, 1440)
HOOK_TIMEOUT_RANGE = (1, 20160)  # the model's DeploymentLifecycleHookDuration, and PAUSE hooks [pause]
LAMBDA_HOOK_TIMEOUT_RANGE = (1, 1440)  # "1-1,440 minutes" for AWS_LAMBDA hooks [doc: Lambda hooks]
MAX_HOOKS_PER_TYPE = 10  # "10 pause hooks and 10 Lambda hooks" [pause]

# Defaults [model]: stepPercent 10.0, stepBakeTimeInMinutes 6, canaryPercent 5.0, canaryBakeTimeInMinutes 10,
# hook timeout 1,440 min with action ROLLBACK; Lambda IN_PROGRESS re-invocation after 30 s [hooks].
DEFAULT_STEP_PERCENT = 10.0
DEFAULT_STEP_BAKE_MINUTES = 6
DEFAULT_CANARY_PERCENT = 5.0
DEFAULT_CANARY_BAKE_MINUTES = 10
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440
DEFAULT_CALLBACK_DELAY_SECONDS = 30.0
# LINEAR/CANARY do not require bakeTimeInMinutes ([model] requires it only for BLUE_GREEN) and no default is
# documented; the emulator assumes 0 (an assumption listed in docs/emulator.md).
DEFAULT_BAKE_MINUTES = 0

# Emulated duration of each stage, in seconds at speed 1, on top of its hooks. AWS does not document them; the
# figures are estimates for Fargate behind an ALB, chosen so that TEST_TRAFFIC_SHIFT start to
# PRODUCTION_TRAFFIC_SHIFT start is ~42 s, the figure measured by the project's seeds (issue #2).
STAGE_SECONDS: dict[str, float] = {
    "PENDING": 2.0,  # accepted, not yet started
    "RECONCILE_SERVICE": 5.0,
    "PRE_SCALE_UP": 1.0,
    "SCALE_UP": 45.0,  # Fargate task start + first healthy target check
    "POST_SCALE_UP": 1.0,
    "TEST_TRAFFIC_SHIFT": 10.0,  # listener-rule change + propagation
    "POST_TEST_TRAFFIC_SHIFT": 30.0,
    "PRE_PRODUCTION_TRAFFIC_SHIFT": 2.0,
    "PRODUCTION_TRAFFIC_SHIFT": 10.0,
    "POST_PRODUCTION_TRAFFIC_SHIFT": 1.0,
    "CLEAN_UP": 30.0,  # target-group deregistration delay of the source tasks (shortened)
    "ROLLBACK_SHIFT": 10.0,  # each traffic shift back during a rollback
    "ROLLING_REPLACE": 30.0,  # a ROLLING deployment's replacement of old tasks by new ones
}
LAMBDA_INVOKE_SECONDS = 0.5  # round trip of one hook invocation (scripted behaviours)
# "Each lifecycle stage can last up to 24 hours ... The system times out, fails the deployment" [workflow].
STAGE_LIMIT_SECONDS = 24 * 3600.0
