"""Queries by examples: Qdrant's ``recommend``, ``discover`` and ``context``.

As Qdrant computes them (and qdrant-client's local mode, ``qdrant_client/local/distances.py``).
Each example is a vector or a point id (that point's vector, from this collection or from
``lookup_from``'s); the points of this collection named as examples are left out of the
answer (a ``must_not has_id`` added to the query's filter, as local mode does).

* ``recommend`` with ``average_vector`` (the default) is a nearest query: the vector is
  ``avg(positive) + avg(positive) - avg(negative)`` (``avg(positive)`` without negatives),
  so it runs as one (index and all) with the ordinary scores (on a sparse vector the
  averages are taken index by index, and it runs as a sparse query);
* the other kinds score every row the filter keeps, from the "core" similarity ``s`` of a
  row to an example (cosine, dot: the similarity; Euclid: minus the squared distance;
  Manhattan: minus the distance; sparse: the dot product, IDF-weighed with ``modifier:
  idf``, and 0 where the row shares no index with the example), bigger is better:

  - ``best_score``: ``sigmoid(best positive s)`` if it beats the best negative s, else
    ``-sigmoid(best negative s)``, with ``sigmoid(x) = 0.5 * (x / (1 + |x|) + 1)``;
  - ``sum_scores``: the sum of the positive s minus the sum of the negative s;
  - ``discover``: for each context pair +1 if the row is nearer its positive, -1 if nearer
    its negative (0 if neither), plus ``sigmoid(s to the target)``;
  - ``context``: the sum over the pairs of ``f(min(s+ - s- - eps, 0))``,
    ``f(x) = x / (1 + |x|)``;
  - ``relevance_feedback`` (its ``naive`` strategy, the only one): ``a * s(target)`` plus,
    for every ordered pair of feedback examples whose scores differ by ``conf > 0``,
    ``conf^b * c * (s(better example) - s(worse example))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np
from pydantic import BaseModel

from shoal import models as m
from shoal.codec import (
    Kept,
    SparseRow,
    check_multivector,
    check_sparse,
    check_vector,
    normalize_rows,
)
from shoal.engine.deadline import NO_DEADLINE, Deadline
from shoal.engine.filtering import CompiledFilter, FilterMatch
from shoal.engine.search import Hits
from shoal.engine.sparse_search import best
from shoal.engine.state import CollectionState
from shoal.errors import InvalidQuery, NotSupported
from shoal.ids import PointId, canonical_id
from shoal.index.multivector import MultiColumn
from shoal.index.sparse import SparseColumn

KINDS = (m.RecommendQuery, m.DiscoverQuery, m.ContextQuery, m.RelevanceFeedbackQuery)
STRATEGIES = ("average_vector", "best_score", "sum_scores")
DOT = m.Distance.DOT
_EPSILON = np.float32(1.1920929e-7)  # f32::EPSILON, as Qdrant's context score subtracts it

# An example point's vector, and whether it is a point of this collection (to leave out).
Fetch = Callable[[PointId], tuple[Kept, bool]]


@dataclass(frozen=True)
class Examples:
    """A query scored against its examples (not by one vector).

    Attributes:
        kind: ``best_score``, ``sum_scores``, ``discover`` or ``context``.
        positive, negative: the example vectors (float32 rows, normalised for cosine, or
            sparse rows); for ``discover`` and ``context`` item i of each is context pair i.
        target: ``discover``'s and ``relevance_feedback``'s target vector.
        pairs: ``relevance_feedback``'s pairs of ``positive`` (its examples) as (better,
            worse, weight).
        a: ``relevance_feedback``'s weight of the target.
    """

    kind: str
    positive: list[Kept]
    negative: list[Kept]
    target: Kept | None = None
    pairs: tuple[tuple[int, int, float], ...] = ()
    a: float = 1.0


@dataclass(frozen=True)
class Resolved:
    """What a query by examples runs as: a vector (``average_vector``: dense, or sparse) or
    ``Examples``, and the points of this collection it names (left out of its answer)."""

    vector: Kept | None
    examples: Examples | None
    mentioned: list[PointId]


class _Reader:
    """Turns a query's examples into vectors of one column (``params`` None: sparse)."""

    def __init__(self, params: m.VectorParams | None, name: str, fetch: Fetch) -> None:
        self.params = params
        # Example vectors as given, not normalised: average_vector averages them as given.
        self.raw = None if params is None else params.model_copy(update={"distance": DOT})
        self.name = name
        self.fetch = fetch
        self.mentioned: list[PointId] = []
        # A multivector's examples are multivectors (scored by MaxSim).
        self.multi = params is not None and params.multivector_config is not None

    def vector(self, example: Any, what: str) -> Kept:
        """One example's vector (stored vectors as kept: normalised for cosine)."""
        sparse_given = isinstance(example, (m.SparseVector, dict)) and "indices" in _fields(example)
        if isinstance(example, (int, str)) and not isinstance(example, bool):
            pid = canonical_id(example)
            found, own = self.fetch(pid)
            if isinstance(found, SparseRow) != (self.raw is None):
                kinds = ("dense", "sparse") if self.raw is None else ("sparse", "dense")
                raise InvalidQuery(
                    f"Wrong input: the {what} example {pid} has a {kinds[0]} vector, but the "
                    f"query's vector {self.name!r} is {kinds[1]}"
                )
            if own:
                self.mentioned.append(pid)
            if isinstance(found, SparseRow):
                return found
            example = found
        if self.raw is None:
            if sparse_given:
                return check_sparse(example, name=self.name, point=f"({what})")
        elif self.multi and isinstance(example, (list, np.ndarray)):
            return check_multivector(example, self.raw, name=self.name, point=f"({what})")
        elif isinstance(example, (list, np.ndarray)):
            return check_vector(example, self.raw, name=self.name, point=f"({what})")
        want = "a sparse vector" if self.raw is None else "a dense vector"
        want = "a multivector" if self.multi else want
        raise InvalidQuery(
            f"Wrong input: a {what} example on {self.name!r} must be {want} or a point id, "
            f"got {example!r:.80}"
        )

    def many(self, examples: Any, what: str) -> list[Kept]:
        if examples is None:
            examples = []
        if not isinstance(examples, list):
            raise InvalidQuery(f"Wrong input: {what} must be a list, got {examples!r:.80}")
        return [self.vector(e, what) for e in examples]

    def scored(self, vectors: list[Kept]) -> list[Kept]:
        """Example vectors brought to the column's form (normalised for cosine)."""
        if self.params is None or self.params.distance != m.Distance.COSINE:
            return vectors
        if self.multi:
            return [normalize_rows(np.asarray(v, np.float32)) for v in vectors]
        out: list[Kept] = []
        for vector in vectors:
            dense = np.asarray(vector, np.float64)
            norm = float(np.linalg.norm(dense))
            out.append((dense / (norm or 1.0)).astype(np.float32))
        return out

    def average(self, positive: list[Kept], negative: list[Kept]) -> Kept:
        """``average_vector``'s query: ``avg(positive) * 2 - avg(negative)``, as Qdrant."""
        if self.params is None:
            mean = _sparse_mean(positive)  # type: ignore[arg-type]
            if negative:
                mean = _sparse_combine(mean, _sparse_mean(negative), 2.0)  # type: ignore[arg-type]
            return mean
        if self.multi:
            # Local mode's average of multivectors: the positives' rows, then the
            # negatives' rows negated (one query multivector).
            rows = [*positive, *(-np.asarray(v) for v in negative)]
            return check_multivector(
                np.concatenate(rows), self.params, name=self.name, point="(recommend)"
            )
        dense = np.stack(positive).astype(np.float64).mean(axis=0)
        if negative:
            dense = dense + dense - np.stack(negative).astype(np.float64).mean(axis=0)
        return check_vector(dense, self.params, name=self.name, point="(recommend)")


