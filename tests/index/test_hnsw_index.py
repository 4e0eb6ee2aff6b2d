"""HnswIndex: recall, updates, removal, validation; int8 candidates ranked by the engine."""

from __future__ import annotations

import numpy as np
import pytest
from index_oracle import index_distances as exact_distances

from shoal import models as m
from shoal.engine.search import rank_candidates
from shoal.engine.state import VectorColumn
from shoal.errors import InvalidConfig, InvalidQuery, WrongVectorSize
from shoal.index.errors import UnsupportedMetric
from shoal.index.hnsw import HnswIndex
from shoal.index.metrics import hnsw_supports
from shoal.index.quantize import OFFSET, Int8Quantizer

N, DIM, K = 2000, 32, 10


def unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return unit(rng.standard_normal((N, DIM))), unit(rng.standard_normal((100, DIM)))


def truth(base: np.ndarray, queries: np.ndarray, metric: str, k: int = K) -> np.ndarray:
    dist = exact_distances(np.broadcast_to(base, (len(queries), *base.shape)), queries, metric)
    out: np.ndarray = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return out


def recall(found: np.ndarray, expected: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, expected, strict=True))
    return hits / expected.size


@pytest.mark.parametrize("dtype", ["f16", "bf16", "f32", "i8"])
@pytest.mark.parametrize("metric", ["Cosine", "Euclid", "Dot"])
def test_recall_at_ef_64(data: tuple[np.ndarray, np.ndarray], metric: str, dtype: str) -> None:
    base, queries = data
    if metric != "Cosine":  # non-unit vectors exercise the Euclid / Dot scaling paths
        base = base * np.linspace(0.5, 2.0, N, dtype=np.float32)[:, None]
    index = HnswIndex(DIM, metric, dtype=dtype)
    index.add(np.arange(N), base)
    assert len(index) == N
    rows, dists = index.search(queries, K, ef=64)
    assert rows.shape == dists.shape == (len(queries), K)
    assert recall(rows, truth(base, queries, metric)) >= 0.95
    assert (np.diff(dists, axis=1) >= -1e-3).all()  # nearest first
    # Reported distances approximate the exact float32 ones (f16 / bf16 / int8 storage).
    exact = exact_distances(base[rows], queries, metric)
    tol = 0.05 * max(1.0, float(np.abs(exact).max()))
    assert np.abs(exact - dists).max() < tol


def test_int8_rescoring_recovers_recall(data: tuple[np.ndarray, np.ndarray]) -> None:
    """The engine ranks 4 x k int8 candidates by their exact float32 scores."""
    base, queries = data
    index = HnswIndex(DIM, "Cosine", dtype="i8")
    index.add(np.arange(N), base)
    cand, _ = index.search(queries, 4 * K, ef=64)
    col = VectorColumn(m.VectorParams(size=DIM, distance="Cosine"), N)
    col.fill(0, base)
    ranked = rank_candidates(
        col,
        cand,
        cand >= 0,
        queries,
        np.full(len(queries), -2),
        np.full(len(queries), 4 * K),
        [K] * len(queries),
    )
    rows = np.stack([hits.rows for hits in ranked])  # type: ignore[union-attr]
    dists = 1.0 - np.stack([hits.scores for hits in ranked])  # type: ignore[union-attr]
    expected = truth(base, queries, "Cosine")
    assert recall(rows, expected) >= recall(index.search(queries, K, ef=64)[0], expected)
    assert recall(rows, expected) >= 0.97
    np.testing.assert_allclose(dists, exact_distances(base[rows], queries, "Cosine"), atol=1e-5)


def test_update_is_reflected(data: tuple[np.ndarray, np.ndarray]) -> None:
    base, queries = data
    index = HnswIndex(DIM, "Cosine")
    index.add(np.arange(N), base)
    # Row 7 now holds the first query's vector: it must come back first, at distance ~0.
    index.add(np.array([7]), queries[:1])
    assert len(index) == N
    rows, dists = index.search(queries[0], K)
    assert rows[0, 0] == 7 and abs(dists[0, 0]) < 1e-3
    # A batch repeating a row keeps the last vector.
    index.add(np.array([8, 8]), np.stack([queries[1], queries[2]]))
    rows, _ = index.search(queries[2], 1)
    assert rows[0, 0] == 8


@pytest.mark.parametrize(
    "dtype, tolerance", [("f16", 1e-3), ("bf16", 8e-3), ("f32", 0.0), ("i8", 2e-2)]
)
def test_vectors_are_what_the_index_holds(
    data: tuple[np.ndarray, np.ndarray], dtype: str, tolerance: float
) -> None:
    base, queries = data
    index = HnswIndex(DIM, "Cosine", dtype=dtype)
    index.add(np.arange(N), base)
    index.add(np.array([7]), queries[:1])  # replaced: the new vector is held
    index.remove(np.array([9]))
    held = index.vectors(np.array([0, 7, 9, N + 5]))
    assert held.shape == (4, DIM) and held.dtype == np.float32
    assert np.abs(held[0] - base[0]).max() <= tolerance
    assert np.abs(held[1] - queries[0]).max() <= tolerance
    assert np.isnan(held[2:]).all()  # removed, never added


