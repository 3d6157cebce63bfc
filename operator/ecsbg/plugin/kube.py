"""The plugin's Kubernetes I/O (pykube-ng): connection, the release resource, its Events, annotation patches."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pykube
import requests as http

GROUP_VERSION = "ecsbg.dev/v1alpha1"


class PluginError(Exception):
    """A failure to report to the user in one line (exit code 1)."""


class EcsBlueGreenRelease(pykube.objects.NamespacedAPIObject):
    version = GROUP_VERSION
    endpoint = "ecsbluegreenreleases"
    kind = "EcsBlueGreenRelease"


def _kubeconfig_path(explicit: str | None) -> Path | None:
    """--kubeconfig, else the first existing file of KUBECONFIG (kubectl merges the list; the first file is
    where the current context normally lives), else ~/.kube/config."""
    if explicit:
        return Path(explicit).expanduser()
    for candidate in os.environ.get("KUBECONFIG", "").split(os.pathsep):
        if candidate and Path(candidate).expanduser().is_file():
            return Path(candidate).expanduser()
    default = Path("~/.kube/config").expanduser()
    return default if default.is_file() else None


def connect(kubeconfig: str | None, context: str | None) -> tuple[pykube.HTTPClient, str]:
    """(client, the context's default namespace). In a pod without a kubeconfig: the service account."""
    path = _kubeconfig_path(kubeconfig)
    try:
        if path is None:
            config = pykube.KubeConfig.from_service_account()
        else:
            config = pykube.KubeConfig.from_file(str(path))
        if context:
            if context not in config.contexts:
                raise PluginError(f'context "{context}" not found in {path}')
            config.set_current_context(context)
        return pykube.HTTPClient(config, timeout=30), config.namespace
    except FileNotFoundError:
        raise PluginError("no kubeconfig found: set KUBECONFIG or pass --kubeconfig") from None
    except (pykube.exceptions.PyKubeError, KeyError) as error:
        raise PluginError(f"cannot load kubeconfig {path}: {error}") from None


def _call(what: str, fn, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except pykube.exceptions.HTTPError as error:
        raise PluginError(f"{what}: {error}") from None
    except http.exceptions.RequestException as error:
        raise PluginError(f"{what}: cannot reach the Kubernetes API: {error}") from None


def get_release(api: pykube.HTTPClient, namespace: str, name: str) -> EcsBlueGreenRelease:
    query = EcsBlueGreenRelease.objects(api, namespace=namespace)
    try:
        return _call(f"reading {name}", query.get_by_name, name)
    except pykube.exceptions.ObjectDoesNotExist:
        raise PluginError(f'ecsbluegreenrelease "{name}" not found in namespace "{namespace}"') from None


def list_releases(api: pykube.HTTPClient, namespace: str | None) -> list[dict[str, Any]]:
    query = EcsBlueGreenRelease.objects(api, namespace=namespace if namespace else pykube.all)
    return [r.obj for r in _call("listing releases", lambda: list(query))]


def events_of(api: pykube.HTTPClient, release: EcsBlueGreenRelease) -> list[dict[str, Any]]:
    """core/v1 Events whose involvedObject is this release (this incarnation: matched by uid when it has one)."""
    meta = release.obj["metadata"]
    query = pykube.Event.objects(api, namespace=meta["namespace"]).filter(
        field_selector={"involvedObject.name": meta["name"], "involvedObject.kind": EcsBlueGreenRelease.kind}
    )
    events = [e.obj for e in _call("reading events", lambda: list(query))]
    # The field selector is an optimisation; filter again in case the server ignores it.
    return [e for e in events if _involves(e.get("involvedObject") or {}, meta)]


def _involves(ref: dict[str, Any], meta: dict[str, Any]) -> bool:
    if ref.get("kind") != EcsBlueGreenRelease.kind or ref.get("name") != meta["name"]:
        return False
    return not ref.get("uid") or not meta.get("uid") or ref["uid"] == meta["uid"]


def annotate(release: EcsBlueGreenRelease, key: str, value: str) -> None:
    """Merge-patch one annotation, guarded by the resourceVersion the request was checked against: if the
    release changed since (a new attempt, the hook approved by someone else), the API server answers 409."""
    patch = {
        "metadata": {
            "annotations": {key: value},
            "resourceVersion": release.obj["metadata"]["resourceVersion"],
        }
    }
    try:
        release.patch(patch)
    except pykube.exceptions.HTTPError as error:
        if error.code == 409:
            raise PluginError(
                "the release changed while the request was checked; run the command again"
            ) from None
        raise PluginError(f"patching {release.name}: {error}") from None
    except http.exceptions.RequestException as error:
        raise PluginError(f"patching {release.name}: cannot reach the Kubernetes API: {error}") from None
