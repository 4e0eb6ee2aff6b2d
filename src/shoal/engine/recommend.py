"""Queries by examples: Qdrant's ``recommend``, ``discover`` and ``context`` on a dense vector.

As Qdrant computes them (and qdrant-client's local mode, ``qdrant_client/local/distances.py``).
Each example is a vector or a point id (that point's vector, from this collection or from
``lookup_from``'s); the points of this collection named as examples are left out of the
answer (a ``must_not has_id`` added to the query's filter, as local mode does).

* ``recommend`` with ``average_vector`` (the default) is a nearest query: the vector is
  ``avg(positive) + avg(positive) - avg(negative)`` (``avg(positive)`` without negatives),
  so it runs as one (index and all) with the ordinary scores;
* the other kinds score every row the filter keeps, from the "core" similarity ``s`` of a
  row to an example (cosine, dot: the similarity; Euclid: minus the squared distance;
  Manhattan: minus the distance), bigger is better:

  - ``best_score``: ``sigmoid(best positive s)`` if it beats the best negative s, else
    ``-sigmoid(best negative s)``, with ``sigmoid(x) = 0.5 * (x / (1 + |x|) + 1)``;
  - ``sum_scores``: the sum of the positive s minus the sum of the negative s;
  - ``discover``: for each context pair +1 if the row is nearer its positive, -1 if nearer
    its negative (0 if neither), plus ``sigmoid(s to the target)``;
  - ``context``: the sum over the pairs of ``f(min(s+ - s- - eps, 0))``,
    ``f(x) = x / (1 + |x|)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from shoal import models as m
from shoal.codec import Kept, check_vector
from shoal.engine.deadline import Deadline
from shoal.engine.filtering import CompiledFilter, Filters
from shoal.engine.payload_index import PayloadIndexes
from shoal.engine.search import Hits
from shoal.engine.sparse_search import best
from shoal.engine.state import CollectionState
from shoal.errors import InvalidQuery, NotSupported
from shoal.ids import PointId, canonical_id

KINDS = (m.RecommendQuery, m.DiscoverQuery, m.ContextQuery)
STRATEGIES = ("average_vector", "best_score", "sum_scores")
_EPSILON = np.float32(1.1920929e-7)  # f32::EPSILON, as Qdrant's context score subtracts it

# An example point's vector, and whether it is a point of this collection (to leave out).
Fetch = Callable[[PointId], tuple[Kept, bool]]


@dataclass(frozen=True)
class Examples:
    """A query scored against its examples (not by one vector).

    Attributes:
        kind: ``best_score``, ``sum_scores``, ``discover`` or ``context``.
        positive, negative: (n, dim) float32 example vectors (normalised for cosine);
            for ``discover`` and ``context`` row i of each is context pair i.
        target: ``discover``'s target vector.
    """

    kind: str
    positive: np.ndarray
    negative: np.ndarray
    target: np.ndarray | None = None


@dataclass(frozen=True)
class Resolved:
    """What a query by examples runs as: a vector (``average_vector``) or ``Examples``,
    and the points of this collection it names (left out of its answer)."""

    vector: np.ndarray | None
    examples: Examples | None
    mentioned: list[PointId]


class _Reader:
    """Turns a query's examples into vectors of one dense column."""

    def __init__(self, params: m.VectorParams, name: str, fetch: Fetch) -> None:
        self.params = params
        # Example vectors as given, not normalised: average_vector averages them as given.
        self.raw = params.model_copy(update={"distance": m.Distance.DOT})
        self.name = name
        self.fetch = fetch
        self.mentioned: list[PointId] = []

    def vector(self, example: Any, what: str) -> np.ndarray:
        """One example's vector (stored vectors as kept: normalised for cosine)."""
        if isinstance(example, (list, np.ndarray)):
            return check_vector(example, self.raw, name=self.name, point=f"({what})")
        if isinstance(example, (int, str)) and not isinstance(example, bool):
            pid = canonical_id(example)
            found, own = self.fetch(pid)
            if not isinstance(found, np.ndarray):
                raise InvalidQuery(
                    f"Wrong input: the {what} example {pid} has a sparse vector, but the "
                    f"query's vector {self.name!r} is dense"
                )
            if own:
                self.mentioned.append(pid)
            return check_vector(found, self.raw, name=self.name, point=pid)
        if isinstance(example, (m.SparseVector, dict)) and "indices" in _fields(example):
            raise NotSupported(
                "Wrong input: recommend, discover and context queries by sparse vectors "
                "are not supported yet"
            )
        raise InvalidQuery(
            f"Wrong input: a {what} example must be a vector or a point id, got {example!r:.80}"
        )

    def many(self, examples: Any, what: str) -> np.ndarray:
        if examples is None:
            examples = []
        if not isinstance(examples, list):
            raise InvalidQuery(f"Wrong input: {what} must be a list, got {examples!r:.80}")
        rows = [self.vector(e, what) for e in examples]
        return np.stack(rows) if rows else np.empty((0, self.params.size), np.float32)

    def scored(self, vectors: np.ndarray) -> np.ndarray:
        """Example vectors brought to the column's form (normalised for cosine)."""
        if self.params.distance != m.Distance.COSINE or not len(vectors):
            return vectors
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        out: np.ndarray = vectors / np.where(norms == 0, 1.0, norms)
        return out.astype(np.float32)


