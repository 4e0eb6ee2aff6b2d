"""bench/synthetic.py: the benchmarks' data is seeded, prefix-stable, and its ground truth
exact (the parity figures in BENCHMARKS.md rest on these properties)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from synthetic import CHUNK, TopicMixture, exact_top_k

SMALL = {"dim": 24, "topics": 30}


def test_same_seed_same_vectors_whatever_the_blocks() -> None:
    n = CHUNK + 1500  # crosses a chunk boundary
    whole = TopicMixture(seed=3, **SMALL).base(n)
    blocks = [b for _, b in TopicMixture(seed=3, **SMALL).stream(n, block=1000)]
    assert np.array_equal(np.concatenate(blocks), whole)
    starts = [s for s, _ in TopicMixture(seed=3, **SMALL).stream(n, block=1000)]
    assert starts == list(range(0, n, 1000))


def test_base_of_n_is_a_prefix_of_base_of_more() -> None:
    data = TopicMixture(seed=3, **SMALL)
    assert np.array_equal(data.base(CHUNK + 10), data.base(2 * CHUNK + 7)[: CHUNK + 10])
    assert np.array_equal(data.queries(5), data.queries(50)[:5])


def test_seeds_and_streams_differ() -> None:
    a, b = TopicMixture(seed=0, **SMALL), TopicMixture(seed=1, **SMALL)
    assert not np.allclose(a.base(100), b.base(100))
    assert not np.isin(a.queries(100), a.base(5000)).all(axis=1).any()


def test_unit_float32_rows_of_the_requested_shape() -> None:
    data = TopicMixture(seed=0, **SMALL)
    base = data.base(3000)
    assert base.shape == (3000, 24) and base.dtype == np.float32
    assert np.allclose(np.linalg.norm(base, axis=1), 1.0, atol=1e-5)
    assert data.base(0).shape == (0, 24) and data.queries(0).shape == (0, 24)


def test_clustered_and_anisotropic() -> None:
    data = TopicMixture(seed=0, dim=64, topics=50)
    base, queries = data.base(5000), data.queries(200)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(base), (2, 5000))
    random_cos = np.einsum("ij,ij->i", base[i], base[j]).mean()
    nearest_cos = (queries @ base.T).max(axis=1).mean()
    # A shared direction: unrelated vectors still lean together, like embeddings of a model.
    assert random_cos > 0.03
    # Topics: a query's nearest stored vector is far closer than a random one.
    assert nearest_cos > random_cos + 0.4
    # A decaying spectrum: the top tenth of the axes carries far more than a tenth of the
    # variance (38% here; isotropic vectors give 11%).
    spectrum = np.linalg.svd(base - base.mean(axis=0), compute_uv=False) ** 2
    assert spectrum[: 64 // 10].sum() > 0.25 * spectrum.sum()


def test_exact_top_k_is_the_float64_order_with_ties_by_row() -> None:
    data = TopicMixture(seed=2, **SMALL)
    base, queries = data.base(500), data.queries(40)
    base = np.concatenate([base, base[:50]])  # rows 500.. tie with rows 0..49
    truth = exact_top_k(base, queries, k=12)
    scores = queries.astype(np.float64) @ base.astype(np.float64).T
    expected = np.lexsort((np.broadcast_to(np.arange(len(base)), scores.shape), -scores))
    assert np.array_equal(truth, expected[:, :12])


def test_exact_top_k_bounds() -> None:
    base = TopicMixture(seed=0, **SMALL).base(20)
    queries = base[:3]
    assert exact_top_k(base, queries, k=0).shape == (3, 0)
    assert np.array_equal(exact_top_k(base, queries, k=20)[:, 0], [0, 1, 2])
    with pytest.raises(ValueError, match=r"0\.\.20"):
        exact_top_k(base, queries, k=21)
