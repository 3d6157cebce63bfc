"""The emulated backend: the world of partitioned stores, the engine, and the per-request `Partition` view the
operation handlers work on (one account in one region, as an ECS endpoint sees it)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from . import errors
from .engine import Engine
from .identity import AWS_REGIONS
from .model import Cluster, Revision, Service, Store, TaskDefinition, World, arn, arn_partition, numeric_id
from .scheduler import Scheduler
from .validation import check_max_results
from .views import REVISION_ECHO

Handler = Callable[["Partition", dict[str, Any]], dict[str, Any]]
OPERATIONS: dict[str, Handler] = {}


def operation(fn: Handler) -> Handler:
    """Register a handler under its ECS operation name (CamelCase of the function name)."""
    OPERATIONS["".join(part.capitalize() for part in fn.__name__.split("_"))] = fn
    return fn


class Backend:
    def __init__(self, scheduler: Scheduler, regions: frozenset[str] | set[str] | None = None) -> None:
        self.scheduler = scheduler
        self.world = World()
        self.engine = Engine(self.world, scheduler)
        self.regions = frozenset(regions) if regions else AWS_REGIONS

    def serves(self, region: str) -> bool:
        return region in self.regions

    def dispatch(self, name: str, params: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        handler = OPERATIONS.get(name)
        if handler is None:
            raise errors.EcsError("UnknownOperationException", f"Operation {name} is not emulated.")
        with self.scheduler.lock:
            self.scheduler.run_due()  # lazily advance emulated time before answering
            return handler(self.partition(account, region), params)

    def partition(self, account: str, region: str) -> Partition:
        return Partition(self, self.world.store(account, region))

    def find_service(self, cluster: str, service: str, region: str | None = None,
                     account: str | None = None) -> Service:
        """A service for the control API: by cluster and name, in the one partition that has it (or the given one)."""
        found = [
            s for (acc, reg), store in self.world.stores.items()
            if region in (None, reg) and account in (None, acc)
            for (c, name), s in store.services.items() if (c, name) == (cluster, service) and s.status == "ACTIVE"
        ]
        if not found:
            raise errors.service_not_found()
        if len(found) > 1:
            raise ValueError(f"service {cluster}/{service} exists in several regions or accounts; name the region")
        return found[0]


class Partition:
    """One account in one region: what an ECS endpoint serves to one caller. All lookups stay inside it."""

    def __init__(self, backend: Backend, store: Store) -> None:
        self.scheduler = backend.scheduler
        self.engine = backend.engine
        self.store = store
        self.account, self.region = store.account, store.region

    def arn(self, resource: str) -> str:
        return arn(self.account, self.region, resource)

    def _here(self, ref: str) -> bool:
        """An ARN of another account or region never resolves here (resources are regional)."""
        where = arn_partition(ref)
        return where is None or where == (self.account, self.region)

    # -- lookups -----------------------------------------------------------------------------------------
    def cluster(self, ref: str | None) -> Cluster:
        ref = ref or "default"
        found = self.store.clusters.get(ref.rsplit("/", 1)[-1]) if self._here(ref) else None
        if found is None:
            raise errors.cluster_not_found()
        return found

    def service(self, cluster_ref: str | None, ref: str, *, active: bool = True) -> Service:
        """The service named by `ref`; with `active` (the default) an INACTIVE one is ServiceNotFound."""
        if ref.startswith("arn:"):
            if not self._here(ref):
                raise errors.service_not_found()
            parts = ref.split(":", 5)[-1].split("/")
            if len(parts) == 3:  # service/<cluster>/<name>
                cluster_ref = cluster_ref or parts[1]
            ref = parts[-1]
        cluster = self.cluster(cluster_ref)
        found = self.store.services.get((cluster.name, ref))
        if found is None or (active and found.status != "ACTIVE"):
            raise errors.service_not_found()
        return found

    def task_definition(self, ref: str, not_found: str = errors.DESCRIBE_TD_NOT_FOUND) -> TaskDefinition:
        """family, family:revision or ARN; family alone means its latest ACTIVE revision. ClientException with
        `not_found` when there is none (the message differs per operation, see errors.py)."""
        tail = ref.split("task-definition/", 1)[-1]
        family, _, rev = tail.partition(":")
        revisions = self.store.task_definitions.get(family, []) if self._here(ref) else []
        if rev:
            found = next((t for t in revisions if str(t.revision) == rev), None)
        else:
            found = next((t for t in reversed(revisions) if t.status == "ACTIVE"), None)
        if found is None:
            raise errors.client_error(not_found)
        return found

    def new_revision(self, service: Service, slot: int) -> Revision:
        now = self.scheduler.now()
        rev = Revision(
            arn=self.arn(f"service-revision/{service.cluster.name}/{service.name}/{numeric_id()}"),
            service=service, task_definition=service.fields["taskDefinition"],
            config=json.loads(json.dumps({k: service.fields.get(k) for k in REVISION_ECHO})),
            created=now, updated=now, legacy_id=f"ecs-svc/{numeric_id()}", tg_slot=slot,
        )
        service.revisions.append(rev)
        self.store.revisions[rev.arn] = rev
        return rev


def paginate(items: list[Any], params: dict[str, Any], default_max: int, high: int = 100) -> tuple[list, str | None]:
    """Opaque nextToken = base64 offset; a token that does not decode is an InvalidParameterException."""
    limit = params.get("maxResults")
    check_max_results(limit, 1, high)
    limit = limit or default_max
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.invalid("Invalid nextToken.") from exc
    page = items[start:start + limit]
    more = start + limit < len(items)
    next_token = base64.urlsafe_b64encode(json.dumps({"offset": start + limit}).encode()).decode() if more else None
    return page, next_token