def _fields(value: Any) -> Any:
    return value if isinstance(value, dict) else value.__dict__


def _body(value: Any, key: str) -> dict[str, Any]:
    inner = getattr(value, key)
    if isinstance(inner, dict):
        return inner
    if hasattr(inner, "__dict__"):
        return dict(inner.__dict__)
    raise InvalidQuery(f"Wrong input: {key} must be an object, got {inner!r:.80}")


def resolve(query: Any, params: m.VectorParams, name: str, fetch: Fetch) -> Resolved:
    """The vector or examples of a ``recommend``, ``discover`` or ``context`` query.

    Args:
        query: the query (one of ``KINDS``).
        params: its dense vector's configuration.
        name: its dense vector's name.
        fetch: a point's vector by id (from ``lookup_from``'s collection if given).

    Returns:
        The query resolved.

    Raises:
        InvalidQuery: no examples, an unknown strategy, an example that is neither a vector
            nor a point id.
        PointNotFound: an example id that does not exist.
        WrongVectorSize, InvalidVector: an example vector that is not the column's.
        NotSupported: sparse examples.
    """
    reader = _Reader(params, name, fetch)
    if isinstance(query, m.RecommendQuery):
        body = _body(query, "recommend")
        strategy = body.get("strategy") or "average_vector"
        strategy = getattr(strategy, "value", strategy)
        if strategy not in STRATEGIES:
            raise InvalidQuery(
                f"Wrong input: recommend strategy {strategy!r:.80} is not one of "
                + ", ".join(STRATEGIES)
            )
        positive = reader.many(body.get("positive"), "positive")
        negative = reader.many(body.get("negative"), "negative")
        if strategy == "average_vector":
            if not len(positive):
                raise InvalidQuery("Wrong input: Positive list is empty")
            mean = positive.astype(np.float64).mean(axis=0)
            if len(negative):
                mean = mean + mean - negative.astype(np.float64).mean(axis=0)
            vector = check_vector(mean, params, name=name, point="(recommend)")
            return Resolved(vector, None, reader.mentioned)
        if not len(positive) and not len(negative):
            raise InvalidQuery("Wrong input: No positive or negative examples given")
        examples = Examples(strategy, reader.scored(positive), reader.scored(negative))
        return Resolved(None, examples, reader.mentioned)
    if isinstance(query, m.DiscoverQuery):
        body = _body(query, "discover")
        if body.get("target") is None:
            raise InvalidQuery("Wrong input: discover needs a target")
        target = reader.scored(reader.vector(body["target"], "target")[None, :])[0]
        pos, neg = _pairs(reader, body.get("context"))
        return Resolved(None, Examples("discover", pos, neg, target), reader.mentioned)
    pos, neg = _pairs(reader, query.context)
    if not len(pos):
        raise InvalidQuery("Wrong input: No target or context given")
    return Resolved(None, Examples("context", pos, neg), reader.mentioned)


def _pairs(reader: _Reader, context: Any) -> tuple[np.ndarray, np.ndarray]:
    """A context's pairs as (positives, negatives)."""
    if context is None:
        context = []
    if not isinstance(context, list):
        context = [context]
    positive, negative = [], []
    for pair in context:
        fields = _fields(pair) if isinstance(pair, (dict, BaseModel)) else None
        if not fields or "positive" not in fields or "negative" not in fields:
            raise InvalidQuery(
                f"Wrong input: a context pair must be {{positive, negative}}, got {pair!r:.80}"
            )
        positive.append(reader.vector(fields["positive"], "context positive"))
        negative.append(reader.vector(fields["negative"], "context negative"))
    empty = np.empty((0, reader.params.size), np.float32)
    return (
        reader.scored(np.stack(positive)) if positive else empty,
        reader.scored(np.stack(negative)) if negative else empty,
    )


