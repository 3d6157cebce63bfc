"""The provider seam: one small Protocol, one implementation per outside system (web and prometheus in
ecsbg.analysis, cloudWatch in ecsbg.aws.cloudwatch: the AWS seam). Declared here, in the domain, so every layer
that implements it can import it.

A provider takes one measurement: it gets the metric's provider block with every argument substituted and
returns the `result` the CEL conditions see, or raises MeasurementError with a message that names the system
and what went wrong (it becomes the measurement's message and a Warning Event).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class MeasurementError(Exception):
    pass


class Provider(Protocol):
    async def measure(self, config: Mapping[str, Any], *, namespace: str) -> Any: ...
