"""HNSW settings of a vector: what its collection and vector configurations ask for,
resolved and checked (``hnsw_config``, ``quantization_config``, ``optimizers_config``), and
the crossovers that decide between exact search and the index when none is configured.

The indexer (``shoal.engine.ann``) builds indexes with these settings, the query pipeline
(``shoal.engine.query``) reads the thresholds and the default search ef, and
``Database.create_collection`` refuses a collection whose settings do not resolve.

The crossover constants were measured by ``bench/bench_ann.py`` (BENCHMARKS.md, section
"ANN index (issue 6)"), dim 384, f16 HNSW at ef=64, on a shared 2-core machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shoal import models as m
from shoal.errors import InvalidConfig
from shoal.index import HnswConfig, hnsw_supports
from shoal.index.hnsw import DEFAULT_EF_CONSTRUCT, DEFAULT_M, DTYPES, MIN_FIT_ROWS
from shoal.index.metrics import metric_name
from shoal.index.quantize import DEFAULT_PERCENTILE

# Collections below these sizes are searched exactly when no full_scan_threshold is set.
# Measured (dim 384, f16, ef=64): one query broke even at ~5k vectors (exact/HNSW time 1.01
# at 5k, 1.9x slower at 10k); a batch of 64 with single-threaded BLAS at ~4k (0.67 at 2k,
# 1.23 at 5k). Multi-threaded OpenBLAS on a loaded machine made exact batches slower than
# HNSW even at 1k, so treat these as upper bounds. Qdrant's default full_scan_threshold
# (10,000 KB = 6,667 vectors at dim 384) lands in the same place.
EXACT_BELOW_SINGLE = 5_000
EXACT_BELOW_BATCH = 4_000
BATCH_FROM = 8  # queries in one call from which the batch crossover applies

# With a filter matching less than this share of the collection, post-filtered HNSW
# over-fetches k/share candidates per query and loses to scanning the matches exactly.
# Measured at 100k: at 10% HNSW post-filter had recall 0.974, was faster for single queries
# (0.6 vs 8 ms) and close for batches (1,613 vs 1,960 QPS); at 2% it fell to recall 0.935
# and 134 QPS against 12,451 QPS for exact over the 2k matches.
MIN_POST_FILTER_SHARE = 0.1


def vectors_kb(n_vectors: int, dim: int) -> float:
    """Size of n float32 vectors in kilobytes, the unit of Qdrant's full_scan_threshold."""
    return n_vectors * dim * 4 / 1024


@dataclass(frozen=True)
class AnnSettings:
    """HNSW settings of one vector, resolved from the collection and vector configs.

    Attributes:
        enabled: an index may be built (a supported distance and ``m != 0``).
        dim, metric: of the vector.
        m, ef_construct: graph parameters (vector-level ``hnsw_config`` overrides the
            collection's, as in Qdrant).
        full_scan_threshold_kb: below this many KB of vectors search exactly; None uses the
            crossover measured on this machine (``EXACT_BELOW_SINGLE`` above).
        dtype: index storage type: "f16" (default), "bf16", "f32" or "i8".
        threads: ``hnsw_config.max_indexing_threads``: threads a bulk build uses (0: every
            core); a small backlog is always indexed with one.
        percentile: the int8 scaling clips each dimension at this percentile (the scalar
            quantization's ``quantile`` times 100).
        indexing_threshold_kb: ``optimizers_config.indexing_threshold``: no index below this
            many KB of vectors, none at all for 0; None: ``full_scan_threshold_kb`` decides.
    """

    enabled: bool
    dim: int
    metric: str
    m: int
    ef_construct: int
    full_scan_threshold_kb: int | None
    dtype: str
    threads: int = 0
    percentile: float = DEFAULT_PERCENTILE
    indexing_threshold_kb: int | None = None

    def hnsw_config(self) -> HnswConfig:
        """The configuration a snapshot must have been built with to be loaded."""
        return HnswConfig(self.dim, self.metric, self.m, self.ef_construct, self.dtype)

    def wants_index(self, n_vectors: int) -> bool:
        """Whether a column of ``n_vectors`` is big enough to be worth an index."""
        if not self.enabled or n_vectors <= 0:
            return False
        if self.dtype == "i8" and n_vectors < MIN_FIT_ROWS:
            return False  # too few vectors to fit the int8 scaling on
        if self.indexing_threshold_kb is not None and (
            self.indexing_threshold_kb == 0  # Qdrant's "never index"
            or vectors_kb(n_vectors, self.dim) < self.indexing_threshold_kb
        ):
            return False
        if self.full_scan_threshold_kb is not None:
            return vectors_kb(n_vectors, self.dim) >= self.full_scan_threshold_kb
        return n_vectors >= EXACT_BELOW_BATCH