def without(flt: m.Filter | str | None, mentioned: list[PointId]) -> m.Filter | str | None:
    """``flt`` leaving out the points ``mentioned`` as examples."""
    if not mentioned:
        return flt
    left_out = m.HasIdCondition(has_id=list(mentioned))
    if flt is None:
        return m.Filter(must_not=[left_out])
    if isinstance(flt, str):
        raise NotSupported(
            "Wrong input: a filter expression with examples given by point id is not "
            "supported yet; give a structured filter"
        )
    return m.Filter(must=[flt], must_not=[left_out])


# ----------------------------------------------------------------------------- kernels


def _core(col_distance: m.Distance, data: np.ndarray, examples: np.ndarray) -> np.ndarray:
    """(n_examples, n_rows) core similarities, bigger is better (Qdrant's internal score)."""
    if col_distance in (m.Distance.COSINE, m.Distance.DOT):
        out: np.ndarray = examples @ data.T
        return out
    # One example at a time: a (rows, dim) temporary, not (examples, rows, dim).
    out = np.empty((len(examples), data.shape[0]), np.float32)
    for i, example in enumerate(examples):
        diff = data - example
        if col_distance == m.Distance.EUCLID:
            out[i] = -np.square(diff).sum(-1)
        else:
            out[i] = -np.abs(diff).sum(-1)
    return out


def _fast_sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / (1.0 + np.abs(x))
    return out


def _scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (_fast_sigmoid(x) + 1.0)
    return out


def scores(examples: Examples, distance: m.Distance, data: np.ndarray) -> np.ndarray:
    """The score of each of ``data``'s rows (float32, bigger is better).

    Args:
        examples: the query.
        distance: the column's distance.
        data: (n, dim) the rows' vectors.

    Returns:
        (n,) scores.
    """
    n = data.shape[0]
    pos = _core(distance, data, examples.positive)
    neg = _core(distance, data, examples.negative)
    out: np.ndarray
    if examples.kind == "best_score":
        best_pos = pos.max(axis=0) if len(pos) else np.full(n, -np.inf, np.float32)
        best_neg = neg.max(axis=0) if len(neg) else np.full(n, -np.inf, np.float32)
        with np.errstate(invalid="ignore"):  # the -inf side is never picked
            out = np.where(
                best_pos > best_neg, _scaled_sigmoid(best_pos), -_scaled_sigmoid(best_neg)
            )
    elif examples.kind == "sum_scores":
        out = pos.sum(axis=0) - neg.sum(axis=0)
    elif examples.kind == "discover":
        assert examples.target is not None
        ranks = np.sign(pos - neg).sum(axis=0)
        out = ranks + _scaled_sigmoid(_core(distance, data, examples.target[None, :])[0])
    else:
        out = _fast_sigmoid(np.minimum(pos - neg - _EPSILON, 0.0)).sum(axis=0)
    return np.asarray(out, np.float32)


def search(
    state: CollectionState,
    name: str,
    query: tuple[Examples, CompiledFilter | None, int],
    filters: Filters,
    indexes: PayloadIndexes,
    deadline: Deadline,
) -> Hits:
    """The best rows of a query by examples: every live row with vector ``name`` that the
    filter keeps is scored (the caller holds the state's read lock).

    Args:
        state: the collection state.
        name: the dense vector.
        query: its examples, compiled filter and the number of rows wanted.
        filters: the collection's filters.
        indexes: its payload indexes.
        deadline: when the work must stop.

    Returns:
        The best ``wanted`` rows, best first (ties: lower row first).

    Raises:
        RequestTimeout: the deadline passed.
    """
    examples, flt, wanted = query
    col = state.columns[name]
    high = state.high
    valid = state.alive[:high] & col.present[:high]
    if flt is not None:
        valid &= filters.match(state, flt, indexes, deadline).mask(deadline)[:high]
    rows = np.flatnonzero(valid)
    if not len(rows):
        return Hits(np.empty(0, np.int64), np.empty(0, np.float32))
    return best(rows, scores(examples, col.distance, col.data[rows]), wanted)
