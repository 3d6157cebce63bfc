"""What happens to an object between the request and the store: the strategies of kube-apiserver's registries.

- metadata the client may not change (uid, creationTimestamp, deletionTimestamp, generation) is kept from the old
  object; no new finalizers once deletion started (ObjectMeta update validation);
- the status subresource split (apiextensions-apiserver customresource strategy): a write to the main resource
  keeps the old status, a write to /status keeps everything but the status;
- `metadata.generation` bumped when anything but metadata and status changes;
- CRD schemas: pruning, defaulting, validation (schema.py) and CEL rules (cel.py);
- CRDs themselves get the `Established` and `NamesAccepted` conditions the apiserver's controllers set.
"""

from __future__ import annotations

from . import schema as structural
from .errors import ApiError, FieldError, bad_request, invalid
from .patching import clone
from .resources import Resource, resource_from_crd

_FIXED_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "name",
               "namespace")
_GENERATION_GROUPS = {"apps", "apiextensions.k8s.io"}


class CelHolder:
    """Creates the CEL evaluator on first use: cel-python is slow to import and most kinds have no rules."""

    def __init__(self) -> None:
        self._rules = None

    def __call__(self, *args):
        self.warm()
        return self._rules(*args)

    def warm(self) -> None:
        """Build the evaluator now (about a second for cel-python's grammar) instead of on the first request."""
        if self._rules is None:
            from .cel import CelRules

            self._rules = CelRules()

    @property
    def skipped(self) -> dict[str, str]:
        return dict(self._rules.skipped) if self._rules else {}


def has_generation(res: Resource) -> bool:
    return bool(res.crd_name) or res.group in _GENERATION_GROUPS


def name_required(res: Resource) -> ApiError:
    return invalid(res.kind, res.group, "", [FieldError("required", "metadata.name", None,
                                                        "name or generateName is required")])


def rv_required(res: Resource, name: str) -> ApiError:
    return invalid(res.kind, res.group, name, [FieldError("invalid", "metadata.resourceVersion", 0,
                                                          "must be specified for an update")])


def check_preconditions(res: Resource, obj: dict, pre: dict) -> None:
    meta = obj["metadata"]
    for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        if pre.get(key) and pre[key] != meta.get(key):
            raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on {res.group_resource} "
                           f'"{meta["name"]}": Precondition failed: {label} in precondition: {pre[key]}, '
                           f"{label} in object meta: {meta.get(key)}")


def same(new: dict, old: dict) -> bool:
    """Equal but for the resourceVersion: a no-op write."""
    new_meta = {k: v for k, v in new["metadata"].items() if k != "resourceVersion"}
    old_meta = {k: v for k, v in old["metadata"].items() if k != "resourceVersion"}
    return new_meta == old_meta and {k: v for k, v in new.items() if k != "metadata"} == \
        {k: v for k, v in old.items() if k != "metadata"}


def _content(obj: dict, with_status: bool) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")
            and (with_status or k != "status")}


def admit(store, res: Resource, version: str, new: dict, old: dict | None, subresource: str | None,
          strict: bool, warnings: list | None) -> dict:
    new["apiVersion"], new["kind"] = res.api_version(version), res.kind
    schema = res.schemas.get(version) if res.crd_name else None
    dropped = structural.prune(new, schema)
    if dropped and strict:
        # the apiserver's wording for fieldValidation=Strict (kubectl's default --validate=strict)
        raise bad_request(f'{res.kind} in version "{version}" cannot be handled as a {res.kind}: strict decoding '
                          "error: " + ", ".join(f'unknown field "{p}"' for p in dropped))
    if dropped and warnings is not None:
        warnings.extend(f'unknown field "{p}"' for p in dropped)
    if old is not None:
        new = _split_update(res, new, old, subresource)
    elif res.status_subresource and res.crd_name:
        new.pop("status", None)  # "create cannot set status" (customresource strategy PrepareForCreate)
    if schema is not None:
        structural.apply_defaults(new, schema)
        # kube-apiserver defaults what it reads from etcd too, so ratcheting compares defaulted with defaulted: an
        # object stored before a default existed (or past validation) is not re-checked for that alone
        seen = structural.apply_defaults(structural.clone(old), schema) if old is not None else None
        errors = structural.validate(new, schema, "", seen, old is not None, store.cel)
        if errors:
            raise invalid(res.kind, res.group, new["metadata"].get("name", ""), errors)
    if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        _admit_crd(new)
    if res.key == ("", "namespaces") and old is None:
        new.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        new.setdefault("status", {})["phase"] = "Active"
    return new


def _split_update(res: Resource, new: dict, old: dict, subresource: str | None) -> dict:
    if subresource == "status":
        merged = clone(old)
        merged.pop("status", None)
        if "status" in new:
            merged["status"] = new["status"]
        return merged
    if subresource is not None:
        raise ApiError(404, "NotFound", f"the server could not find the requested resource ({subresource})")
    meta, old_meta = new["metadata"], old["metadata"]
    for key in _FIXED_META:
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if old_meta.get("deletionTimestamp"):
        added = [f for f in meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
        if added:
            raise invalid(res.kind, res.group, meta["name"], [FieldError(
                "forbidden", "metadata.finalizers", None,
                f"no new finalizers can be added if the object is being deleted, found new finalizers {added}")])
    if res.status_subresource:
        new.pop("status", None)
        if "status" in old:
            new["status"] = old["status"]
    if "generation" in old_meta and _content(new, not res.status_subresource) != \
            _content(old, not res.status_subresource):
        meta["generation"] = old_meta["generation"] + 1
    return new


def _admit_crd(crd: dict) -> None:
    """Check the names a CRD must have, then set what the apiextensions controllers set once it is served."""
    res = resource_from_crd(crd)
    name = crd["metadata"].get("name", "")
    errors = []
    if not res.plural or not res.kind or not res.group:
        errors.append(FieldError("required", "spec.names", None, "group, names.plural and names.kind are required"))
    elif name != f"{res.plural}.{res.group}":
        errors.append(FieldError("invalid", "metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not res.versions:
        errors.append(FieldError("required", "spec.versions", None, "must have exactly one version marked as storage"))
    if errors:
        raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, errors)
    names = dict(crd["spec"]["names"])
    names.setdefault("singular", res.singular)
    names.setdefault("listKind", f"{res.kind}List")
    conditions = [{"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": crd["metadata"]
                   .get("creationTimestamp")} for t, r, m in (
        ("NamesAccepted", "NoConflicts", "no conflicts found"),
        ("Established", "InitialNamesAccepted", "the initial names have been accepted"))]
    crd["status"] = {"acceptedNames": names, "conditions": conditions, "storedVersions": res.versions[:1]}
