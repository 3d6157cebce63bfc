"""Classify an AWS failure once: terminal (the release stalls, no retry loop) or retryable (backoff, keep phase).

docs/design.md "Phases": terminal errors end in phase Failed / Stalled; retryable ones keep the phase and set
Reconciling=ProgressingWithRetry. Codes come from the botocore 1.44.5 ECS and STS models (`errors` of each
operation) and from botocore's standard retry mode (botocore/retries/standard.py), which has already retried
throttling and transient errors by the time an exception reaches us.
"""

from __future__ import annotations

from collections.abc import Mapping

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from ecsbg.domain.observation import AwsProblem

# Code -> why retrying cannot help. The release stalls until someone changes the spec, the service or the IAM policy.
TERMINAL_CODES: Mapping[str, str] = {
    "AccessDeniedException": "ECS: the caller lacks an IAM permission; only a policy change fixes it",
    "AccessDenied": "STS AssumeRole: the role's trust policy or ExternalId refuses us",
    "ClusterNotFoundException": "ECS: the cluster named in spec.target does not exist",
    "ServiceNotFoundException": "ECS: the service named in spec.target does not exist",
    "ServiceNotActiveException": "ECS: the service is DRAINING/INACTIVE and can no longer be updated",
    "InvalidParameterException": "ECS: the request (built from the spec) is invalid; same spec, same answer",
    "ClientException": "ECS: client-side problem (bad identifier, permission); see CLIENT_RETRYABLE_MESSAGES",
    "PlatformUnknownException": "ECS: the platform version does not exist",
    "PlatformTaskDefinitionIncompatibilityException": "ECS: task definition does not fit the platform",
    "UnsupportedFeatureException": "ECS: the feature is not available in this Region",
    "ServiceDeploymentNotFoundException": "ECS: the deployment ARN does not exist (wrong account/Region)",
    "NamespaceNotFoundException": "ECS: the Service Connect namespace does not exist",
    "InvalidClientTokenId": "STS: the source credentials are not valid",
    "UnrecognizedClientException": "the access key is unknown to AWS",
    "RegionDisabledException": "STS: STS is not activated in this Region for the account",
    "MalformedPolicyDocument": "STS: the session policy is malformed",
    "ValidationError": "STS (query protocol): the AssumeRole request is invalid (role ARN, ExternalId format)",
    "ParamValidation": "botocore: the request does not match the API model; a bug or an invalid spec value",
    "NoCredentials": "no AWS credentials are configured for the operator",
    "NoRegion": "no Region given; spec.target.region is required, so this is a configuration bug",
    "InvalidTaskDefinitionOverride": "ecsbg: spec overrides name a container the base task definition lacks",
    "InvalidServiceConfiguration": "ecsbg: the spec does not match the service (target group, Service Connect)",
    "TaskDefinitionNotFound": "ecsbg: spec.taskDefinition.arn does not exist (DescribeTaskDefinition refused it)",
    "TaskDefinitionTooLarge": "ecsbg: the rendered task definition exceeds ECS's 64 KiB task definition size quota",
    # ELBv2 (spec.preflight reads); a missing rule or target group becomes a pre-flight finding
    "RuleNotFound": "ELBv2: the listener rule does not exist",
    "ListenerNotFound": "ELBv2: the listener does not exist",
    "TargetGroupNotFound": "ELBv2: the target group does not exist",
    # spec.preflight Enforce refused the attempt (domain.preflight's finding codes)
    "ListenerRuleNotFound": "pre-flight: the production listener rule does not exist",
    "ListenerRuleNotForwardOnly": "pre-flight: the production rule mixes forward with other actions",
    "ProductionRuleNotForwardingToBlue": "pre-flight: the production rule does not reach the serving target group",
    "AlternateTargetGroupNotAssociated": "pre-flight: the alternate target group is on no listener rule",
    "ProductionWeightsNotSettled": "pre-flight: production weights are not where the last deployment left them",
    "NoHealthyTargets": "pre-flight: the serving target group has no healthy target",
    "ResourceNotFoundException": "ECS TagResource: the service does not exist (any more)",
    "ServiceOwnedElsewhere": "ecsbg: another operator's release holds the service's ecsbg.dev/owner tag",
    "PreflightUnavailable": "ecsbg: spec.preflight is set and the operator has no ELBv2 client",
    "AutoScalingUnavailable": "ecsbg: spec.autoScaling is set and the operator has no Application Auto Scaling client",
    "ValidationException": "Application Auto Scaling: the request is invalid (resource ID, dimension)",
    "FailedResourceAccessException": "Application Auto Scaling: it cannot read the policies' CloudWatch alarms",
}

