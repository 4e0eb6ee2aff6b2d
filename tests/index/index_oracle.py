"""The test oracle for HnswIndex: exact float32 distances in the index's convention.

``1 - dot`` for Cosine and Dot, squared L2 for Euclid, L1 for Manhattan: smaller is nearer,
as usearch reports them (``shoal.index.metrics``).
"""

from __future__ import annotations

import numpy as np


def index_distances(vectors: np.ndarray, queries: np.ndarray, metric: str) -> np.ndarray:
    """(b, c) distances between each of b queries and its own c candidate vectors.

    Args:
        vectors: (b, c, dim) candidate vectors per query.
        queries: (b, dim) queries.
        metric: "Cosine", "Dot", "Euclid" or "Manhattan".

    Returns:
        The distances, float32.
    """
    if metric in ("Cosine", "Dot"):
        dots = np.matmul(vectors, queries[:, :, None])[:, :, 0]
        out: np.ndarray = (1.0 - dots).astype(np.float32)
        return out
    diff = vectors - queries[:, None, :]
    dist: np.ndarray = (
        np.einsum("bcd,bcd->bc", diff, diff) if metric == "Euclid" else np.abs(diff).sum(-1)
    )
    return dist.astype(np.float32)
