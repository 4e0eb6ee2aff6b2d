"""Exact or HNSW: which search answers a query, from collection size and filter selectivity.

Exact search (one matrix product over the candidate rows) wins when there are few rows to
scan: it has no graph overhead, perfect recall, and batches turn into one matrix-matrix
product. HNSW wins once the scan grows; with a filter it has to over-fetch about k/share
candidates and drop the rest (usearch's Python binding has no in-graph filter), which stops
paying off for selective filters: then the matching rows are scanned exactly.

The crossover constants were measured by ``bench/bench_ann.py`` (BENCHMARKS.md, section
"ANN index (issue 6)"), dim 384, f16 HNSW at ef=64, on a shared 2-core machine.
"""

from __future__ import annotations

from typing import Literal

Plan = Literal["exact", "hnsw"]

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


def choose(
    n_vectors: int,
    n_queries: int,
    dim: int,
    full_scan_threshold_kb: int | None,
    estimated_matches: int | None = None,
    exact_requested: bool = False,
    *,
    hnsw_available: bool = True,
) -> Plan:
    """Pick the search method for a group of queries on one vector column.

    Args:
        n_vectors: live vectors in the column.
        n_queries: queries answered together (a coalesced batch).
        dim: vector dimension.
        full_scan_threshold_kb: the collection's ``hnsw_config.full_scan_threshold``, in
            kilobytes of vectors as in Qdrant: below it, search exactly. None uses the
            crossover measured on this machine (EXACT_BELOW_SINGLE / EXACT_BELOW_BATCH).
        estimated_matches: for a filtered query, the (estimated) number of matching rows;
            None for no filter.
        exact_requested: ``search_params.exact`` was set.
        hnsw_available: False when there is no index (not built yet, or the distance is
            Manhattan, which usearch cannot serve).

    Returns:
        "exact" to scan the (matching) rows, or "hnsw" to search the index (post-filtering
        with over-fetch when there is a filter).
    """
    if exact_requested or not hnsw_available or n_vectors <= 0:
        return "exact"
    candidates = (
        n_vectors if estimated_matches is None else min(max(estimated_matches, 0), n_vectors)
    )
    if full_scan_threshold_kb is not None:
        if vectors_kb(candidates, dim) < full_scan_threshold_kb:
            return "exact"
    elif candidates < (EXACT_BELOW_SINGLE if n_queries < BATCH_FROM else EXACT_BELOW_BATCH):
        return "exact"
    if estimated_matches is not None and candidates < MIN_POST_FILTER_SHARE * n_vectors:
        return "exact"
    return "hnsw"
