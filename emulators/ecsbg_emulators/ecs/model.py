"""In-memory resources: clusters, task definitions, services, service revisions and service deployments.

ECS resources are regional and belong to one account, so every resource lives in the `Store` of its
(account, region); the `World` holds one store per partition plus what is not partitioned (scripted hook
behaviours, the hook invocation log). ARN formats follow the ECS docs: `service/<cluster>/<name>` (long
format), `service-deployment/<cluster>/<service>/<id>`, `service-revision/<cluster>/<service>/<numeric id>`
("Stopping Amazon ECS service deployments", "Lambda hooks for Amazon ECS service deployments").
"""

from __future__ import annotations

import random
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ACCOUNT = "123456789012"  # moto's default account, used when the access key names none
_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


def arn(account: str, region: str, resource: str) -> str:
    return f"arn:aws:ecs:{region}:{account}:{resource}"


def arn_partition(value: str) -> tuple[str, str] | None:
    """(account, region) of an ECS ARN, None for a plain name."""
    parts = value.split(":", 5)
    return (parts[4], parts[3]) if value.startswith("arn:") and len(parts) == 6 else None


def random_id(length: int = 20) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def numeric_id() -> str:
    return str(random.randint(10**18, 10**19 - 1))


@dataclass
class Cluster:
    name: str
    arn: str
    created: float
    tags: list[dict[str, str]] = field(default_factory=list)
    settings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TaskDefinition:
    family: str
    revision: int
    arn: str
    body: dict[str, Any]
    registered: float
    tags: list[dict[str, str]] = field(default_factory=list)
    status: str = "ACTIVE"
    deregistered: float | None = None


@dataclass
class Revision:
    """A service revision: a frozen copy of the service's deployable configuration plus its task counts."""

    arn: str
    service: Service
    task_definition: str
    config: dict[str, Any]
    created: float
    legacy_id: str
    tg_slot: int  # 0: LoadBalancer.targetGroupArn (blue), 1: advancedConfiguration.alternateTargetGroupArn
    requested: int = 0
    running: int = 0
    pending: int = 0
    failed: int = 0
    prod_weight: float | None = None
    test_weight: float | None = None
    updated: float = 0.0


@dataclass
class HookRun:
    """One hook execution at one stage (DeploymentLifecycleHookDetail in the model)."""

    hook_id: str
    target_type: str
    target_arn: str | None
    stage: str
    status: str
    expires_at: float
    timeout_action: str
    hook_details: Any = None
    index: int = 0  # position in deploymentConfiguration.lifecycleHooks
    invocations: int = 0
    timer: list | None = None


@dataclass
class Deployment:
    arn: str
    service: Service
    target: Revision
    sources: list[Revision]
    config: dict[str, Any]
    created: float
    initial: bool = False  # the deployment CreateService starts (no source revision)
    status: str = "PENDING"
    status_reason: str | None = None
    stage: str | None = None
    started: float | None = None
    finished: float | None = None
    stopped: float | None = None
    updated: float = 0.0
    rollback: dict[str, Any] | None = None
    # the hooks of the stage in progress: what lifecycleHookDetails lists ("for each active hook")
    hooks: list[HookRun] = field(default_factory=list)
    hook_log: list[HookRun] = field(default_factory=list)  # every hook execution, for the control API
    history: list[dict[str, Any]] = field(default_factory=list)
    program: list[tuple] = field(default_factory=list)
    token: int = 0  # bumped when the program is replaced, so stale timers do nothing
    timer: list | None = None
    cb_failures: int = 0
    cb_status: str = "DISABLED"
    alarm_status: str = "DISABLED"
    triggered_alarms: list[str] = field(default_factory=list)
    ignored_alarms: set[str] = field(default_factory=set)
    rollback_target: Revision | None = None
    hook_memory: dict[int, Any] = field(default_factory=dict)  # merged hookDetails per configured hook


@dataclass
class Service:
    name: str
    arn: str
    cluster: Cluster
    account: str
    region: str
    fields: dict[str, Any]  # every CreateService/UpdateService member as stored (taskDefinition as full ARN)
    created: float
    tags: list[dict[str, str]] = field(default_factory=list)
    status: str = "ACTIVE"
    revisions: list[Revision] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    primary: Revision | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    fail_tasks: int | None = 0  # task launches still to fail; None = every launch fails
    fail_next_rollback: bool = False

    def current_deployment(self) -> Deployment | None:
        return self.deployments[-1] if self.deployments else None

    def active_revisions(self) -> list[Revision]:
        return [r for r in self.revisions if r.requested > 0 or r is self.primary]

    def add_event(self, message: str, when: float) -> None:
        self.events.insert(0, {"id": random_id(36), "createdAt": when, "message": f"(service {self.name}) {message}"})
        del self.events[100:]  # "max 100" events returned [model]


@dataclass
class Store:
    """The ECS resources of one account in one region."""

    account: str
    region: str
    clusters: dict[str, Cluster] = field(default_factory=dict)
    task_definitions: dict[str, list[TaskDefinition]] = field(default_factory=dict)  # family -> revisions
    services: dict[tuple[str, str], Service] = field(default_factory=dict)  # (cluster name, service name)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    revisions: dict[str, Revision] = field(default_factory=dict)


ANY = "*"  # an alarm set through the control API without account/region applies to every partition


@dataclass
class World:
    stores: dict[tuple[str, str], Store] = field(default_factory=dict)  # (account, region) -> store
    # CloudWatch alarms are regional too: (account, region, alarm name) -> "OK" | "ALARM" | ...; ANY matches all
    alarms: dict[tuple[str, str, str], str] = field(default_factory=dict)
    hook_behaviours: dict[str, dict[str, Any]] = field(default_factory=dict)  # by function ARN
    hook_invocations: list[dict[str, Any]] = field(default_factory=list)
    events: Any = None  # an events.SqsSink: deployment events to a queue, as EventBridge would deliver them
    elbv2: Any = None  # an elbv2.Elbv2Sink: listener rules rewritten as traffic shifts (None: weights stay internal)

    def store(self, account: str, region: str) -> Store:
        found = self.stores.get((account, region))
        if found is None:
            found = self.stores[(account, region)] = Store(account=account, region=region)
        return found

    def store_of(self, service: Service) -> Store:
        return self.store(service.account, service.region)

    def alarm_state(self, account: str, region: str, name: str) -> str | None:
        for key in ((account, region, name), (account, ANY, name), (ANY, region, name), (ANY, ANY, name)):
            if key in self.alarms:
                return self.alarms[key]
        return None

    def deployments(self) -> list[Deployment]:
        return [d for store in list(self.stores.values()) for d in store.deployments.values()]
