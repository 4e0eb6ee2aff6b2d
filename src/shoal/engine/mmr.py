"""Maximal marginal relevance: ``NearestQuery(nearest=..., mmr=Mmr(diversity, candidates_limit))``.

As Qdrant answers it: the ``candidates_limit`` nearest points (default: the query's limit)
are found as usual; the nearest of them comes first, then each next point is the candidate
with the best ``(1 - diversity) * relevance - diversity * (its highest similarity to a point
already chosen)``. Similarities are the distance's internal scores (dot products, cosine of
normalised vectors, negated squared Euclidean or Manhattan distances), exact ties go to the
candidate Qdrant's order visits last, and each point keeps its search score. ``offset``
applies to the re-ranked list.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shoal import models as m
from shoal.codec import SparseRow
from shoal.errors import InvalidQuery

MAX_CANDIDATES = 16_384  # candidates_limit above this is refused


def options(mmr: dict[str, Any], limit: int) -> tuple[float, int]:
    """``(diversity, candidates_limit)`` of an ``Mmr``, with Qdrant's defaults (0.5, the
    query's limit).

    Raises:
        InvalidQuery: diversity outside [0, 1], a candidates_limit that is not a positive
            integer up to ``MAX_CANDIDATES``, or an unknown key.
    """
    unknown = set(mmr) - {"diversity", "candidates_limit"}
    if unknown:
        raise InvalidQuery(f"Wrong input: unknown mmr parameter {sorted(unknown)[0]!r}")
    diversity = mmr.get("diversity")
    diversity = 0.5 if diversity is None else diversity
    if isinstance(diversity, bool) or not isinstance(diversity, (int, float)):
        raise InvalidQuery(f"Wrong input: mmr.diversity={diversity!r}; expected a number")
    if not 0.0 <= diversity <= 1.0:
        raise InvalidQuery(f"Wrong input: mmr.diversity={diversity} is outside [0, 1]")
    candidates = mmr.get("candidates_limit")
    candidates = limit if candidates is None else candidates
    if (
        isinstance(candidates, bool)
        or not isinstance(candidates, int)
        or not 0 < candidates <= MAX_CANDIDATES
    ):
        raise InvalidQuery(
            f"Wrong input: mmr.candidates_limit={candidates!r}; expected 1..{MAX_CANDIDATES}"
        )
    return float(diversity), candidates


def similarities(a: np.ndarray, b: np.ndarray, distance: m.Distance) -> np.ndarray:
    """Internal similarity of each row of ``a`` to each row of ``b`` (higher: closer)."""
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    out: np.ndarray
    if distance == m.Distance.EUCLID:
        out = -np.square(a32[:, None, :] - b32[None, :, :]).sum(axis=2)
    elif distance == m.Distance.MANHATTAN:
        out = -np.abs(a32[:, None, :] - b32[None, :, :]).sum(axis=2)
    else:
        out = a32 @ b32.T  # Cosine vectors are stored normalised
    return out


def sparse_similarities(
    query: SparseRow, vectors: list[SparseRow]
) -> tuple[np.ndarray, np.ndarray]:
    """Dot products of sparse vectors: the query's with each vector, and the vectors' with
    each other (0 where two share no index, as Qdrant scores them for MMR).

    Args:
        query: the query vector (without IDF weights, as Qdrant takes it for MMR).
        vectors: the candidates' vectors.

    Returns:
        The relevance of each candidate, and the (n, n) pairwise matrix.
    """
    n = len(vectors)
    lengths = [len(v.indices) for v in vectors]
    tokens = np.concatenate([v.indices for v in vectors]) if n else np.zeros(0, np.uint32)
    values = np.concatenate([v.values for v in vectors]).astype(np.float64) if n else np.zeros(0)
    owners = np.repeat(np.arange(n), lengths)
    pos = np.minimum(np.searchsorted(query.indices, tokens), max(len(query.indices) - 1, 0))
    shared = query.indices[pos] == tokens if len(query.indices) else np.zeros(len(tokens), bool)
    weights = np.where(shared, query.values[pos].astype(np.float64) if len(pos) else 0.0, 0.0)
    relevance = np.bincount(owners, weights=values * weights, minlength=n)
    pairwise = np.zeros((n, n))
    order = np.argsort(tokens, kind="stable")
    tokens, owners, values = tokens[order], owners[order], values[order]
    starts = np.flatnonzero(np.r_[True, tokens[1:] != tokens[:-1]]) if n else np.zeros(0, int)
    ends = np.r_[starts[1:], len(tokens)]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):  # one block per index
        who, val = owners[start:end], values[start:end]
        pairwise[np.ix_(who, who)] += np.outer(val, val)
    return relevance, pairwise


def select(relevance: np.ndarray, pairwise: np.ndarray, diversity: float, limit: int) -> list[int]:
    """The MMR order of the candidates.

    Args:
        relevance: each candidate's similarity to the query.
        pairwise: the candidates' similarities to each other.
        diversity: 0 ranks by relevance alone, 1 by novelty alone.
        limit: how many to choose.

    Returns:
        Indices of the chosen candidates, in order.
    """
    keep = 1.0 - diversity
    pending = list(range(len(relevance)))
    if not pending:
        return []
    chosen = [_swap_remove(pending, _last_argmax([float(relevance[i]) for i in pending]))]
    closest = pairwise[:, chosen[0]].astype(np.float64)  # highest similarity to the chosen
    while len(chosen) < limit and pending:
        scores = [keep * float(relevance[i]) - diversity * float(closest[i]) for i in pending]
        best = _swap_remove(pending, _last_argmax(scores))
        chosen.append(best)
        np.maximum(closest, pairwise[:, best], out=closest)
    return chosen


def _last_argmax(values: list[float]) -> int:
    best = 0
    for i in range(1, len(values)):
        if values[i] >= values[best]:
            best = i
    return best


def _swap_remove(items: list[int], position: int) -> int:
    value = items[position]
    items[position] = items[-1]
    items.pop()
    return value