def _sparse_combine(a: SparseRow, b: SparseRow, factor: float) -> SparseRow:
    """``factor * a - b`` over the union of their indices."""
    indices = np.union1d(a.indices, b.indices)
    values = np.zeros(len(indices), np.float64)
    values[np.searchsorted(indices, a.indices)] += factor * a.values.astype(np.float64)
    values[np.searchsorted(indices, b.indices)] -= b.values.astype(np.float64)
    return SparseRow(indices.astype(np.uint32), values.astype(np.float32))


def _sparse_mean(rows: list[SparseRow]) -> SparseRow:
    indices = np.unique(np.concatenate([r.indices for r in rows]))
    values = np.zeros(len(indices), np.float64)
    for r in rows:
        values[np.searchsorted(indices, r.indices)] += r.values
    return SparseRow(indices.astype(np.uint32), (values / len(rows)).astype(np.float32))


def _fields(value: Any) -> Any:
    return value if isinstance(value, dict) else value.__dict__


def _body(value: Any, key: str) -> dict[str, Any]:
    inner = getattr(value, key)
    if isinstance(inner, dict):
        return inner
    if hasattr(inner, "__dict__"):
        return dict(inner.__dict__)
    raise InvalidQuery(f"Wrong input: {key} must be an object, got {inner!r:.80}")


