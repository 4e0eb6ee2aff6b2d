"""Synthetic text-embedding-like vectors with exact ground truth, for Shoal's benchmarks.

Sentence embeddings are not spread evenly over the sphere, and an index that does well on
uniform random vectors can do badly on them. This generator draws vectors with the traits
that matter to a nearest-neighbour index:

- topics: every vector belongs to one of ``topics`` clusters, of uneven sizes and widths;
- anisotropy: variance is concentrated in a few directions (a decaying spectrum in a
  random basis), and every vector shares one common direction, so two unrelated vectors
  still have a small positive cosine, as embeddings from one model do;
- unit length: cosine, dot product and Euclidean distance rank neighbours alike.

Everything is seeded. Vectors are drawn in fixed chunks, each from its own random stream,
so the data depends only on the seed and the shape, never on block sizes, and ``base(n)``
is the first n rows of ``base(m)`` for any m > n. Queries are fresh draws from the same
mixture (not copies of stored vectors). ``BENCHMARKS.md`` ("Benchmark data") shows that
the defaults are as hard for an HNSW index as the reference data they replaced.

    from synthetic import TopicMixture, exact_top_k

    data = TopicMixture(dim=384, topics=1000, seed=0)
    base = data.base(100_000)                     # or: for start, block in data.stream(n)
    queries = data.queries(1_000)
    truth = exact_top_k(base, queries, k=10)      # ids of the 10 nearest, best first
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

CHUNK = 8192  # vectors per random stream
_BASE, _QUERIES = 1, 2  # stream ids
_RESCORE_MARGIN = 32  # float32 candidates beyond k re-ranked in float64


@dataclass(frozen=True)
class Shape:
    """The knobs that make the data easy or hard for an index.

    Attributes:
        decay: the spectrum's exponent: axis ``i`` has variance ``(1 + i / knee) ** -decay``
            (before normalising to a mean of 1). Higher is fewer effective dimensions.
        knee: how many leading axes keep nearly full variance.
        common: length of the direction every vector shares, relative to a topic centre.
        width: median spread of a topic around its centre, relative to the centre's length.
        width_sigma: log-normal sigma of the spreads (some topics are tight, some loose).
        size_sigma: log-normal sigma of the topics' shares of the vectors.
    """

    decay: float = 0.75
    knee: float = 2.0
    common: float = 0.36
    width: float = 0.89
    width_sigma: float = 0.2
    size_sigma: float = 0.7


class TopicMixture:
    """A seeded mixture of anisotropic topics on the unit sphere.

    Args:
        dim: vector length.
        topics: number of clusters.
        seed: everything drawn follows from it (and from ``dim``, ``topics``, ``shape``).
        shape: the data's difficulty; the defaults match the reference data's.
    """

    def __init__(
        self, dim: int = 384, topics: int = 1000, seed: int = 0, shape: Shape | None = None
    ) -> None:
        self.dim, self.topics, self.seed = dim, topics, seed
        self.shape = shape = shape or Shape()
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0, dim, topics]))
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        self._basis = (q * np.sign(np.diag(r))).astype(np.float32)  # a uniform rotation
        variance = (1.0 + np.arange(dim) / shape.knee) ** -shape.decay
        self._axis_sd = np.sqrt(variance / variance.mean()).astype(np.float32)
        centres = self._anisotropic(rng, topics)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        common = rng.standard_normal(dim)
        common *= shape.common / np.linalg.norm(common)
        self._centres = (centres + common.astype(np.float32)).astype(np.float32)
        # Noise of unit mean square length per vector, scaled by each topic's spread.
        spread = shape.width * np.exp(shape.width_sigma * rng.standard_normal(topics))
        self._spread = (spread / np.sqrt(dim)).astype(np.float32)
        sizes = np.exp(shape.size_sigma * rng.standard_normal(topics))
        self._cumulative = np.cumsum(sizes / sizes.sum())

    def _anisotropic(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """``m`` Gaussian draws with the spectrum, in the random basis."""
        z = rng.standard_normal((m, self.dim), dtype=np.float32)
        out: np.ndarray = (z * self._axis_sd) @ self._basis
        return out

    def _chunk(self, stream: int, index: int) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, stream, index]))
        topic = np.searchsorted(self._cumulative, rng.random(CHUNK), side="right")
        topic = np.minimum(topic, self.topics - 1)  # guards the cumulative sum's last ulp
        x = self._centres[topic] + self._spread[topic, None] * self._anisotropic(rng, CHUNK)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x

    def _rows(self, stream: int, n: int, block: int) -> Iterator[tuple[int, np.ndarray]]:
        pending: list[np.ndarray] = []
        have, start, index = 0, 0, 0
        while start < n:
            want = min(block, n - start)
            while have < want:
                pending.append(self._chunk(stream, index))
                have += CHUNK
                index += 1
            joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield start, np.ascontiguousarray(joined[:want])
            pending, have = [joined[want:]], have - want
            start += want

    def stream(self, n: int, block: int = 50_000) -> Iterator[tuple[int, np.ndarray]]:
        """The first ``n`` base vectors as ``(start, float32 rows)`` blocks of ``block``.

        Args:
            n: how many vectors.
            block: rows per yielded block (the last may be shorter).

        Returns:
            An iterator of (index of the block's first row, its rows).
        """
        return self._rows(_BASE, n, block)

    def base(self, n: int) -> np.ndarray:
        """The first ``n`` base vectors, an ``(n, dim)`` float32 array of unit rows."""
        if n == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return next(self._rows(_BASE, n, n))[1]

    def queries(self, n: int) -> np.ndarray:
        """``n`` query vectors: fresh draws from the mixture, independent of the base."""
        if n == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return next(self._rows(_QUERIES, n, n))[1]


def exact_top_k(base: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """The exact cosine top ``k`` of every query: row numbers of ``base``, best first.

    Candidates come from a float32 product; the best ``k + 32`` are re-ranked in float64
    and ties broken by the lower row, so the answer does not depend on rounding.

    Args:
        base: ``(n, dim)`` unit rows.
        queries: ``(q, dim)`` unit rows.
        k: neighbours per query (at most n).

    Returns:
        A ``(q, k)`` int64 array.

    Raises:
        ValueError: k is negative or larger than n.
    """
    n = len(base)
    if not 0 <= k <= n:
        raise ValueError(f"k must be in 0..{n}, got {k}")
    if k == 0:
        return np.empty((len(queries), 0), dtype=np.int64)
    keep = min(n, k + _RESCORE_MARGIN)
    step = max(1, min(256, 2**26 // n))  # keeps the score block under 256 MiB
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), step):
        q = queries[s : s + step]
        scores = q @ base.T
        if keep < n:
            cand = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        else:
            cand = np.broadcast_to(np.arange(n), scores.shape)
        exact = np.einsum("qd,qcd->qc", q.astype(np.float64), base[cand].astype(np.float64))
        order = np.lexsort((cand, -exact), axis=1)[:, :k]
        out[s : s + step] = np.take_along_axis(cand, order, 1)
    return out
