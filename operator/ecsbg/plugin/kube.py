"""The plugin's Kubernetes I/O (pykube-ng): connection, the release resource, its Events, annotation patches."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pykube
import requests as http
import yaml

GROUP_VERSION = "ecsbg.dev/v1alpha1"


class PluginError(Exception):
    """A failure to report to the user in one line (exit code 1)."""


class EcsBlueGreenRelease(pykube.objects.NamespacedAPIObject):
    version = GROUP_VERSION
    endpoint = "ecsbluegreenreleases"
    kind = "EcsBlueGreenRelease"


class EcsReleaseWave(pykube.objects.NamespacedAPIObject):
    version = GROUP_VERSION
    endpoint = "ecsreleasewaves"
    kind = "EcsReleaseWave"


# Keys of a kubeconfig entry that name files: kubectl resolves them relative to the file they appear in.
_FILE_KEYS = {"clusters": ("certificate-authority",), "users": ("client-certificate", "client-key", "tokenFile")}
_SECTIONS = (("clusters", "cluster"), ("contexts", "context"), ("users", "user"))


def _kubeconfig_files(explicit: str | None) -> list[Path]:
    """--kubeconfig, else every existing file of KUBECONFIG (kubectl merges them), else ~/.kube/config."""
    if explicit:
        return [Path(explicit).expanduser()]
    listed = [Path(c).expanduser() for c in os.environ.get("KUBECONFIG", "").split(os.pathsep) if c]
    existing = [path for path in listed if path.is_file()]
    if existing:
        return existing
    default = Path("~/.kube/config").expanduser()
    return [default] if default.is_file() and not listed else []


def merge_kubeconfigs(files: list[Path]) -> dict[str, Any]:
    """kubectl's merge (client-go clientcmd): the first file that sets current-context wins, and the first
    file that defines a cluster, context or user by name wins; relative file paths are made absolute against
    the file they come from, so a merged entry keeps pointing at the right certificate."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [], "users": []}
    seen: dict[str, set[str]] = {section: set() for section, _ in _SECTIONS}
    for path in files:
        doc = yaml.safe_load(path.read_text()) or {}
        if not isinstance(doc, dict):
            raise PluginError(f"cannot load kubeconfig {path}: not a kubeconfig mapping")
        if doc.get("current-context") and "current-context" not in merged:
            merged["current-context"] = doc["current-context"]
        for section, inner in _SECTIONS:
            for entry in doc.get(section) or []:
                name = entry.get("name")
                if name in seen[section]:
                    continue
                seen[section].add(name)
                body = dict(entry.get(inner) or {})
                for key in _FILE_KEYS.get(section, ()):
                    if body.get(key) and not Path(body[key]).expanduser().is_absolute():
                        body[key] = str(path.parent / body[key])
                merged[section].append({"name": name, inner: body})
    return merged


def connect(kubeconfig: str | None, context: str | None) -> tuple[pykube.HTTPClient, str]:
    """(client, the context's default namespace). In a pod without a kubeconfig: the service account."""
    files = _kubeconfig_files(kubeconfig)
    where = os.pathsep.join(str(f) for f in files)
    try:
        if not files:
            if kubeconfig or os.environ.get("KUBECONFIG"):
                raise FileNotFoundError(kubeconfig or os.environ["KUBECONFIG"])
            config = pykube.KubeConfig.from_service_account()
        else:
            config = pykube.KubeConfig(merge_kubeconfigs(files))
        if context:
            if context not in config.contexts:
                raise PluginError(f'context "{context}" not found in {where}')
            config.set_current_context(context)
        return pykube.HTTPClient(config, timeout=30), config.namespace
    except FileNotFoundError:
        raise PluginError("no kubeconfig found: set KUBECONFIG or pass --kubeconfig") from None
    except (pykube.exceptions.PyKubeError, KeyError, yaml.YAMLError) as error:
        raise PluginError(f"cannot load kubeconfig {where}: {error}") from None


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


def get_wave(api: pykube.HTTPClient, namespace: str, name: str) -> EcsReleaseWave:
    query = EcsReleaseWave.objects(api, namespace=namespace)
    try:
        return _call(f"reading {name}", query.get_by_name, name)
    except pykube.exceptions.ObjectDoesNotExist:
        raise PluginError(f'ecsreleasewave "{name}" not found in namespace "{namespace}"') from None


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
