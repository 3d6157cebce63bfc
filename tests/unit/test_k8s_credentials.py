"""ecsbg.k8s.credentials: the service account (token re-read when the kubelet rotates it), kubeconfig files (the
current context, first value wins, paths relative to the file), exec credential plugins (run once per token
lifetime), and kopf logged in from the same place (k8s.login)."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from ecsbg.k8s import credentials
from ecsbg.k8s.credentials import CredentialsError, from_kubeconfig, in_cluster, load
from ecsbg.k8s.rest import RestClient
from tests.fakes.apiserver import StubApi


def kubeconfig(path: Path, current: str, contexts: dict, clusters: dict, users: dict) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "contexts": [{"name": n, "context": c} for n, c in contexts.items()],
        "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
        "users": [{"name": n, "user": u} for n, u in users.items()]}))
    return path


def test_the_current_context_names_server_user_and_namespace(tmp_path: Path):
    (tmp_path / "certs").mkdir()
    path = kubeconfig(tmp_path / "config", "prod",
                      {"dev": {"cluster": "a", "user": "u1"}, "prod": {"cluster": "b", "user": "u2", "namespace": "shop"}},
                      {"a": {"server": "https://a:6443"},
                       "b": {"server": "https://b:6443/", "certificate-authority": "certs/ca.crt",
                             "insecure-skip-tls-verify": True, "tls-server-name": "api.b"}},
                      {"u1": {"token": "one"}, "u2": {"token": "two"}})
    creds = from_kubeconfig(str(path))
    assert (creds.server, creds.namespace, creds.insecure, creds.tls_server_name) == (
        "https://b:6443", "shop", True, "api.b")
    assert creds.token is not None and creds.token.get() == ("two", None)
    assert creds.ca_file == str(tmp_path.resolve() / "certs" / "ca.crt"), "relative to the kubeconfig file"


def test_several_kubeconfig_files_merge_with_the_first_value_winning(tmp_path: Path):
    first = kubeconfig(tmp_path / "first", "ctx", {"ctx": {"cluster": "c", "user": "u"}}, {}, {"u": {"token": "mine"}})
    second = kubeconfig(tmp_path / "second", "other", {"ctx": {"cluster": "x", "user": "x"}},
                        {"c": {"server": "http://c:8080"}}, {"u": {"token": "theirs"}})
    creds = from_kubeconfig(os.pathsep.join([str(first), str(tmp_path / "missing"), str(second)]))
    assert creds.server == "http://c:8080" and creds.token.get()[0] == "mine"
    with pytest.raises(CredentialsError, match="no such file"):
        from_kubeconfig(str(tmp_path / "missing"))


def test_a_token_file_is_read_again_once_replaced(tmp_path: Path):
    token = tmp_path / "token"
    token.write_text("first\n")
    path = kubeconfig(tmp_path / "config", "c", {"c": {"cluster": "c", "user": "u"}},
                      {"c": {"server": "http://c"}}, {"u": {"tokenFile": "token"}})
    source = from_kubeconfig(str(path)).token
    assert source.get() == ("first", None)
    rotated = tmp_path / "token.new"
    rotated.write_text("second\n")
    os.replace(rotated, token)  # as the kubelet swaps a projected token in
    assert source.get() == ("second", None)


def test_the_service_account_in_a_pod(tmp_path: Path):
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert in_cluster(tmp_path, env) is None, "no token file: not in a pod"
    (tmp_path / "token").write_text("sa-1")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "namespace").write_text("ecsbg-system\n")
    creds = in_cluster(tmp_path, env)
    assert (creds.server, creds.ca_file, creds.namespace) == (
        "https://10.0.0.1:443", str(tmp_path / "ca.crt"), "ecsbg-system")
    assert creds.token.get()[0] == "sa-1"
    (tmp_path / "token.new").write_text("sa-2")
    os.replace(tmp_path / "token.new", tmp_path / "token")
    assert creds.token.get()[0] == "sa-2", "a rotated token is used at the next request"
    assert in_cluster(tmp_path, {}) is None, "no KUBERNETES_SERVICE_HOST: not in a pod"
    ipv6 = in_cluster(tmp_path, {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"})
    assert ipv6.server == "https://[fd00::1]:443"


def test_outside_a_pod_load_reads_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    path = kubeconfig(tmp_path / "config", "c", {"c": {"cluster": "c", "user": "u"}},
                      {"c": {"server": "http://c"}}, {"u": {}})
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert load().server == "http://c" and load().token is None
    monkeypatch.setenv("KUBECONFIG", "")
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    with pytest.raises(CredentialsError, match="no service account"):
        load()


def plugin(tmp_path: Path, expires_in: float | None, *, fail: bool = False) -> Path:
    """An exec credential plugin: counts its runs, records its environment, answers an ExecCredential."""
    script = tmp_path / "bin" / "get-token"
    script.parent.mkdir(exist_ok=True)
    expiry = "" if expires_in is None else (datetime.now(UTC) + timedelta(seconds=expires_in)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    script.write_text(f"""#!{sys.executable}
