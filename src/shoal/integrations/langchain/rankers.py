"""langchain-milvus's hybrid rankers, with Milvus's semantics, on Shoal.

A hybrid search runs one search per vector field (the embedding's dense field, then each
BM25 field, langchain-milvus's order) and combines them with the ranker a search names:

- ``ranker_type="rrf"`` (``ranker_params={"k": 60}``), or ``reranker=Function(...,
  params={"reranker": "rrf", "k": 60})``: Milvus's reciprocal rank fusion, a point scoring
  ``sum(1 / (k + rank))`` (rank from 1) over the fields it was found in. Shoal runs it as
  Qdrant's ``RrfQuery`` over prefetches, with Qdrant's ``k`` set to Milvus's ``k + 1``:
  Qdrant's RRF (``shoal.engine.prefetch.rrf``) is ``1 / (k + rank - 1)``, so the scores
  and the order are Milvus's exactly.
- ``ranker_type="weighted"`` (``ranker_params={"weights": [...]}``), ``reranker=Function(...,
  params={"reranker": "weighted", "weights": [...], "norm_score": True})``, and no ranker
  at all (langchain-milvus's default: weight 1 for every field): Milvus's weighted ranker,
  a point scoring ``sum(weight_i * norm_i(score_i))`` over the fields it was found in,
  where ``norm`` is Milvus's: COSINE ``(1 + s) / 2``, IP ``0.5 + atan(s) / pi``, BM25
  ``2 * atan(s) / pi``, L2 ``1 - 2 * atan(d) / pi`` (with ``norm_score=False``, raw
  scores, L2 still turned by that last formula). No Qdrant fusion computes it (DBSF
  normalises by each result's mean and deviation, and formulas have no ``atan``), so Shoal
  runs the fields' searches (concurrently, each coalesced with other searches) and
  combines them here. Milvus's L2 is the squared distance, so a Euclid field is
  normalised with ``d**2``; a Manhattan field (which Milvus has not) as a distance.

What differs from Milvus: each field's search fetches ``max(k, fetch_k)`` candidates
(Milvus fetches ``fetch_k``, default 4, and returns fewer than ``k`` documents when the
fields' candidates overlap), and the BM25 scores are Qdrant's (``avg_len`` 256 tokens
rather than the collection's average length). Other rerankers (``model``, ``decay``,
``boost``) are refused with ``NotSupported`` naming them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shoal import models as m
from shoal.errors import InvalidConfig, NotSupported

#: Milvus's RRF ``k`` when none is given, and its exclusive upper bound.
RRF_K = 60
_RRF_K_MAX = 16384
_HYBRID_KWARGS = ("ranker_type", "ranker_params", "reranker")


@dataclass(frozen=True)
class RrfRanker:
    """Milvus's RRF: ``sum(1 / (k + rank))``."""

    k: int = RRF_K

    def query(self) -> m.RrfQuery:
        """Qdrant's ``RrfQuery`` giving the same scores (see the module docstring)."""
        return m.RrfQuery(rrf={"k": self.k + 1})


@dataclass(frozen=True)
class WeightedRanker:
    """Milvus's weighted ranker: ``sum(weight_i * norm_i(score_i))``."""

    weights: tuple[float, ...]
    norm_score: bool = True


Ranker = RrfRanker | WeightedRanker


def pop_ranker(kwargs: dict[str, Any], fields: int) -> Ranker:
    """Take a search's ranker arguments out of its keyword arguments.

    Args:
        kwargs: the search's keyword arguments (``ranker_type``, ``ranker_params``,
            ``reranker`` are removed).
        fields: how many vector fields the search combines.

    Returns:
        The ranker; weight 1 per field when none is named (langchain-milvus's default).

    Raises:
        InvalidConfig: an unknown ranker type or parameter, or bad weights or ``k``.
        NotSupported: a reranker Shoal does not run (named).
    """
    ranker_type, params, reranker = (kwargs.pop(name, None) for name in _HYBRID_KWARGS)
    if reranker is not None:
        return _from_function(reranker, fields)
    if ranker_type is None:
        return WeightedRanker((1.0,) * fields)
    return _make(ranker_type, dict(params or {}), fields, "ranker_params")


def refuse_ranker(kwargs: Mapping[str, Any], method: str) -> None:
    """Refuse ranker arguments where there is nothing to rank (one vector field).

    Raises:
        InvalidConfig: naming them.
    """
    given = [name for name in _HYBRID_KWARGS if kwargs.get(name) is not None]
    if given:
        raise InvalidConfig(
            f"{method}() got {given}: rankers combine the vector fields of a hybrid store "
            "(builtin_function=...), and this search has one field"
        )