def test_removed_rows_never_returned(data: tuple[np.ndarray, np.ndarray]) -> None:
    base, queries = data
    index = HnswIndex(DIM, "Cosine")
    index.add(np.arange(N), base)
    removed = np.arange(0, N, 2)
    assert index.remove(removed) == len(removed)
    assert index.remove(removed[:10]) == 0  # already gone: ignored
    assert len(index) == N - len(removed)
    assert not index.contains(removed).any() and index.contains(np.array([1, 3])).all()
    rows, _ = index.search(queries, 50, ef=100)
    assert not np.isin(rows, removed).any()
    assert (rows >= 0).all()
    kept = np.arange(1, N, 2)
    assert recall(rows[:, :K], kept[truth(base[kept], queries, "Cosine")]) >= 0.95
    # Freed rows are reused by the engine: adding them back works.
    index.add(removed[:5], base[removed[:5]])
    assert index.contains(removed[:5]).all()


def test_small_and_empty_cases() -> None:
    index = HnswIndex(4, "Euclid")
    rows, dists = index.search(np.zeros((3, 4), np.float32), 5)
    assert (rows == -1).all() and np.isinf(dists).all()
    index.add(np.array([10, 20]), np.eye(4, dtype=np.float32)[:2])
    rows, dists = index.search(np.array([1.0, 0, 0, 0], np.float32), 5)
    assert rows.shape == (1, 5)
    assert rows[0, :2].tolist() == [10, 20] and (rows[0, 2:] == -1).all()
    np.testing.assert_allclose(dists[0, :2], [0.0, 2.0], atol=1e-3)
    assert index.search(np.zeros(4, np.float32), 0)[0].shape == (1, 0)
    assert index.memory_usage > 0
    empty_i8 = HnswIndex(4, "Cosine", dtype="i8")
    assert (empty_i8.search(np.ones(4, np.float32), 3)[0] == -1).all()


def test_manhattan_is_unsupported() -> None:
    assert not hnsw_supports(m.Distance.MANHATTAN)
    assert hnsw_supports(m.Distance.COSINE) and hnsw_supports("Dot")
    with pytest.raises(UnsupportedMetric, match="Manhattan"):
        HnswIndex(8, m.Distance.MANHATTAN)
    with pytest.raises(UnsupportedMetric):
        HnswIndex(8, "Hamming")


def test_bad_inputs_raise_typed_errors() -> None:
    with pytest.raises(InvalidConfig, match="dtype"):
        HnswIndex(8, "Cosine", dtype="f64")
    with pytest.raises(InvalidConfig, match="m="):
        HnswIndex(8, "Cosine", m=1)
    with pytest.raises(InvalidConfig, match="dim="):
        HnswIndex(0, "Cosine")
    index = HnswIndex(8, "Cosine")
    with pytest.raises(WrongVectorSize):
        index.add(np.array([0]), np.zeros((1, 7), np.float32))
    with pytest.raises(InvalidQuery, match=">= 0"):
        index.add(np.array([-1]), np.zeros((1, 8), np.float32))
    with pytest.raises(InvalidQuery, match="keys but"):
        index.add(np.array([0, 1]), np.zeros((1, 8), np.float32))
    with pytest.raises(WrongVectorSize):
        index.search(np.zeros((2, 9), np.float32), 3)
    with pytest.raises(InvalidQuery, match="ef"):
        index.search(np.zeros(8, np.float32), 3, ef=0)


def test_int8_needs_a_bulk_first_batch_or_a_quantizer(data: tuple[np.ndarray, np.ndarray]) -> None:
    base = data[0]
    index = HnswIndex(DIM, "Cosine", dtype="i8")
    with pytest.raises(InvalidConfig, match=">= 256"):
        index.add(np.arange(10), base[:10])
    assert len(index) == 0
    fitted = Int8Quantizer.fit(base, mode=OFFSET)
    index = HnswIndex(DIM, "Cosine", dtype="i8", quantizer=fitted)
    index.add(np.arange(10), base[:10])  # small batches are fine with a given quantizer
    assert index.quantizer is fitted and len(index) == 10
    with pytest.raises(InvalidConfig, match="symmetric"):
        HnswIndex(DIM, "Dot", dtype="i8", quantizer=fitted)
    with pytest.raises(InvalidConfig, match="quantizer"):
        HnswIndex(DIM, "Cosine", dtype="f16", quantizer=fitted)