import json, os, pathlib, sys
runs = pathlib.Path({str(tmp_path / "runs")!r})
runs.write_text(str(int(runs.read_text() if runs.exists() else 0) + 1))
pathlib.Path({str(tmp_path / "env.json")!r}).write_text(json.dumps(dict(os.environ)))
if {fail!r}:
    print("no credentials for the cluster", file=sys.stderr)
    sys.exit(3)
status = {{"token": "exec-" + runs.read_text()}}
if {expiry!r}:
    status["expirationTimestamp"] = {expiry!r}
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": status}}))
""")
    script.chmod(0o755)
    return kubeconfig(tmp_path / "config", "eks", {"eks": {"cluster": "c", "user": "u"}},
                      {"c": {"server": "https://eks.example:443", "certificate-authority-data": "LS0tLS1CRUdJTg=="}},
                      {"u": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "./bin/get-token",
                                      "args": ["eks", "get-token"], "env": [{"name": "AWS_PROFILE", "value": "prod"}],
                                      "provideClusterInfo": True}}})


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_an_exec_plugin_runs_once_per_token_lifetime(tmp_path: Path):
    path = plugin(tmp_path, expires_in=900)
    source = from_kubeconfig(str(path)).token
    token, expires = source.get()
    assert token == "exec-1" and expires is not None and expires > datetime.now(UTC) + timedelta(seconds=800)
    assert source.get()[0] == "exec-1" and runs(tmp_path) == 1, "cached until it expires"
    assert from_kubeconfig(str(path)).token.get()[0] == "exec-1", "every client of the process shares the cache"
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["AWS_PROFILE"] == "prod"
    info = json.loads(env["KUBERNETES_EXEC_INFO"])
    assert info["apiVersion"] == "client.authentication.k8s.io/v1beta1" and info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == "https://eks.example:443"
    source.invalidate()  # what a 401 does
    assert source.get()[0] == "exec-2"


def test_an_exec_token_about_to_expire_is_fetched_anew(tmp_path: Path):
    source = from_kubeconfig(str(plugin(tmp_path, expires_in=5))).token  # within the 10 s margin
    assert source.get()[0] == "exec-1" and source.get()[0] == "exec-2"


def test_an_exec_token_without_expiry_is_kept(tmp_path: Path):
    source = from_kubeconfig(str(plugin(tmp_path, expires_in=None))).token
    assert source.get() == ("exec-1", None) and source.get() == ("exec-1", None)


def test_a_failing_exec_plugin_says_why(tmp_path: Path):
    source = from_kubeconfig(str(plugin(tmp_path, expires_in=900, fail=True))).token
    with pytest.raises(CredentialsError, match="exited 3: no credentials for the cluster"):
        source.get()


def test_our_client_sends_the_exec_token(tmp_path: Path):
    server = StubApi()
    try:
        path = plugin(tmp_path, expires_in=900)
        config = yaml.safe_load(path.read_text())
        config["clusters"][0]["cluster"] = {"server": server.url}
        path.write_text(yaml.safe_dump(config))
        RestClient(from_kubeconfig(str(path))).get("/version")
    finally:
        server.close()
    assert server.seen[0].headers["Authorization"] == "Bearer exec-1"


def test_kopf_logs_in_with_the_same_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from ecsbg.k8s.login import connection_info

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(plugin(tmp_path, expires_in=900)))
    info = connection_info()
    assert (info.server, info.token, info.ca_data) == ("https://eks.example:443", "exec-1", "-----BEGIN")
    assert info.expiration is not None, "kopf logs in again before the plugin's token expires"
    import kopf

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(kopf.LoginError, match="no such file"):
        connection_info()


def test_an_absolute_path_in_a_kubeconfig_stays_absolute(tmp_path: Path):
    assert credentials._path("/etc/ca.crt", tmp_path) == "/etc/ca.crt"
