"""The search kernels: exact nearest-neighbour search over a dense vector column, and the
exact (float32) scores that rank an index's candidates. The one implementation of the four
distances: the HNSW index (``shoal.index``) only proposes candidates.

Every distance is turned into a "goodness" where larger is better, so one top-k routine
serves all four: cosine and dot use the product directly; Euclid uses ``2·x·q - |x|²`` (the
squared distance up to a constant, still one matrix product); Manhattan sums absolute
differences in blocks. Euclid scores of the chosen rows are then recomputed directly, because
the expanded form loses precision for close points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shoal import models as m
from shoal.engine.state import VectorColumn
from shoal.index import blas

_MANHATTAN_BLOCK = 4096


@dataclass(frozen=True)
class Hits:
    """Result of one query: row numbers best first, and their Qdrant scores."""

    rows: np.ndarray
    scores: np.ndarray


_NO_HITS = Hits(np.empty(0, np.int64), np.empty(0, np.float32))


def _goodness(
    col: VectorColumn,
    rows: np.ndarray | slice,
    queries: np.ndarray,
    gathered: np.ndarray | None = None,
) -> np.ndarray:
    """(len(rows), n_queries) matrix; larger means nearer (``gathered``: ``col.data[rows]``)."""
    data = col.data[rows] if gathered is None else gathered
    # One query: a matrix-vector product. As a one-column matrix product OpenBLAS hands it to
    # its thread pool, which costs milliseconds on a busy machine (measured: 2,000 x 384
    # rows, p50 7 ms as gemm vs 0.02 ms as gemv). A batch's product runs on one thread
    # unless it is large (``shoal.index.blas``).
    with blas.for_product(data.shape[0] * data.shape[1] * len(queries), vector=len(queries) == 1):
        good: np.ndarray = (data @ queries[0])[:, None] if len(queries) == 1 else data @ queries.T
    if col.distance in (m.Distance.COSINE, m.Distance.DOT):
        return good
    if col.distance == m.Distance.EUCLID:
        good *= 2.0
        good -= col.sqnorm[rows][:, None]
        return good
    out = np.empty((data.shape[0], queries.shape[0]), dtype=np.float32)
    for start in range(0, data.shape[0], _MANHATTAN_BLOCK):
        block = data[start : start + _MANHATTAN_BLOCK]
        out[start : start + len(block)] = -np.abs(block[:, None, :] - queries[None, :, :]).sum(-1)
    return out


def final_scores(col: VectorColumn, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Qdrant's score for each row: similarity for cosine/dot, distance for Euclid/Manhattan."""
    data = col.data[rows]
    out: np.ndarray
    if col.distance in (m.Distance.COSINE, m.Distance.DOT):
        out = data @ query
    elif col.distance == m.Distance.EUCLID:
        out = np.sqrt(((data - query) ** 2).sum(-1))
    else:
        out = np.abs(data - query).sum(-1)
    return out


