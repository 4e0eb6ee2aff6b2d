"""Errors of the ANN index: what the engine catches to fall back to exact search or rebuild.

They subclass ``shoal.errors`` classes so anything that escapes still maps to an HTTP status,
but the engine is expected to handle every one of them itself: the index is derived data.
"""

from __future__ import annotations

from shoal.errors import InvalidConfig, StorageError


class UnsupportedMetric(InvalidConfig):
    """The HNSW backend has no kernel for this distance; the engine must use exact search."""

    def __init__(self, metric: str) -> None:
        super().__init__(
            f"Wrong input: the HNSW index does not support distance {metric!r}; "
            "expected one of 'Cosine', 'Euclid', 'Dot' (exact search serves the rest)"
        )
        self.metric = metric


class SnapshotError(StorageError):
    """An index snapshot cannot be used; rebuild the index from storage."""


class SnapshotMissing(SnapshotError):
    """No snapshot (index file or manifest) at the given path."""


class SnapshotCorrupt(SnapshotError):
    """The snapshot is torn or damaged: bad manifest, wrong size or checksum, unreadable index."""


class SnapshotMismatch(SnapshotError):
    """The snapshot was built with another configuration (dim, metric, dtype, m, ...)."""


class SnapshotStale(SnapshotError):
    """The snapshot is intact but older (or newer) than the data: its watermark differs."""

    def __init__(self, found: int, expected: int) -> None:
        super().__init__(
            f"index snapshot is stale: its watermark is {found}, the data's is {expected}"
        )
        self.found, self.expected = found, expected


__all__ = [
    "SnapshotCorrupt",
    "SnapshotError",
    "SnapshotMismatch",
    "SnapshotMissing",
    "SnapshotStale",
    "UnsupportedMetric",
]
