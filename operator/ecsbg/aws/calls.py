"""The one module that calls AWS: every request goes through AwsCalls.call, which times it, records one
`aws_call` metric (docs/design.md "Metrics") and turns any failure into AwsError, classified once.

OPERATIONS is the complete list of what the operator may call; `call` refuses anything else, so the IAM
policy (docs/aws.md) can be derived from it and trusted.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from ecsbg.aws.errors import classify
from ecsbg.domain.observation import AwsProblem
from ecsbg.metrics.recorder import MetricsRecorder

logger = logging.getLogger(__name__)

OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("ecs", "DescribeServices"),  # observer (batched, 10 per call) and apply (fresh read before update)
        ("ecs", "DescribeServiceDeployments"),  # observer (batched, 20 per call)
        ("ecs", "DescribeServiceRevisions"),  # observer (batched, 20 per call, cached: revisions are immutable)
        ("ecs", "DescribeTaskDefinition"),  # taskdef-hash tag (include TAGS) and the base for overrides
        ("ecs", "ListTaskDefinitions"),  # newest revisions of a family, to reuse a tagged one
        ("ecs", "RegisterTaskDefinition"),  # the `containers` form; tags on create also need ecs:TagResource
        ("ecs", "UpdateService"),  # starts the deployment
        ("ecs", "ContinueServiceDeployment"),  # approve / reject a PAUSE hook
        ("ecs", "StopServiceDeployment"),  # abort (stopType ROLLBACK)
        # ECSBG_EVENTS_QUEUE_URL (aws.events): ECS events EventBridge delivers to an SQS queue
        ("sqs", "ReceiveMessage"),
        ("sqs", "DeleteMessageBatch"),
        ("ecs", "TagResource"),  # the ecsbg.dev/owner tag on a service before the first write (domain.ownership)
        ("cloudwatch", "GetMetricData"),  # automated analysis: a template's cloudWatch metric
        ("sts", "AssumeRole"),  # spec.target.roleArn, refreshed by botocore's refreshable credentials
        ("ecr", "DescribeImages"),  # an EcsReleasePolicy's images.resolveDigests: tag -> digest (aws.digests)
        # spec.preflight (aws.preflight): the production/test listener rules, the target groups and their health
        ("elasticloadbalancing", "DescribeRules"),
        ("elasticloadbalancing", "DescribeListeners"),
        ("elasticloadbalancing", "DescribeTargetGroups"),
        ("elasticloadbalancing", "DescribeTargetHealth"),
        # spec.autoScaling (aws.scaling): the service's scalable target, its policies, and SuspendedState
        ("application-autoscaling", "DescribeScalableTargets"),
        ("application-autoscaling", "DescribeScalingPolicies"),
        ("application-autoscaling", "RegisterScalableTarget"),
    }
)

# IAM prefix -> botocore's service name where they differ (the client is created by the botocore name)
BOTOCORE_NAMES: dict[str, str] = {"elasticloadbalancing": "elbv2"}

# Writes that are not idempotent: resent after ECS applied them but the answer was lost (a read timeout, a
# dropped connection), UpdateService would start a second deployment (with forceNewDeployment, or the first one
# is STOPPED by the second) and RegisterTaskDefinition a duplicate revision. botocore's standard retry mode
# resends on exactly those errors, so these go out once, through a client with a single attempt; the reconcile
# loop re-observes ECS and adopts what a lost call started (domain.planning: AdoptDeployment; the taskdef-hash
# tag for revisions). Continue/Stop are safe to resend: ECS refuses the second one.
SINGLE_ATTEMPT: frozenset[str] = frozenset({"UpdateService", "RegisterTaskDefinition"})

# IAM actions needed beyond `<service>:<Operation>` of OPERATIONS: RegisterTaskDefinition with `tags` is
# authorised as ecs:TagResource too ([doc: Grant permission to tag resources on creation]), and UpdateService
# passes the roles named in the spec to ECS (advancedConfiguration.roleArn, hook roleArn). AssumeRole with session
# tags (an EcsReleasePolicy's role: ecsbg.dev/namespace, ecsbg.dev/name) is authorised as sts:TagSession too
# ([doc: Passing session tags in AWS STS, IAM User Guide]).
EXTRA_IAM_ACTIONS: frozenset[str] = frozenset({"ecs:TagResource", "iam:PassRole", "sts:TagSession"})


# Operations authorised as another IAM action: SQS batch actions are authorised as the single one
# ([doc: Amazon SQS API permissions: Actions and resource reference]).
IAM_ACTION_OF: dict[tuple[str, str], str] = {("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage"}


def iam_actions() -> frozenset[str]:
    """Every IAM action the operator needs, e.g. for a least-privilege policy."""
    return frozenset(IAM_ACTION_OF.get((service, operation), f"{service}:{operation}")
                     for service, operation in OPERATIONS) | EXTRA_IAM_ACTIONS


class AwsError(Exception):
    """The single exception type of the AWS layer: a classified AwsProblem."""

    def __init__(self, problem: AwsProblem) -> None:
        super().__init__(f"{problem.operation}: {problem.code}: {problem.message}")
        self.problem = problem


class AwsCalls:
    """Wraps one boto3 client (thread-safe); `call` is synchronous and runs in a worker thread."""

    def __init__(self, client: Any, metrics: MetricsRecorder, service: str | None = None,
                 single_attempt_client: Any | None = None) -> None:
        """`single_attempt_client`: the same endpoint and credentials with botocore retries off, for the
        SINGLE_ATTEMPT operations (defaults to `client`, e.g. with botocore's Stubber in tests)."""
        self._client = client
        self._once = single_attempt_client if single_attempt_client is not None else client
        self._metrics = metrics
        self.service = service or client.meta.service_model.service_name
        self.region = client.meta.region_name

    @property
    def client(self) -> Any:
        """The wrapped boto3 client, for botocore's Stubber in tests; the operator calls only `call`."""
        return self._client

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        if (self.service, operation) not in OPERATIONS:
            raise ValueError(f"{self.service}:{operation} is not in ecsbg.aws.calls.OPERATIONS")
        client = self._once if operation in SINGLE_ATTEMPT else self._client
        method = getattr(client, xform_name(operation))
        started = time.perf_counter()
        try:
            response = method(**params)
        except (ClientError, BotoCoreError) as exc:
            problem = classify(exc, operation)
            self._record(operation, started, problem.code)
            raise AwsError(problem) from exc
        except AwsError as exc:  # a nested call failed first: AssumeRole while botocore refreshed credentials
            self._record(operation, started, exc.problem.code)
            raise
        self._record(operation, started, None)
        return response

    def _record(self, operation: str, started: float, error_code: str | None) -> None:
        seconds = time.perf_counter() - started
        if error_code is None:
            logger.debug("%s:%s took %.3f s", self.service, operation, seconds)
        else:
            logger.info("%s:%s failed after %.3f s: %s", self.service, operation, seconds, error_code)
        self._metrics.aws_call(service=self.service, operation=operation, seconds=seconds, error_code=error_code)
