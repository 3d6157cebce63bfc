"""FakeDigests: the ecsbg.aws.digests.ImageDigests seam in memory: tags a test pushes and moves, every lookup
recorded with the identity it was made as."""

from __future__ import annotations

from typing import Any


class FakeDigests:
    def __init__(self, tags: dict[str, str] | None = None) -> None:
        self.tags: dict[str, str] = dict(tags or {})  # image as referenced (with its tag) -> digest
        self.lookups: list[tuple[str, str, str | None]] = []  # (image, region, role) of each call
        self.transient: Exception | None = None  # raised by every lookup while set (throttling, a 503)

    async def digest(self, image: str, target: Any, credentials: tuple[tuple[str, str, str], ...] = ()) -> str:
        self.lookups.append((image, target.region, target.role_arn))
        if self.transient is not None:
            raise self.transient
        if image not in self.tags:
            raise LookupError(f"{image}: manifest unknown")
        return self.tags[image]
