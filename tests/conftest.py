"""Root conftest: shared fixtures come from plugin modules, one per outside system.

tests/plugins/k8s.py must set KUBECONFIG before anything imports kopf: kopf decides at import time whether to
register its kubeconfig login (../shared/reference/k8s-testing.md, section 4b). Plugins load before test modules.
"""

pytest_plugins = [
    "tests.plugins.k8s",
    "tests.plugins.apiserver",
    "tests.plugins.ecs",
    "tests.plugins.registry",
    "tests.plugins.receivers",
]
