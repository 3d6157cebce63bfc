"""kopf logs in as the operator's own client does (k8s.credentials), and loads no other Kubernetes client.

kopf's bundled kubeconfig login (kopf.login_with_kubeconfig) cannot run `exec` credential plugins, which EKS
kubeconfigs use (`aws eks get-token`); its service-account login assumes https://kubernetes.default.svc. Ours
reads the same sources as k8s.rest, so kopf's watches and our writes always go to one server as one identity.
"""

from __future__ import annotations

import sys
from typing import Any

# kopf/_cogs/helpers/thirdparty.py imports these at kopf's own import whenever they are installed (for typing
# helpers and its piggybacking logins, neither of which the operator uses): the official client alone is about
# 59 MiB of RSS and half a second (issue 12). pykube-ng stays installed for the kubectl plugin.
OTHER_CLIENTS = ("kubernetes", "pykube")


def keep_other_clients_out() -> None:
    """Make `kubernetes` and `pykube` unimportable in this process, before kopf is first imported.

    Nothing of the operator needs them (k8s.rest, and `connection_info` for kopf). Once kopf is imported it has
    already looked, so then this does nothing: a process that embeds kopf after importing it (the tests) keeps
    whatever else it imports working."""
    if "kopf" in sys.modules:
        return
    for name in OTHER_CLIENTS:
        sys.modules.setdefault(name, None)  # type: ignore[assignment]  # None: `import name` raises ImportError


def connection_info(settings: Any = None, **_: Any) -> Any:
    """A kopf.ConnectionInfo (the body of the operator's @kopf.on.login handler). An exec plugin's token
    carries its expiry, so kopf logs in again before it ends; kopf also logs in again after a 401 (a rotated
    service account token is read anew then)."""
    import kopf

    from ecsbg.k8s.credentials import CredentialsError, load

    try:
        creds = load()
        token, expires = creds.token.get() if creds.token is not None else (None, None)
    except (CredentialsError, OSError) as exc:
        raise kopf.LoginError(str(exc)) from exc
    return kopf.ConnectionInfo(
        server=creds.server,
        ca_path=creds.ca_file,
        ca_data=creds.ca_data,
        insecure=creds.insecure or None,
        certificate_path=creds.cert_file,
        certificate_data=creds.cert_data,
        private_key_path=creds.key_file,
        private_key_data=creds.key_data,
        token=token,
        username=creds.username,
        password=creds.password,
        default_namespace=creds.namespace,
        expiration=expires,
        trust_env=bool(settings is not None and settings.networking.trust_env),
    )
