"""A local Kubernetes API with CRD schema enforcement, for the demo, the integration tests and the benchmark.

`from ecsbg_emulators.devcluster import DevCluster`. The import is lazy so that `ecsbg --help` does not load aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cluster import DevCluster

__all__ = ["DevCluster"]


def __getattr__(name: str):
    if name == "DevCluster":
        from .cluster import DevCluster

        return DevCluster
    raise AttributeError(name)
