"""Distances, relevance scores in [0, 1], and maximal marginal relevance.

Raw scores are Shoal's (Qdrant's): cosine and dot are similarities, higher is closer;
Euclid and Manhattan are distances, lower is closer. LangChain's relevance scores must lie
in [0, 1] with 1 the closest, whatever the metric. The mapping chosen here:

=========  ==========================  ===============================================
distance   raw score s / distance d    relevance
=========  ==========================  ===============================================
Cosine     s in [-1, 1]                (1 + s) / 2
Dot        s (in [-1, 1] for unit      (1 + s) / 2, clipped to [0, 1]
           vectors)
Euclid     d >= 0 (<= 2 for unit       1 - d**2 / 4, clipped to [0, 1]
           vectors)
Manhattan  d >= 0, unbounded           1 / (1 + d)
=========  ==========================  ===============================================

Why: most embedding models emit unit vectors, and for unit vectors the cosine, dot and
Euclid rows give the *same* number for the same pair (d**2 = 2 - 2s), so a
``score_threshold`` means the same thing whichever distance the collection uses. It is also
what langchain-milvus reports (``(s + 1) / 2`` for COSINE/IP, ``1 - l2 / 4`` with Milvus's
squared L2). Manhattan distances have no natural bound, so ``1 / (1 + d)`` keeps them in
(0, 1]. For vectors that are not unit length pass your own ``relevance_score_fn`` to the
store (``lambda d: 1 / (1 + d)`` suits Euclid).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from shoal import models as m
from shoal.errors import InvalidConfig

# Spellings users bring from Milvus (metric_type), Qdrant and LangChain's DistanceStrategy.
_DISTANCE_NAMES: dict[str, m.Distance] = {
    "cosine": m.Distance.COSINE,
    "cos": m.Distance.COSINE,
    "ip": m.Distance.DOT,
    "dot": m.Distance.DOT,
    "dot_product": m.Distance.DOT,
    "max_inner_product": m.Distance.DOT,
    "inner_product": m.Distance.DOT,
    "l2": m.Distance.EUCLID,
    "euclid": m.Distance.EUCLID,
    "euclidean": m.Distance.EUCLID,
    "euclidean_distance": m.Distance.EUCLID,
    "manhattan": m.Distance.MANHATTAN,
    "l1": m.Distance.MANHATTAN,
}


def parse_distance(value: m.Distance | str | Any) -> m.Distance:
    """Read a distance given as ``Distance``, a Qdrant name or a Milvus ``metric_type``.

    Args:
        value: ``Distance.COSINE``, ``"Cosine"``, ``"COSINE"``, ``"IP"``, ``"L2"``,
            ``"Dot"``, ``"Euclid"``, ``"Manhattan"``, or a LangChain ``DistanceStrategy``.

    Returns:
        The distance.

    Raises:
        InvalidConfig: an unknown name (the message lists the accepted ones).
    """
    if isinstance(value, m.Distance):
        return value
    raw = getattr(value, "value", value)  # enums such as LangChain's DistanceStrategy
    if isinstance(raw, str) and raw.strip().lower() in _DISTANCE_NAMES:
        return _DISTANCE_NAMES[raw.strip().lower()]
    raise InvalidConfig(
        f"unknown distance {value!r}: expected one of COSINE, IP, L2 (Milvus metric_type) "
        "or Cosine, Dot, Euclid, Manhattan (Shoal/Qdrant)"
    )


def resolve_distance(
    distance: m.Distance | str | None, index_params: Mapping[str, Any] | None
) -> m.Distance:
    """The distance of a new collection: ``distance=``, else ``index_params["metric_type"]``.

    Args:
        distance: the store's ``distance`` argument.
        index_params: Milvus-style index parameters.

    Returns:
        The distance; Cosine when neither names one.

    Raises:
        InvalidConfig: an unknown name, or the two arguments name different distances.
    """
    metric = (index_params or {}).get("metric_type")
    from_index = parse_distance(metric) if metric is not None else None
    chosen = parse_distance(distance) if distance is not None else None
    if chosen is not None and from_index is not None and chosen != from_index:
        raise InvalidConfig(
            f"distance={distance!r} contradicts index_params metric_type={metric!r}; "
            "give one of them"
        )
    return chosen or from_index or m.Distance.COSINE


def _clip(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def _similarity_relevance(score: float) -> float:
    return _clip((1.0 + score) / 2.0)


def _euclid_relevance(distance: float) -> float:
    return _clip(1.0 - distance * distance / 4.0)


def _manhattan_relevance(distance: float) -> float:
    return 1.0 / (1.0 + max(distance, 0.0))


def relevance_fn(distance: m.Distance) -> Callable[[float], float]:
    """The function mapping a raw score of ``distance`` to a relevance in [0, 1].

    Args:
        distance: the collection's distance.

    Returns:
        A function of the raw score; see the table in this module's docstring.
    """
    if distance in (m.Distance.COSINE, m.Distance.DOT):
        return _similarity_relevance
    if distance == m.Distance.EUCLID:
        return _euclid_relevance
    return _manhattan_relevance


FloatMatrix = npt.NDArray[np.float64]


def _unit_rows(matrix: FloatMatrix) -> FloatMatrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    # A zero vector has no direction: its cosine with anything is taken as 0.
    unit: FloatMatrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


def maximal_marginal_relevance(
    query: Sequence[float],
    candidates: Sequence[Sequence[float]],
    k: int,
    lambda_mult: float,
) -> list[int]:
    """Pick ``k`` candidates, trading closeness to the query against novelty.

    Each step takes the candidate maximising
    ``lambda_mult * cos(query, c) - (1 - lambda_mult) * max(cos(c, s) for s in chosen)``,
    LangChain's formulation, so results match its other stores. Cosine is used for any
    collection distance, as LangChain's stores do.

    Args:
        query: the query vector.
        candidates: the fetched candidate vectors, best first.
        k: how many to pick.
        lambda_mult: 1 ranks by relevance alone, 0 by diversity alone.

    Returns:
        Indexes into ``candidates``, in the order picked.

    Raises:
        ValueError: ``lambda_mult`` is outside [0, 1].
    """
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValueError(f"lambda_mult must be between 0 and 1, got {lambda_mult}")
    count = min(k, len(candidates))
    if count <= 0:
        return []
    cand = _unit_rows(np.asarray(candidates, dtype=np.float64))
    q = _unit_rows(np.asarray([query], dtype=np.float64))[0]
    to_query = cand @ q
    chosen = [int(np.argmax(to_query))]
    # Highest similarity of every candidate to anything chosen so far, updated per pick.
    redundancy = cand @ cand[chosen[0]]
    while len(chosen) < count:
        score = lambda_mult * to_query - (1.0 - lambda_mult) * redundancy
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        redundancy = np.maximum(redundancy, cand @ cand[best])
    return chosen