def resolve(query: Any, params: m.VectorParams | None, name: str, fetch: Fetch) -> Resolved:
    """The vector or examples of a ``recommend``, ``discover`` or ``context`` query.

    Args:
        query: the query (one of ``KINDS``).
        params: its dense vector's configuration (None: the vector is sparse).
        name: its vector's name.
        fetch: a point's vector by id (from ``lookup_from``'s collection if given).

    Returns:
        The query resolved.

    Raises:
        InvalidQuery: no examples, an unknown strategy or bad strategy parameters, an
            example that is neither a vector of the column's kind nor a point id.
        PointNotFound: an example id that does not exist.
        WrongVectorSize, InvalidVector: an example vector that is not the column's.
    """
    reader = _Reader(params, name, fetch)
    if isinstance(query, m.RelevanceFeedbackQuery):
        return _feedback(reader, _body(query, "relevance_feedback"))
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
            if not positive:
                raise InvalidQuery("Wrong input: Positive list is empty")
            return Resolved(reader.average(positive, negative), None, reader.mentioned)
        if not positive and not negative:
            raise InvalidQuery("Wrong input: No positive or negative examples given")
        examples = Examples(strategy, reader.scored(positive), reader.scored(negative))
        return Resolved(None, examples, reader.mentioned)
    if isinstance(query, m.DiscoverQuery):
        body = _body(query, "discover")
        if body.get("target") is None:
            raise InvalidQuery("Wrong input: discover needs a target")
        (target,) = reader.scored([reader.vector(body["target"], "target")])
        pos, neg = _pairs(reader, body.get("context"))
        return Resolved(None, Examples("discover", pos, neg, target), reader.mentioned)
    pos, neg = _pairs(reader, query.context)
    if not pos:
        raise InvalidQuery("Wrong input: No target or context given")
    return Resolved(None, Examples("context", pos, neg), reader.mentioned)


def _feedback(reader: _Reader, body: dict[str, Any]) -> Resolved:
    """``relevance_feedback``: its target, its examples and the weights of their pairs."""
    a, b, c = _naive(body.get("strategy"))
    if body.get("target") is None:
        raise InvalidQuery("Wrong input: relevance_feedback needs a target")
    items = body.get("feedback")
    if not isinstance(items, list):
        raise InvalidQuery(
            f"Wrong input: relevance_feedback.feedback must be a list of {{example, score}}, "
            f"got {items!r:.80}"
        )
    examples, scores = [], []
    for item in items:
        fields = _fields(item) if isinstance(item, (dict, BaseModel)) else {}
        score = fields.get("score")
        if fields.get("example") is None or not _finite(score):
            raise InvalidQuery(
                "Wrong input: a feedback item must be {example, score} with a finite score, "
                f"got {item!r:.80}"
            )
        examples.append(reader.vector(fields["example"], "feedback"))
        scores.append(float(score))
    (target,) = reader.scored([reader.vector(body["target"], "target")])
    pairs = tuple(
        (i, j, (si - sj) ** b * c)
        for i, si in enumerate(scores)
        for j, sj in enumerate(scores)
        if si - sj > 0  # Qdrant's confidence margin is 0
    )
    found = Examples("feedback", reader.scored(examples), [], target, pairs, a)
    return Resolved(None, found, reader.mentioned)


def _naive(strategy: Any) -> tuple[float, float, float]:
    """The ``naive`` strategy's (a, b, c).

    Raises:
        InvalidQuery: no strategy, another one, or a parameter that is not a finite number
            (``b`` below 0).
    """
    fields = _fields(strategy) if isinstance(strategy, (dict, BaseModel)) else {}
    params = fields.get("naive")
    if set(k for k, v in fields.items() if v is not None) != {"naive"} or params is None:
        raise InvalidQuery(
            'Wrong input: relevance_feedback.strategy must be {"naive": {"a", "b", '
            f'"c"}}}}, got {strategy!r:.80}'
        )
    values = _fields(params) if isinstance(params, (dict, BaseModel)) else {}
    out: list[float] = []
    for key in ("a", "b", "c"):
        value = values.get(key)
        if not _finite(value) or (key == "b" and value < 0):
            want = "a number >= 0" if key == "b" else "a finite number"
            raise InvalidQuery(
                f"Wrong input: relevance_feedback.strategy.naive.{key} must be {want}, "
                f"got {value!r:.80}"
            )
        out.append(value)
    return out[0], out[1], out[2]


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _pairs(reader: _Reader, context: Any) -> tuple[list[Kept], list[Kept]]:
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
    return reader.scored(positive), reader.scored(negative)


def without(flt: m.Filter | str | None, mentioned: list[PointId]) -> m.Filter | str | None:
    """``flt`` leaving out the points ``mentioned`` as examples.

    Raises:
        NotSupported: ``flt`` is a filter expression string.
    """
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

# Examples' core similarities to each row: (len(examples), rows), float32.
Similarity = Callable[[list[Kept]], np.ndarray]