# Code -> why a later attempt may succeed. botocore's standard mode has retried most of these already
# (max_attempts); we keep the release's phase and poll again with backoff.
RETRYABLE_CODES: Mapping[str, str] = {
    "ThrottlingException": "rate limit; botocore standard retry backs off, we back off further",
    "Throttling": "rate limit (query-protocol spelling, STS)",
    "RequestLimitExceeded": "rate limit",
    "TooManyRequestsException": "rate limit",
    "LimitExceededException": "RegisterTaskDefinition quota or rate; botocore treats it as throttling",
    "ServerException": "ECS 5xx: a server-side fault",
    "InternalFailure": "AWS 5xx",
    "ServiceUnavailable": "AWS 503",
    "ServiceUnavailableException": "AWS 503 (JSON-protocol spelling)",
    "RequestTimeout": "AWS request timeout",
    "RequestTimeoutException": "AWS request timeout",
    "ExpiredTokenException": "assumed-role credentials expired; the refreshable credentials renew them",
    "ExpiredToken": "STS spelling of the above",
    "IDPCommunicationError": "STS: identity provider temporarily unreachable",
    "ConflictException": "StopServiceDeployment: the deployment is changing state; the next poll re-plans",
    "ConcurrentUpdateException": "Application Auto Scaling: another update of the scalable target is in progress",
    "InternalServiceException": "Application Auto Scaling 5xx",
    "ConnectionError": "botocore could not connect or the connection dropped",
    "Timeout": "botocore connect/read timeout",
}

# ECS answers ClientException for a transient case too ([doc: RegisterTaskDefinition, Errors]): concurrent
# registrations in one family. Matched on the message because the code is shared with permanent errors.
CLIENT_RETRYABLE_MESSAGES = ("too many concurrent attempts",)

# Per operation, codes that mean "ECS moved on before our call landed" rather than "the request is wrong": the
# hook stopped waiting (timeout, another approver) or the deployment already left PENDING/IN_PROGRESS. The
# requests are level-triggered (docs/design.md), so the next poll sees the new state and does not repeat them.
RACE_CODES: Mapping[str, frozenset[str]] = {
    "ContinueServiceDeployment": frozenset({"InvalidParameterException", "ClientException", "ConflictException"}),
    "StopServiceDeployment": frozenset({"InvalidParameterException", "ClientException", "ConflictException"}),
}


def classify(exc: BaseException, operation: str) -> AwsProblem:
    """The AwsProblem for a failed call; `exc` is a botocore ClientError or BotoCoreError."""
    if isinstance(exc, ClientError):
        return _client_error(exc, operation)
    code = _botocore_code(exc)
    terminal = code in TERMINAL_CODES
    return AwsProblem(code=code, message=str(exc), terminal=terminal, operation=operation)


def _client_error(exc: ClientError, operation: str) -> AwsProblem:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    message = str(error.get("Message") or exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return AwsProblem(code=code, message=message, terminal=_is_terminal(code, message, status, operation),
                      operation=operation)


def _is_terminal(code: str, message: str, status: int, operation: str) -> bool:
    if code in RACE_CODES.get(operation, frozenset()):
        return False
    if code == "ClientException" and any(m in message.lower() for m in CLIENT_RETRYABLE_MESSAGES):
        return False
    if code in TERMINAL_CODES:
        return True
    # Unknown codes, 5xx included, are retryable: a wrong "retryable" costs backed-off polls with the code
    # shown in the Reconciling condition, a wrong "terminal" stalls a release on a blip (e.g. a new ECS
    # throttling code) until a human edits it. ECS answers permanent errors with the codes listed above.
    return False


def _botocore_code(exc: BaseException) -> str:
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return "Timeout"
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return "ConnectionError"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "NoCredentials"
    if isinstance(exc, NoRegionError):
        return "NoRegion"
    if isinstance(exc, ParamValidationError):
        return "ParamValidation"
    if isinstance(exc, BotoCoreError):
        return type(exc).__name__
    return "Unknown"
