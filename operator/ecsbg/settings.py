"""Operator settings, read once from the environment (docs/design.md "Operator settings")."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LeaseSettings:
    """ecsbg.k8s.leader's Lease: which one, and its timing (client-go's defaults: 15 s, 10 s, 2 s)."""

    namespace: str
    name: str = "ecsbg-operator"
    lease_seconds: float = 15.0
    renew_deadline_seconds: float = 10.0
    retry_seconds: float = 2.0
    identity: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.retry_seconds < self.renew_deadline_seconds < self.lease_seconds:
            raise ValueError("leader election needs 0 < retry < renew deadline < lease duration, got "
                             f"{self.retry_seconds}, {self.renew_deadline_seconds}, {self.lease_seconds}")


@dataclass(frozen=True)
class Settings:
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    poll_fast_seconds: float = 5.0
    poll_idle_seconds: float = 300.0
    metrics_port: int = 8080
    health_port: int = 8081
    log_format: str = "plain"
    log_level: str = "INFO"
    aws_endpoint_url: str | None = None
    coalesce_ms: float = 50.0
    # sent with every AssumeRole; a Secret of the platform team (the chart). Not in repr: settings may be logged.
    external_id: str | None = field(default=None, repr=False)
    # refuse every release while no EcsReleasePolicy exists (`--require-policy`; the chart's default in new installs)
    require_policy: bool = False
    # reads of a release failing (endpoint unreachable, access denied) this long make it Stalled
    observation_stall_seconds: float = 900.0
    # UNSAFE: let botocore/urllib3 log requests and responses at DEBUG (signed headers, credentials)
    unsafe_wire_logging: bool = False
    k8s_timeout_seconds: float = 30.0  # every Kubernetes API request (status patch, Events, kopf's requests)
    loop_stuck_seconds: float = 600.0  # a release pass running longer is stuck: logged, counted, liveness fails
    api_unreachable_seconds: float = 300.0  # the Kubernetes API failing this long fails liveness
    backoff_max_seconds: float = 300.0  # ceiling of a release loop's own backoff while AWS throttles
    notify_tries: int = 5  # POSTs per notification delivery before it is Failed (ecsbg.notify.sender)
    notify_backoff_seconds: float = 2.0  # before the second try; doubles up to 60 s
    # active/standby replicas (ecsbg.k8s.leader): set by ECSBG_LEADER_ELECTION_NAMESPACE (the chart: the release's
    # namespace); None runs the operator at once, as one replica must
    leader_election: LeaseSettings | None = None
    # names this operator in the ecsbg.dev/owner tag it puts on the ECS services it deploys (domain.ownership);
    # "" leaves services untagged and unchecked. Unique per operator install across the clusters of an account.
    operator_id: str = ""
    # an SQS queue an EventBridge rule delivers ECS events to: they wake the releases of the services they name
    # (ecsbg.aws.events); None: polling only
    events_queue_url: str | None = None
    # the idle poll while the events queue answers (events wake releases; this poll only catches lost ones)
    events_idle_seconds: float = 1800.0
    # sharding by label: only releases matching this label selector (e.g. ecsbg.dev/shard=a) are seen at all
    release_selector: str = ""
    # deployments started at once (their checks; as many again in their writes); 0: no limit. Spreads a mass
    # start (an image bump across every release) over ECS's write quota and the operator's one core: with 1,000
    # at once, deployments' stages no longer all change in the same seconds (docs/design.md "Scale")
    max_concurrent_starts: int = 32

    def events_region(self) -> str:
        """The queue's region: from its URL (https://sqs.<region>.amazonaws.com/...), else the operator's own."""
        host = (self.events_queue_url or "").split("//", 1)[-1].split("/", 1)[0]
        parts = host.split(".")
        if len(parts) >= 3 and parts[0] == "sqs":
            return parts[1]
        return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        spaces = tuple(n.strip() for n in env.get("ECSBG_NAMESPACES", "").split(",") if n.strip())
        return cls(
            namespaces=spaces,
            poll_fast_seconds=_positive(env, "ECSBG_POLL_FAST_SECONDS", cls.poll_fast_seconds),
            poll_idle_seconds=_positive(env, "ECSBG_POLL_IDLE_SECONDS", cls.poll_idle_seconds),
            metrics_port=_port(env, "ECSBG_METRICS_PORT", cls.metrics_port),
            health_port=_port(env, "ECSBG_HEALTH_PORT", cls.health_port),
            log_format=_choice(env, "ECSBG_LOG_FORMAT", ("plain", "json"), cls.log_format),
            log_level=env.get("ECSBG_LOG_LEVEL", cls.log_level).upper(),
            aws_endpoint_url=env.get("ECSBG_AWS_ENDPOINT_URL") or None,
            coalesce_ms=_positive(env, "ECSBG_COALESCE_MS", cls.coalesce_ms, allow_zero=True),
            external_id=env.get("ECSBG_EXTERNAL_ID") or None,
            require_policy=env.get("ECSBG_REQUIRE_POLICY", "").strip().lower() in ("1", "true", "yes"),
            observation_stall_seconds=_positive(env, "ECSBG_OBSERVATION_STALL_SECONDS", cls.observation_stall_seconds),
            k8s_timeout_seconds=_positive(env, "ECSBG_K8S_TIMEOUT_SECONDS", cls.k8s_timeout_seconds),
            loop_stuck_seconds=_positive(env, "ECSBG_LOOP_STUCK_SECONDS", cls.loop_stuck_seconds),
            api_unreachable_seconds=_positive(env, "ECSBG_API_UNREACHABLE_SECONDS", cls.api_unreachable_seconds),
            backoff_max_seconds=_positive(env, "ECSBG_BACKOFF_MAX_SECONDS", cls.backoff_max_seconds),
            notify_tries=int(_positive(env, "ECSBG_NOTIFY_TRIES", cls.notify_tries)),
            notify_backoff_seconds=_positive(env, "ECSBG_NOTIFY_BACKOFF_SECONDS", cls.notify_backoff_seconds),
            unsafe_wire_logging=_choice(env, "ECSBG_UNSAFE_WIRE_LOGGING", ("false", "true"), "false") == "true",
            leader_election=_lease(env),
            operator_id=env.get("ECSBG_OPERATOR_ID", "").strip(),
            events_queue_url=env.get("ECSBG_EVENTS_QUEUE_URL", "").strip() or None,
            events_idle_seconds=_positive(env, "ECSBG_EVENTS_IDLE_SECONDS", cls.events_idle_seconds),
            release_selector=env.get("ECSBG_RELEASE_SELECTOR", "").strip(),
            max_concurrent_starts=_count(env, "ECSBG_MAX_CONCURRENT_STARTS", cls.max_concurrent_starts),
        )


def _lease(env: Mapping[str, str]) -> LeaseSettings | None:
    namespace = env.get("ECSBG_LEADER_ELECTION_NAMESPACE", "").strip()
    if not namespace:
        return None
    defaults = LeaseSettings(namespace=namespace)
    return LeaseSettings(namespace=namespace, name=env.get("ECSBG_LEASE_NAME") or defaults.name,
                         lease_seconds=_positive(env, "ECSBG_LEASE_SECONDS", defaults.lease_seconds),
                         renew_deadline_seconds=_positive(env, "ECSBG_LEASE_RENEW_DEADLINE_SECONDS",
                                                          defaults.renew_deadline_seconds),
                         retry_seconds=_positive(env, "ECSBG_LEASE_RETRY_SECONDS", defaults.retry_seconds))


def _positive(env: Mapping[str, str], key: str, default: float, *, allow_zero: bool = False) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number of seconds, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{key} must be a positive number of seconds, got {raw!r}")
    return value


def _count(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()):  # "²" is a digit to isdigit(), not to int()
        raise ValueError(f"{key} must be a whole number, got {raw!r}")
    return int(raw)


def _port(env: Mapping[str, str], key: str, default: int) -> int:
    """0 turns the server off (Settings.metrics_port, health_port)."""
    port = _count(env, key, default)
    if port > 65535:
        raise ValueError(f"{key} must be a port number (0: off), got {port}")
    return port


def _choice(env: Mapping[str, str], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(key, default)
    if value not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
    return value