def _dense_core(distance: m.Distance, data: np.ndarray) -> Similarity:
    """Qdrant's internal score of each of ``data``'s rows to each example, bigger is
    better."""

    def core(examples: list[Kept]) -> np.ndarray:
        out = np.empty((len(examples), data.shape[0]), np.float32)
        if not examples:
            return out
        if distance in (m.Distance.COSINE, DOT):  # one product for all the examples
            out[:] = (data @ np.stack(examples).T).T
            return out
        for i, example in enumerate(examples):  # one (rows, dim) temporary at a time
            if distance == m.Distance.EUCLID:
                out[i] = -np.square(data - example).sum(-1)
            else:
                out[i] = -np.abs(data - example).sum(-1)
        return out

    return core


def _sparse_core(
    col: SparseColumn, rows: np.ndarray, with_idf: bool, corpus: np.ndarray | None
) -> Similarity:
    """The dot product of each of ``rows``' sparse vectors with an example (0 where they
    share no index: local mode's ``empty_is_zero``)."""

    def core(examples: list[Kept]) -> np.ndarray:
        out = np.zeros((len(examples), len(rows)), np.float32)
        for i, example in enumerate(examples):
            assert isinstance(example, SparseRow)
            found, products = col.search(example, with_idf, corpus)
            at = np.searchsorted(rows, found)
            hit = (at < len(rows)) & (rows[np.minimum(at, len(rows) - 1)] == found)
            out[i, at[hit]] = products[hit]
        return out

    return core


def _multi_core(col: MultiColumn, rows: np.ndarray, deadline: Deadline) -> Similarity:
    """The MaxSim core score of each of ``rows``' multivectors to an example."""
    check = None if deadline is NO_DEADLINE else deadline.check

    def core(examples: list[Kept]) -> np.ndarray:
        return col.core(examples, rows, check)  # type: ignore[arg-type]

    return core


def _fast_sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / (1.0 + np.abs(x))
    return out


def _scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (_fast_sigmoid(x) + 1.0)
    return out


def scores(examples: Examples, core: Similarity, n: int) -> np.ndarray:
    """The score of each of ``n`` rows (float32, bigger is better).

    Args:
        examples: the query.
        core: an example's similarity to each row.
        n: the number of rows.

    Returns:
        (n,) scores.
    """
    pos = core(examples.positive)
    neg = core(examples.negative)
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
        out = ranks + _scaled_sigmoid(core([examples.target])[0])
    elif examples.kind == "feedback":
        assert examples.target is not None
        out = examples.a * core([examples.target])[0]
        for better, worse, weight in examples.pairs:
            out += weight * (pos[better] - pos[worse])
    else:
        out = _fast_sigmoid(np.minimum(pos - neg - _EPSILON, 0.0)).sum(axis=0)
    return np.asarray(out, np.float32)


def search(
    state: CollectionState,
    name: str,
    query: tuple[Examples, CompiledFilter | None, int],
    *,
    matcher: Callable[[CompiledFilter], FilterMatch],
    idf: tuple[bool, CompiledFilter | None],
    deadline: Deadline,
) -> Hits:
    """The best rows of a query by examples: every live row with vector ``name`` that the
    filter keeps is scored (the caller holds the state's read lock).

    Args:
        state: the collection state.
        name: the vector (dense or sparse).
        query: its examples, filter and the number of rows wanted.
        matcher: the rows a compiled filter matches.
        idf: the sparse vector's modifier is ``idf``, and the query's IDF corpus filter.
        deadline: when the work must stop.

    Returns:
        The best ``wanted`` rows, best first (ties: lower row first).

    Raises:
        RequestTimeout: the deadline passed.
    """
    examples, flt, wanted = query
    with_idf, idf_corpus = idf
    if deadline is not NO_DEADLINE:
        deadline.check()
    high = state.high
    sparse = state.sparse.get(name)
    valid = state.alive[:high] & state.presence(name)[:high]
    if flt is not None:
        valid &= matcher(flt).mask(deadline)[:high]
    rows = np.flatnonzero(valid)
    if not len(rows):
        return Hits(np.empty(0, np.int64), np.empty(0, np.float32))
    multi = state.multi.get(name)
    if multi is not None:
        core = _multi_core(multi, rows, deadline)
    elif sparse is None:
        col = state.columns[name]
        if len(rows) * 2 >= high:
            # Most rows qualify (unfiltered, but for the examples left out): scoring the
            # matrix itself and keeping the valid rows' scores beats gathering those rows
            # (a copy of nearly the whole matrix: measured 150 of 190 ms at 100k x 384).
            whole = scores(examples, _dense_core(col.distance, col.data[:high]), high)
            return best(rows, whole[rows], wanted)
        core = _dense_core(col.distance, col.data[rows])
    else:
        corpus = None
        if with_idf and idf_corpus is not None:
            corpus = matcher(idf_corpus).mask(deadline)
        core = _sparse_core(sparse, rows, with_idf, corpus)
    return best(rows, scores(examples, core, len(rows)), wanted)
