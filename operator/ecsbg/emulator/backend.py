"""The emulated ECS backend: state, engine and lookups shared by the operation handlers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from . import errors
from .engine import Engine
from .model import DEFAULT_REGION, Cluster, Revision, Service, Store, TaskDefinition, arn, numeric_id
from .scheduler import Scheduler
from .validation import check_max_results
from .views import REVISION_ECHO

Handler = Callable[["Backend", dict[str, Any], str], dict[str, Any]]
OPERATIONS: dict[str, Handler] = {}


def operation(fn: Handler) -> Handler:
    """Register a handler under its ECS operation name (CamelCase of the function name)."""
    OPERATIONS["".join(part.capitalize() for part in fn.__name__.split("_"))] = fn
    return fn


class Backend:
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.store = Store()
        self.engine = Engine(self.store, scheduler)

    def dispatch(self, name: str, params: dict[str, Any], region: str = DEFAULT_REGION) -> dict[str, Any]:
        handler = OPERATIONS.get(name)
        if handler is None:
            raise errors.EcsError("UnknownOperationException", f"Operation {name} is not emulated.")
        with self.scheduler.lock:
            self.scheduler.run_due()  # lazily advance emulated time before answering
            return handler(self, params, region)

    # -- lookups -----------------------------------------------------------------------------------------
    def cluster(self, ref: str | None) -> Cluster:
        name = (ref or "default").rsplit("/", 1)[-1]
        found = self.store.clusters.get(name)
        if found is None:
            raise errors.cluster_not_found()
        return found

    def service(self, cluster_ref: str | None, ref: str) -> Service:
        if ref.startswith("arn:"):
            parts = ref.split(":", 5)[-1].split("/")
            if len(parts) == 3:  # service/<cluster>/<name>
                cluster_ref = cluster_ref or parts[1]
            ref = parts[-1]
        cluster = self.cluster(cluster_ref)
        found = self.store.services.get((cluster.name, ref))
        if found is None or found.status != "ACTIVE":
            raise errors.service_not_found()
        return found

    def task_definition(self, ref: str, error: Callable[[str], errors.EcsError] = errors.client_error) -> TaskDefinition:
        """family, family:revision or ARN; family alone means its latest ACTIVE revision."""
        tail = ref.split("task-definition/", 1)[-1]
        family, _, rev = tail.partition(":")
        revisions = self.store.task_definitions.get(family, [])
        if rev:
            found = next((t for t in revisions if str(t.revision) == rev), None)
        else:
            found = next((t for t in reversed(revisions) if t.status == "ACTIVE"), None)
        if found is None:
            raise error("Unable to describe task definition." if error is errors.client_error
                        else "TaskDefinition not found.")
        return found

    def new_revision(self, service: Service, slot: int) -> Revision:
        now = self.scheduler.now()
        rev = Revision(
            arn=arn(service.region, f"service-revision/{service.cluster.name}/{service.name}/{numeric_id()}"),
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