def resolve_settings(config: m.CreateCollection, params: m.VectorParams) -> AnnSettings:
    """HNSW settings of one vector of a collection.

    Args:
        config: the collection's configuration (its ``hnsw_config`` and
            ``quantization_config`` are the defaults).
        params: the vector's parameters (its own ``hnsw_config`` / ``quantization_config``
            override the collection's).

    Returns:
        The resolved settings.

    Raises:
        InvalidConfig: for out-of-range HNSW parameters or an unknown quantization config.
    """
    coll = config.hnsw_config or m.HnswConfigDiff()
    own = params.hnsw_config or m.HnswConfigDiff()

    def pick(name: str) -> Any:
        value = getattr(own, name)
        return value if value is not None else getattr(coll, name)

    links = pick("m")
    links = DEFAULT_M if links is None else links
    ef_construct = pick("ef_construct")
    ef_construct = DEFAULT_EF_CONSTRUCT if ef_construct is None else ef_construct
    threshold = pick("full_scan_threshold")
    # Qdrant's m=0 switches the graph off: the vector is always searched exactly.
    if links != 0 and not 2 <= links <= 1024:
        raise InvalidConfig(
            f"Wrong input: hnsw_config.m={links} is out of range; expected 0 (no index) or 2..1024"
        )
    if not 4 <= ef_construct <= 1 << 20:
        raise InvalidConfig(
            f"Wrong input: hnsw_config.ef_construct={ef_construct} is out of range 4..{1 << 20}"
        )
    if threshold is not None and threshold < 0:
        raise InvalidConfig(f"Wrong input: hnsw_config.full_scan_threshold={threshold} is < 0")
    threads = pick("max_indexing_threads") or 0
    if not 0 <= threads <= 4096:
        raise InvalidConfig(
            f"Wrong input: hnsw_config.max_indexing_threads={threads} is out of range 0..4096"
        )
    quantization = params.quantization_config
    if quantization is None:
        quantization = config.quantization_config
    return AnnSettings(
        enabled=hnsw_supports(params.distance) and links != 0,
        dim=params.size,
        metric=metric_name(params.distance),
        m=links,
        ef_construct=ef_construct,
        full_scan_threshold_kb=threshold,
        dtype=index_dtype(quantization),
        threads=threads,
        percentile=_percentile(quantization),
        indexing_threshold_kb=_indexing_threshold(config.optimizers_config),
    )


def _percentile(quantization: dict[str, Any] | None) -> float:
    scalar = (quantization or {}).get("scalar")
    quantile = scalar.get("quantile") if isinstance(scalar, dict) else None
    if quantile is None:
        return DEFAULT_PERCENTILE
    if (
        isinstance(quantile, bool)
        or not isinstance(quantile, (int, float))
        or not (0.5 <= quantile <= 1.0)
    ):
        raise InvalidConfig(
            f"Wrong input: quantization_config.scalar.quantile={quantile!r}; expected a "
            "number in [0.5, 1] (Qdrant's range)"
        )
    return float(quantile) * 100.0


def _indexing_threshold(optimizers: dict[str, Any] | None) -> int | None:
    """``indexing_threshold`` in KB (0: no index), or None; ``max_optimization_threads=0``
    (Qdrant: optimizations disabled, so no segment gets an HNSW index and searches scan
    exactly) is 0 too. Any other ``max_optimization_threads`` is met as it is: Shoal runs
    at most one index build (its only optimization job) per collection at a time."""
    value = (optimizers or {}).get("indexing_threshold")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidConfig(
            f"Wrong input: optimizers_config.indexing_threshold={value!r}; expected an "
            "integer >= 0 (KB of vectors; 0: no index)"
        )
    jobs = (optimizers or {}).get("max_optimization_threads")
    if (
        jobs is not None
        and jobs != "auto"
        and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0)
    ):
        raise InvalidConfig(
            f"Wrong input: optimizers_config.max_optimization_threads={jobs!r}; expected an "
            "integer >= 0 (0: no optimizations) or 'auto'"
        )
    return 0 if jobs == 0 else value


def index_dtype(quantization: dict[str, Any] | None) -> str:
    """The index storage type a ``quantization_config`` asks for.

    Qdrant's ``{"scalar": {"type": "int8", ...}}`` gives "i8" (Shoal's own int8 scaling);
    ``{"shoal": {"index_dtype": "f16" | "bf16" | "f32" | "i8"}}`` (a Shoal extension) picks
    any. ``product`` and ``binary`` keep the default "f16": new collections cannot have them
    (``shoal.engine.support`` refuses them), collections created before that still open.
    Final scores are always computed from the float32 vectors, whatever the index stores.

    Raises:
        InvalidConfig: an unknown or malformed quantization config.
    """
    if not quantization:
        return "f16"
    (kind, body), *rest = quantization.items()
    if rest or not isinstance(body, dict):
        raise InvalidConfig(
            f"Wrong input: quantization_config {quantization!r}; expected one of "
            "{'scalar': {...}}, {'product': {...}}, {'binary': {...}}, {'shoal': {...}}"
        )
    if kind == "scalar":
        if body.get("type") != "int8":
            raise InvalidConfig(
                f"Wrong input: scalar quantization type {body.get('type')!r}; expected 'int8'"
            )
        return "i8"
    if kind in ("product", "binary"):
        return "f16"
    if kind == "shoal" and body.get("index_dtype") in DTYPES:
        return str(body["index_dtype"])
    raise InvalidConfig(
        f"Wrong input: quantization_config {quantization!r}; expected scalar int8, product, "
        f"binary, or {{'shoal': {{'index_dtype': one of {DTYPES}}}}}"
    )
