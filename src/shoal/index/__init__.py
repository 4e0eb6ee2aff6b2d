"""Vector indexes: the HNSW ANN index (usearch) and its helpers.

Exact search and the choice between it and the index live in the engine
(``shoal.engine.search``, ``shoal.engine.query``); this package holds what the engine plugs
in beside them: ``hnsw.HnswIndex`` (keyed by the engine's point serials), ``quantize`` (our
int8 scaling), ``blas`` (BLAS threads per product) and ``snapshot`` (crash-safe index files
with a manifest and a watermark).
"""

from shoal.index.errors import (
    SnapshotCorrupt,
    SnapshotError,
    SnapshotMismatch,
    SnapshotMissing,
    SnapshotStale,
    UnsupportedMetric,
)
from shoal.index.hnsw import HnswConfig, HnswIndex
from shoal.index.metrics import hnsw_supports
from shoal.index.quantize import Int8Quantizer
from shoal.index.snapshot import SnapshotManifest, read_manifest

__all__ = [
    "HnswConfig",
    "HnswIndex",
    "Int8Quantizer",
    "SnapshotCorrupt",
    "SnapshotError",
    "SnapshotManifest",
    "SnapshotMismatch",
    "SnapshotMissing",
    "SnapshotStale",
    "UnsupportedMetric",
    "hnsw_supports",
    "read_manifest",
]
