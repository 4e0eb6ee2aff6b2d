"""search.choose_method: exact for small collections, selective filters and explicit
requests."""

from __future__ import annotations

from shoal.engine.ann_settings import (
    EXACT_BELOW_BATCH,
    EXACT_BELOW_SINGLE,
    MIN_POST_FILTER_SHARE,
    vectors_kb,
)
from shoal.engine.search import choose_method as choose


def test_full_scan_threshold_is_in_kilobytes() -> None:
    assert vectors_kb(1000, 256) == 1000.0
    # 10,000 KB of 384-dim float32 vectors = 6,666.7 vectors (Qdrant's default threshold).
    assert choose(6_666, 1, 384, 10_000) == "exact"
    assert choose(6_667, 1, 384, 10_000) == "hnsw"
    assert choose(100, 1, 384, 0) == "hnsw"  # threshold 0: always the index


def test_measured_crossover_without_threshold() -> None:
    assert choose(EXACT_BELOW_SINGLE - 1, 1, 384, None) == "exact"
    assert choose(EXACT_BELOW_SINGLE, 1, 384, None) == "hnsw"
    assert choose(EXACT_BELOW_BATCH - 1, 64, 384, None) == "exact"
    assert choose(EXACT_BELOW_BATCH, 64, 384, None) == "hnsw"


def test_small_collections_and_requests_go_exact() -> None:
    assert choose(0, 1, 384, None) == "exact"
    assert choose(10, 1, 384, None) == "exact"
    assert choose(1_000_000, 1, 384, 10_000, exact_requested=True) == "exact"
    assert choose(1_000_000, 1, 384, 10_000, hnsw_available=False) == "exact"


def test_filters_use_estimated_matches() -> None:
    n = 1_000_000
    # Few matches: scan them exactly.
    assert choose(n, 1, 384, 10_000, estimated_matches=500) == "exact"
    # Many matches, but a small share of the collection: post-filtering would over-fetch.
    share = int(MIN_POST_FILTER_SHARE * n) - 1
    assert choose(n, 1, 384, 10_000, estimated_matches=share) == "exact"
    # A permissive filter: HNSW with over-fetch.
    assert choose(n, 1, 384, 10_000, estimated_matches=n // 2) == "hnsw"
    # Estimates outside [0, n] are clamped.
    assert choose(n, 1, 384, 10_000, estimated_matches=-5) == "exact"
    assert choose(n, 1, 384, 10_000, estimated_matches=10 * n) == "hnsw"
