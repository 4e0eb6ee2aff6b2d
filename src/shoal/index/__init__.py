"""Vector indexes: the HNSW ANN index (usearch) and its helpers.

Exact search lives in ``shoal.engine.search``; this package holds what the engine plugs in
beside it: ``hnsw.HnswIndex`` (keyed by the engine's row numbers), ``quantize`` (our int8
scaling), ``rescore`` (exact re-ranking of candidates), ``planner.choose`` (exact or HNSW)
and ``snapshot`` (crash-safe index files with a manifest and a watermark).
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
from shoal.index.planner import choose
from shoal.index.quantize import Int8Quantizer
from shoal.index.rescore import rescore
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
    "choose",
    "hnsw_supports",
    "read_manifest",
    "rescore",
]
