"""Re-rank approximate candidates with exact float32 distances.

The HNSW index stores f16/bf16/int8 copies; the engine keeps the float32 originals in its
dense matrix anyway. Over-fetching a few times k from the index and re-ranking those rows
exactly recovers most of what compression loses, for the cost of one small gather + product.
"""

from __future__ import annotations

import numpy as np

from shoal.index.metrics import exact_distances

# Bound the gathered (queries, candidates, dim) block so a 1,000-query batch of 4 x k
# candidates at dim 1536 does not allocate gigabytes at once.
_BLOCK_BYTES = 32 << 20


def rescore(
    rows: np.ndarray, queries: np.ndarray, matrix: np.ndarray, k: int, *, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k among each query's candidate rows.

    Args:
        rows: (b, c) int64 candidate rows per query, -1 for padding (as ``HnswIndex.search``
            returns them); c is typically 4 x k.
        queries: (b, dim) float32 queries (unit-normalised for Cosine, like the stored rows).
        matrix: (n, dim) float32 vectors indexed by row.
        k: results wanted per query.
        metric: distance name ("Cosine", "Euclid", "Dot" or "Manhattan").

    Returns:
        (rows (b, k) int64, distances (b, k) float32), nearest first; padded with -1 / +inf
        when a query has fewer than k candidates. Distances follow the index convention:
        ``1 - dot`` for Cosine/Dot, squared L2 for Euclid, L1 for Manhattan.

    Raises:
        UnsupportedMetric: for an unknown distance name.
    """
    rows = np.asarray(rows, dtype=np.int64)
    b, c = rows.shape
    dim = matrix.shape[1]
    out_rows = np.full((b, k), -1, dtype=np.int64)
    out_dist = np.full((b, k), np.inf, dtype=np.float32)
    if b == 0 or c == 0 or k <= 0:
        return out_rows, out_dist
    width = min(k, c)
    step = max(1, _BLOCK_BYTES // max(1, c * dim * 4))
    for start in range(0, b, step):
        block = rows[start : start + step]
        valid = block >= 0
        # Padding gathers row 0 (any real row works) and is masked to +inf afterwards.
        gathered = matrix[np.where(valid, block, 0)]
        dist = exact_distances(gathered, queries[start : start + step], metric)
        dist[~valid] = np.inf
        if width < c:
            part = np.argpartition(dist, width - 1, axis=1)[:, :width]
        else:
            part = np.broadcast_to(np.arange(c), (len(block), c))
        part_dist = np.take_along_axis(dist, part, axis=1)
        order = np.argsort(part_dist, axis=1, kind="stable")
        best = np.take_along_axis(part, order, axis=1)
        best_dist = np.take_along_axis(part_dist, order, axis=1)
        best_rows = np.take_along_axis(block, best, axis=1)
        best_rows[~np.isfinite(best_dist)] = -1
        out_rows[start : start + len(block), :width] = best_rows
        out_dist[start : start + len(block), :width] = best_dist
    return out_rows, out_dist
