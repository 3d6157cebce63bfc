"""Task definitions: the ecsbg.dev/taskdef-hash tag and the content hash (cached), and resolving the one a
StartDeployment deploys.

The `containers` form registers a revision from the base with the overrides, tagged with the content hash of
what is registered, and reuses an existing revision with that tag (docs/design.md "Attempts, hashes and
idempotency"), so an operator killed between RegisterTaskDefinition and UpdateService never registers a
duplicate, and a spec reverted to an earlier content reuses the revision registered for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ecsbg.aws import translate
from ecsbg.aws.batching import BoundedCache
from ecsbg.aws.calls import AwsCalls, AwsError
from ecsbg.aws.shapes import register_task_definition_errors
from ecsbg.aws.translate import RequestBuildError
from ecsbg.domain import taskdefs
from ecsbg.domain.actions import StartDeployment
from ecsbg.domain.images import ImageRules, task_definition_image_problems
from ecsbg.domain.observation import AwsProblem

# ListTaskDefinitions sorts by family name then revision, so `familyPrefix=web` DESC lists `web-worker:*`
# before `web:*`; we page (100 per page, the model's maximum) until enough revisions of the exact family.
LIST_PAGE_SIZE = 100
MAX_LIST_PAGES = 5


class TaskDefinitionTags:
    """Per task definition ARN, the taskdef-hash tag and the content hash (domain.taskdefs), and the whole
    description of a few recent ones (the bases of attempts, their registrable content derived from it). Never
    stale (a revision's content never changes, and we set the tag when registering, never later); dropped when
    unused for `max_idle` seconds (BoundedCache)."""

    # `contents`: bases of attempts starting at once. 256 was too few: with 1,000 releases created at once, each
    # base was evicted between the observer's read and the start's, and described two or three times (bench.scale)
    def __init__(self, size: int = 4096, contents: int = 2048, max_idle: float | None = None) -> None:
        self._cache: BoundedCache[str, str | None] = BoundedCache(size, max_idle)
        self._content_hashes: BoundedCache[str, str] = BoundedCache(size, max_idle)
        # whole DescribeTaskDefinition responses (the base a revision is rendered from, with its tags)
        self._responses: BoundedCache[str, dict[str, Any]] = BoundedCache(contents, max_idle)

    def cached(self, arn: str) -> tuple[bool, str | None]:
        return self._cache.lookup(arn)

    def remember(self, arn: str, taskdef_hash: str | None) -> None:
        self._cache.put(arn, taskdef_hash)

    def describe(self, calls: AwsCalls, arn: str) -> dict[str, Any]:
        response = calls.call("DescribeTaskDefinition", taskDefinition=arn, include=["TAGS"])
        described = response["taskDefinition"]
        full_arn = described["taskDefinitionArn"]
        self.remember(full_arn, translate.taskdef_hash_tag(response.get("tags", [])))
        content_hash = taskdefs.content_hash(taskdefs.registrable(described))
        for name in {arn, full_arn}:  # the service may name it by ARN, the spec by family:revision
            self._content_hashes.put(name, content_hash)
            self._responses.put(name, response)
        return response

    def response(self, calls: AwsCalls, arn: str) -> dict[str, Any]:
        """The DescribeTaskDefinition(include=[TAGS]) response, read once: the observer described the base of an
        attempt about to start a moment before the start renders from it (one call per start saved). Callers
        must not change it (translate.register_task_definition_request renders a copy)."""
        found, value = self._responses.lookup(arn)
        return value if found and value is not None else self.describe(calls, arn)

    def content_hash(self, calls: AwsCalls, arn: str) -> str:
        found, value = self._content_hashes.lookup(arn)
        if not found:
            self.describe(calls, arn)
            value = self._content_hashes.lookup(arn)[1]
        assert value is not None
        return value

    def cached_content_hash(self, arn: str) -> str | None:
        return self._content_hashes.lookup(arn)[1]

    def content(self, calls: AwsCalls, arn: str) -> dict[str, Any]:
        """The registrable content (a copy) of the task definition, from its cached DescribeTaskDefinition."""
        return taskdefs.registrable(self.response(calls, arn)["taskDefinition"])

    def hash_of(self, calls: AwsCalls, arn: str, seen: dict[str, dict[str, Any]] | None = None) -> str | None:
        """`seen` collects the descriptions read here, so a caller needing one of them does not read it twice."""
        found, value = self.cached(arn)
        if found:
            return value
        described = self.describe(calls, arn)
        if seen is not None:
            seen[arn] = described
        return translate.taskdef_hash_tag(described.get("tags", []))


def resolve_task_definition(
    calls: AwsCalls, tags: TaskDefinitionTags, action: StartDeployment, current: str | None, scan_limit: int,
    pin: Callable[[str], str] | None = None, pinned_out: list[tuple[str, str]] | None = None,
) -> str:
    """The task definition ARN the attempt deploys (synchronous: runs in a worker thread).

    `pin` (an EcsReleasePolicy's images.resolveDigests) turns each container image into `name@sha256:...` before a
    new revision is registered; a revision already registered for this taskdef-hash is reused as it is, so a tag
    moved since then changes nothing (the attempt deploys the digests resolved when it first started).
    `pinned_out` receives (container, image) of the deployed revision when pinning."""
    source = action.spec.task_definition
    rules = action.spec.image_rules
    if source.arn is not None:
        must_exist(calls, tags, source.arn)
        if rules is not None:  # the policy's image rules on every container of the task definition as given
            check_images(tags.describe(calls, source.arn)["taskDefinition"], rules, source.arn)
        return source.arn
    if source.template is not None:
        return _resolve_template(calls, tags, source.template, rules, scan_limit, pin, pinned_out)
    base = action.base_task_definition_arn or current
    if base is None:
        raise RequestBuildError("InvalidServiceConfiguration", "no base task definition to derive from")
    seen: dict[str, dict[str, Any]] = {}
    wanted = action.taskdef_hash
    if wanted is None:  # the planner could not render it: render here, raising the precise error if it cannot fit
        seen[base] = tags.response(calls, base)
        wanted = taskdefs.content_hash(translate.register_task_definition_request(seen[base], source, ""))
    family = translate.task_definition_family(base)
    if rules is not None:  # images the release does not override come from the base: check the rendered whole
        described = seen.get(base) or tags.response(calls, base)
        seen[base] = described
        rendered = translate.register_task_definition_request(described, source, wanted)
        check_images(rendered, rules, f"the task definition rendered from {base}")

    def build() -> dict[str, Any]:
        described = seen.get(base) or tags.response(calls, base)
        return translate.register_task_definition_request(described, source, wanted)

    return _reuse_or_register(calls, tags, family, wanted, build, scan_limit, seen, pin, pinned_out)


def _reuse_or_register(calls: AwsCalls, tags: TaskDefinitionTags, family: str, wanted: str,
                       build: Callable[[], dict[str, Any]], scan_limit: int, seen: dict[str, dict[str, Any]],
                       pin: Callable[[str], str] | None, pinned_out: list[tuple[str, str]] | None) -> str:
    """The family's revision tagged `wanted`, else a new one registered from `build()` (images pinned first)."""
    existing = find_tagged_revision(calls, tags, family, wanted, scan_limit, seen)
    if existing is not None:
        if pin is not None and pinned_out is not None:
            found = seen.get(existing) or tags.describe(calls, existing)
            pinned_out.extend(_images(found["taskDefinition"]))
        return existing
    request = build()
    if pin is not None:
        for container in request.get("containerDefinitions") or []:
            container["image"] = pin(str(container.get("image") or ""))
        if pinned_out is not None:
            pinned_out.extend(_images(request))
    arn = calls.call("RegisterTaskDefinition", **request)["taskDefinition"]["taskDefinitionArn"]
    tags.remember(arn, wanted)
    return arn


def template_request(template: Mapping[str, Any], taskdef_hash: str) -> dict[str, Any]:
    """RegisterTaskDefinition params of spec.taskDefinition.template: its registrable members, its tags and the
    ecsbg.dev/taskdef-hash tag (the content hash). Refused, before any write, when botocore's model refuses it."""
    errors = register_task_definition_errors(template, "spec.taskDefinition.template")
    if errors:
        raise RequestBuildError("InvalidTaskDefinitionTemplate", "; ".join(errors))
    request = taskdefs.registrable(template)
    tags = [dict(t) for t in template.get("tags") or [] if t.get("key") != translate.TASKDEF_HASH_TAG]
    request["tags"] = [*tags, {"key": translate.TASKDEF_HASH_TAG, "value": taskdef_hash}]
    return request


def _resolve_template(calls: AwsCalls, tags: TaskDefinitionTags, template: Mapping[str, Any],
                      rules: ImageRules | None, scan_limit: int, pin: Callable[[str], str] | None,
                      pinned_out: list[tuple[str, str]] | None) -> str:
    """The template form: the revision of its family tagged with its content hash, else a new one. Registering
    the same template twice (a re-apply, a revert) reuses the first revision."""
    wanted = taskdefs.content_hash(template)
    request = template_request(template, wanted)
    if rules is not None:
        check_images(request, rules, "spec.taskDefinition.template")
    return _reuse_or_register(calls, tags, str(template.get("family")), wanted, lambda: request, scan_limit, {},
                              pin, pinned_out)


def _images(task_definition: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(c.get("name")), str(c.get("image"))) for c in task_definition.get("containerDefinitions") or []]


def check_images(task_definition: dict[str, Any], rules: ImageRules, what: str) -> None:
    problems = task_definition_image_problems(task_definition.get("containerDefinitions") or [], rules)
    if problems:
        raise RequestBuildError("ImageNotAllowed", f"{what}: " + "; ".join(problems) + " (EcsReleasePolicy images)")


def must_exist(calls: AwsCalls, tags: TaskDefinitionTags, arn: str) -> None:
    """UpdateService with a task definition that does not exist is refused only after the service's deployment
    configuration was checked; reading it first gives a precise error and no write. Cached after the first read."""
    if tags.cached(arn)[0]:
        return
    try:
        tags.describe(calls, arn)
    except AwsError as exc:
        problem = not_found(arn, exc.problem)
        if problem is exc.problem:
            raise
        raise RequestBuildError(problem.code, problem.message) from exc


def not_found(arn: str, problem: AwsProblem) -> AwsProblem:
    """DescribeTaskDefinition of spec.taskDefinition.arn refused for good (ECS answers ClientException "Unable to
    describe task definition."): the precise TaskDefinitionNotFound problem; any other problem as it is."""
    if problem.code != "ClientException" or not problem.terminal:
        return problem
    return AwsProblem(code="TaskDefinitionNotFound", terminal=True, operation=problem.operation,
                      message=f"spec.taskDefinition.arn {arn} cannot be described: {problem.message}")


def find_tagged_revision(
    calls: AwsCalls,
    tags: TaskDefinitionTags,
    family: str,
    taskdef_hash: str,
    scan_limit: int,
    seen: dict[str, dict[str, Any]] | None = None,
) -> str | None:
    """The newest of the family's `scan_limit` newest ACTIVE revisions tagged with `taskdef_hash`, if any."""
    for arn in newest_revisions(calls, family, scan_limit):
        if tags.hash_of(calls, arn, seen) == taskdef_hash:
            return arn
    return None


def newest_revisions(calls: AwsCalls, family: str, limit: int) -> list[str]:
    arns: list[str] = []
    params: dict[str, Any] = {"familyPrefix": family, "sort": "DESC", "maxResults": LIST_PAGE_SIZE}
    for _ in range(MAX_LIST_PAGES):
        page = calls.call("ListTaskDefinitions", **params)
        arns += [a for a in page.get("taskDefinitionArns", []) if translate.task_definition_family(a) == family]
        if len(arns) >= limit or not page.get("nextToken"):
            break
        params["nextToken"] = page["nextToken"]
    return arns[:limit]