def final_scores_batch(col: VectorColumn, rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``final_scores`` for a (b, r) matrix of rows and (b, dim) queries: a (b, r) matrix."""
    data = col.data[rows]
    out: np.ndarray
    if col.distance in (m.Distance.COSINE, m.Distance.DOT):
        out = np.matmul(data, queries[:, :, None])[:, :, 0]
    elif col.distance == m.Distance.EUCLID:
        out = np.sqrt(((data - queries[:, None, :]) ** 2).sum(-1))
    else:
        out = np.abs(data - queries[:, None, :]).sum(-1)
    return out


def _top(good: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of a 1-d array, best first."""
    n = good.shape[0]
    idx = np.arange(n) if k >= n else np.argpartition(-good, k)[:k]
    best: np.ndarray = idx[np.argsort(-good[idx], kind="stable")]
    return best


# Up to this many results per query are picked by repeated argmax instead of argpartition:
# numpy's introselect degrades on scores with few distinct values (a hash embedding gave 6
# per row: 74 µs per 1,000-row query against 7 µs once jittered), argmax does not.
_ARGMAX_UPTO = 16


def _best_first(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of each row's k largest entries, largest first, equal
    values by column (``scores``, a temporary, is overwritten). Beyond ``_ARGMAX_UPTO``,
    of several columns tied at the k-th value argpartition keeps any."""
    b, n = scores.shape
    if k <= _ARGMAX_UPTO and k < n:
        picked = np.empty((b, k), np.int64)
        values = np.empty((b, k), scores.dtype)
        rows = np.arange(b)
        for t in range(k):
            col = scores.argmax(axis=1)
            picked[:, t] = col
            values[:, t] = scores[rows, col]
            scores[rows, col] = -np.inf  # a row short of finite entries repeats a -inf one
        return picked, values
    if k < n:
        part = np.argpartition(scores, n - k, axis=1)[:, n - k :]
    else:
        part = np.broadcast_to(np.arange(n), (b, n))
    part = np.sort(part, axis=1)  # equal values by column
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


def exact_search(
    col: VectorColumn,
    high: int,
    queries: np.ndarray,
    k: int,
    *,
    candidates: np.ndarray | None = None,
    invalid: np.ndarray | None = None,
    gathered: np.ndarray | None = None,
) -> list[Hits]:
    """Top-k rows for each query.

    Args:
        col: the vector column to search.
        high: rows ``[0, high)`` exist.
        queries: (b, dim) float32, already normalised for cosine.
        k: results wanted per query.
        candidates: if given, only these rows are eligible (a filter's matches).
        invalid: rows to exclude when searching all rows (deleted or without this vector).
        gathered: the candidates' vectors, already copied out of the matrix (a cached
            filter's rows): saves the gather, which dominates a search over a few thousand
            scattered rows.

    Returns:
        One ``Hits`` per query, best first, at most k each.
    """
    if k <= 0 or high == 0:
        return [_NO_HITS for _ in queries]
    if candidates is not None:
        good = _goodness(col, candidates, queries, gathered)
        base_rows = candidates
    else:
        good = _goodness(col, slice(0, high), queries)
        if invalid is not None and len(invalid):
            good[invalid] = -np.inf
        base_rows = None
    # Euclid takes a few extra candidates: rescoring may reorder near-ties.
    extra = 8 if col.distance == m.Distance.EUCLID else 0
    kk = k + extra
    n = good.shape[0]
    # One query per row from here: partitioning along the columns of the (rows, queries)
    # product strides through memory (1.25 ms for 100 queries x 1,000 rows, against
    # ~0.1 ms for the copy plus a partition along contiguous rows).
    per_query = np.ascontiguousarray(good.T)
    tops, best = _best_first(per_query, min(kk, n))
    finite = np.isfinite(best)
    higher = col.similarity
    if higher and finite.all():
        # The usual case: k finite scores per query, already best first: one conversion for
        # the batch instead of a mask and two conversions per query.
        rows_all = (tops if base_rows is None else base_rows[tops]).astype(np.int64)
        scores_all = best.astype(np.float32)
        return [Hits(r, sc) for r, sc in zip(rows_all, scores_all, strict=True)]
    results = []
    for j, query in enumerate(queries):
        keep = finite[j]
        top = tops[j][keep]
        rows = top if base_rows is None else base_rows[top]
        if higher:
            scores = best[j][keep]
        else:
            scores = final_scores(col, rows, query)
            order_j = np.argsort(scores, kind="stable")
            rows, scores = rows[order_j][:k], scores[order_j][:k]
        results.append(Hits(rows.astype(np.int64), scores.astype(np.float32)))
    return results


def rank_candidates(
    col: VectorColumn,
    rows: np.ndarray,
    keep: np.ndarray,
    queries: np.ndarray,
    own: np.ndarray,
    rerank: np.ndarray,
    wanted: list[int],
) -> list[Hits | None]:
    """Rank each query's first ``rerank`` eligible candidates by their exact scores, for a
    whole batch at once (one gather, one batched product, one sort).

    Args:
        col: the vector column.
        rows: (b, c) candidate rows per query, nearest first (-1: none).
        keep: (b, c) which candidates are eligible.
        queries: (b, dim) the queries.
        own: (b,) the row each query leaves out (its own point), or -2.
        rerank: (b,) how many eligible candidates of each query to score.
        wanted: per query, the results wanted (without its own point).

    Returns:
        Per query, its best ``wanted`` candidates (equal scores by row), or None when it
        has fewer eligible candidates than it wants.
    """
    keep = keep & (rows != own[:, None])
    width = min(rows.shape[1], int(rerank.max()))
    # Eligible candidates first, each query's in index order, then its first `rerank`.
    first = np.argsort(~keep, axis=1, kind="stable")[:, :width]
    cand = np.take_along_axis(rows, first, axis=1)
    ok = np.take_along_axis(keep, first, axis=1) & (np.arange(width) < rerank[:, None])
    cand = np.where(ok, cand, -1)
    cand.sort(axis=1)
    ok = cand >= 0
    scores = final_scores_batch(col, np.where(ok, cand, 0), queries).astype(np.float32)
    key = -scores if col.similarity else scores.copy()
    key[~ok] = np.inf
    order = np.argsort(key, axis=1, kind="stable")
    eligible = ok.sum(axis=1).tolist()
    out: list[Hits | None] = []
    for j, want in enumerate(wanted):
        if eligible[j] < want:
            out.append(None)
        else:
            top = order[j, :want]
            out.append(Hits(cand[j, top], scores[j, top]))
    return out


def rank_rows(col: VectorColumn, rows: np.ndarray, query: np.ndarray, k: int) -> Hits:
    """The best ``k`` of ``rows`` for one query by their exact scores (equal scores by the
    rows' order).

    Args:
        col: the vector column.
        rows: candidate rows.
        query: (dim,) the query.
        k: results wanted.

    Returns:
        The hits.
    """
    if not len(rows):
        return _NO_HITS
    scores = final_scores(col, rows, query).astype(np.float32)
    key = -scores if col.similarity else scores
    order = np.argsort(key, kind="stable")[:k]
    return Hits(rows[order], scores[order])