def _from_function(reranker: Any, fields: int) -> Ranker:
    kind = getattr(reranker, "type", None)
    if kind is not None and getattr(kind, "name", kind) != "RERANK":
        raise InvalidConfig(f"reranker must be a RERANK function, got type {kind!r}")
    params = reranker if isinstance(reranker, Mapping) else getattr(reranker, "params", None)
    if not isinstance(params, Mapping):
        raise InvalidConfig(f"reranker must be a pymilvus Function or a dict, got {reranker!r}")
    params = dict(params)
    name = params.pop("reranker", None)
    if name not in ("rrf", "weighted"):
        raise NotSupported(
            f"reranker {name!r} is not supported: Shoal runs the 'rrf' and 'weighted' rankers"
        )
    return _make(name, params, fields, "reranker params")


def _make(kind: Any, params: dict[str, Any], fields: int, what: str) -> Ranker:
    if kind == "rrf":
        _no_other(params, {"k"}, what)
        k = params.get("k", RRF_K)
        if isinstance(k, bool) or not isinstance(k, int) or not 0 < k < _RRF_K_MAX:
            raise InvalidConfig(f"{what} k must be an integer in (0, {_RRF_K_MAX}), got {k!r}")
        return RrfRanker(k)
    if kind == "weighted":
        _no_other(params, {"weights", "norm_score"}, what)
        weights = params.get("weights", [1.0] * fields)
        if (
            not isinstance(weights, (list, tuple))
            or len(weights) != fields
            or not all(_is_weight(w) for w in weights)
        ):
            raise InvalidConfig(
                f"{what} weights must be {fields} numbers in [0, 1], one per vector field; "
                f"got {weights!r}"
            )
        norm = bool(params.get("norm_score", True))
        return WeightedRanker(tuple(float(w) for w in weights), norm)
    raise InvalidConfig(f"unknown ranker_type {kind!r}: expected 'rrf' or 'weighted'")


def _is_weight(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def _no_other(params: Mapping[str, Any], known: set[str], what: str) -> None:
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidConfig(f"unknown {what} {unknown}: expected some of {sorted(known)}")


# --------------------------------------------------------------- weighted fusion


def _atan_similarity(s: float) -> float:
    return 0.5 + math.atan(s) / math.pi


def _atan_distance(d: float) -> float:
    return 1.0 - 2.0 * math.atan(d) / math.pi


def normaliser(distance: m.Distance | None, norm_score: bool) -> Callable[[float], float]:
    """Milvus's score normalisation for a field (None: a BM25 field).

    Args:
        distance: the dense field's distance, or None for BM25.
        norm_score: False keeps raw scores (distances still turned into similarities).

    Returns:
        The function of a raw score.
    """
    if distance == m.Distance.EUCLID:
        return lambda d: _atan_distance(d * d)  # Milvus's L2 is squared
    if distance == m.Distance.MANHATTAN:
        return _atan_distance
    if not norm_score:
        return float
    if distance == m.Distance.COSINE:
        return lambda s: (1.0 + s) / 2.0
    if distance == m.Distance.DOT:
        return _atan_similarity
    return lambda s: 2.0 * math.atan(s) / math.pi


def rrf_fusion(
    results: Sequence[Sequence[m.ScoredPoint]],
    ranker: RrfRanker,
    limit: int,
    score_threshold: float | None,
) -> list[m.ScoredPoint]:
    """Milvus's RRF over the fields' results, here rather than in the engine (for filters
    the engine's fusion cannot take): the same scores as :meth:`RrfRanker.query`."""
    return _fuse(results, [1.0] * len(results), None, ranker.k, limit, score_threshold)


def weighted_fusion(
    results: Sequence[Sequence[m.ScoredPoint]],
    norms: Sequence[Callable[[float], float]],
    ranker: WeightedRanker,
    limit: int,
    score_threshold: float | None,
) -> list[m.ScoredPoint]:
    """Combine the fields' results as Milvus's weighted ranker does.

    Args:
        results: each field's results, in field order.
        norms: each field's normaliser.
        ranker: the weights.
        limit: how many to return.
        score_threshold: drop points scoring less.

    Returns:
        Points, best first (ties in the order first found), scored by the weighted sum.
    """
    return _fuse(results, ranker.weights, norms, None, limit, score_threshold)


def _fuse(
    results: Sequence[Sequence[m.ScoredPoint]],
    weights: Sequence[float],
    norms: Sequence[Callable[[float], float]] | None,
    rrf_k: int | None,
    limit: int,
    score_threshold: float | None,
) -> list[m.ScoredPoint]:
    """Sum each point's gains over the results it is in: ``weight * norm(score)``, or with
    ``rrf_k`` ``1 / (rrf_k + rank)``."""
    scores: dict[m.ExtendedPointId, float] = {}
    points: dict[m.ExtendedPointId, m.ScoredPoint] = {}
    for i, hits in enumerate(results):
        for rank, point in enumerate(hits, start=1):
            if rrf_k is not None:
                gain = 1.0 / (rrf_k + rank)
            else:
                gain = weights[i] * (norms[i] if norms else float)(point.score)
            scores[point.id] = scores.get(point.id, 0.0) + gain
            points.setdefault(point.id, point)
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    if score_threshold is not None:
        ranked = [(pid, s) for pid, s in ranked if s >= score_threshold]
    return [points[pid].model_copy(update={"score": s}) for pid, s in ranked[:limit]]
