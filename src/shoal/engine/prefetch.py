"""Queries with ``prefetch``: sub-queries first, then the outer query over their results.

As Qdrant (and qdrant-client's local mode) answer them:

- every prefetch runs with its own query, vector, filter, params, threshold and limit
  (default 10); the filter of each level is merged into the levels below it, so a limit
  counts points that pass every filter on the way up;
- a prefetch with prefetches of its own is answered the same way, recursively;
- the outer query then combines the results: ``fusion`` (``rrf``, ``dbsf``) or ``rrf``
  (with ``k`` and ``weights``) fuses them; ``formula`` rescores every point they found
  (``shoal.filters.formula``); a vector (or point id) re-ranks those points by similarity
  (an exact search restricted to them); ``order_by`` and ``sample`` pick among them as
  they pick among all points (``shoal.engine.scrolled``); no query returns them in id order.

The outer query's ``score_threshold``, ``offset``, ``limit``, ``with_payload`` and
``with_vector`` apply to the combined result. Prefetches nest at most ``MAX_DEPTH`` levels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shoal import models as m
from shoal.engine.deadline import Deadline
from shoal.engine.scrolled import KINDS as SCROLLED
from shoal.errors import InvalidFilter, InvalidQuery, NotSupported
from shoal.filters.bind import bind
from shoal.filters.convert import to_qdrant_filter
from shoal.filters.expression import parse_syntax
from shoal.filters.formula import candidates, compile_formula, rescore
from shoal.ids import PointId

RRF_K = 2  # Qdrant's default ranking constant
MAX_DEPTH = 8  # levels of nested prefetch a query may have
Results = list[tuple[PointId, float]]  # (point id, score), best first
# Runs one query without prefetch: (request, deadline) -> its page of scored points.
RunQuery = Callable[[m.QueryRequest, Deadline], list[m.ScoredPoint]]
# The payloads of points (a formula reads them).
PayloadsOf = Callable[[list[PointId]], dict[PointId, dict[str, Any]]]


def answer(
    req: m.QueryRequest,
    deadline: Deadline,
    run: RunQuery,
    payloads_of: PayloadsOf,
    page: Callable[[Results, m.QueryRequest], list[m.ScoredPoint]],
) -> list[m.ScoredPoint]:
    """The page of a query with prefetches.

    Args:
        req: the query (its ``prefetch`` is set).
        deadline: when to give up.
        run: answers a query without prefetch (scores, ids; payloads as it asks).
        payloads_of: the payloads of points (a formula reads them).
        page: turns ranked ``(id, score)`` pairs into the outer query's page (payload and
            vector as the query selects).

    Raises:
        InvalidQuery: a fusion method Qdrant does not have, bad ``rrf`` parameters, or a
            formula that fails (naming it).
    """
    flt = _outer_filter(req)
    sources = [_prefetch(p, flt, deadline, run, payloads_of, 1) for p in _listed(req.prefetch)]
    return finish(req, sources, deadline, run, payloads_of, page)


def leaves(req: m.QueryRequest) -> list[m.QueryRequest] | None:
    """The prefetches of a query as queries of their own, when none has prefetches of its
    own (the usual hybrid query): a batch runs them together with its other queries, then
    ``finish`` combines each query's. None for a query with nested prefetches.

    Raises:
        NotSupported: a filter expression (see ``answer``).
    """
    listed = _listed(req.prefetch)
    if any(p.prefetch or type(p.query) in SCROLLED for p in listed):
        return None
    flt = _outer_filter(req)
    return [_as_query(p, _merged(flt, p.filter), None) for p in listed]


def finish(
    req: m.QueryRequest,
    sources: list[Results],
    deadline: Deadline,
    run: RunQuery,
    payloads_of: PayloadsOf,
    page: Callable[[Results, m.QueryRequest], list[m.ScoredPoint]],
) -> list[m.ScoredPoint]:
    """The page of a query whose prefetches found ``sources`` (see ``answer``)."""
    if type(req.query) in SCROLLED:  # their page is the scroll's, with its order values
        found = candidates(sources)
        if not found:
            return []
        restricted = _merged(_outer_filter(req), m.Filter(must=[m.HasIdCondition(has_id=found)]))
        return run(req.model_copy(update={"prefetch": None, "filter": restricted}), deadline)
    limit = req.limit if req.limit is not None else 10
    offset = req.offset or 0
    ranked = _combine(req, sources, limit + offset, deadline, run, payloads_of)
    threshold = req.score_threshold
    if threshold is not None:
        ranked = [(pid, score) for pid, score in ranked if score >= threshold]
    return page(ranked[offset : offset + limit], req)


def _outer_filter(req: m.QueryRequest) -> m.Filter | None:
    """The query's filter in structured form: the levels of a prefetch merge structured
    filters. An expression is converted as Shoal's HTTP client converts it before sending
    (``shoal.filters.convert``), so that embedded and HTTP answer alike.

    Raises:
        InvalidFilter: an invalid expression.
        NotSupported: a valid one with no exact structured equivalent.
    """
    flt = req.filter
    if not isinstance(flt, str):
        return flt
    try:
        return to_qdrant_filter(flt)
    except InvalidFilter as exc:
        bind(parse_syntax(flt), flt, {}, {})  # an invalid expression: its own error
        raise NotSupported(
            f"Wrong input: this filter expression has no structured equivalent, which a "
            f"query with prefetch needs ({exc.message}); give a structured Filter"
        ) from None


def _listed(prefetch: list[m.Prefetch] | m.Prefetch | None) -> list[m.Prefetch]:
    if prefetch is None:
        return []
    return prefetch if isinstance(prefetch, list) else [prefetch]


def _merged(outer: m.Filter | None, inner: m.Filter | None) -> m.Filter | None:
    if outer is None or inner is None:
        return outer or inner
    return m.Filter(must=[outer, inner])


def _prefetch(
    p: m.Prefetch,
    outer: m.Filter | None,
    deadline: Deadline,
    run: RunQuery,
    payloads_of: PayloadsOf,
    depth: int,
) -> Results:
    if depth > MAX_DEPTH:
        raise InvalidQuery(f"Wrong input: prefetch is nested more than {MAX_DEPTH} levels deep")
    flt = _merged(outer, p.filter)
    inner = _listed(p.prefetch)
    as_query = _as_query(p, flt, inner or None)
    if not inner:
        return [(point.id, point.score) for point in run(as_query, deadline)]
    limit = as_query.limit
    assert limit is not None
    sources = [_prefetch(q, flt, deadline, run, payloads_of, depth + 1) for q in inner]
    ranked = _combine(as_query, sources, limit, deadline, run, payloads_of)
    if p.score_threshold is not None:
        ranked = [(pid, s) for pid, s in ranked if s >= p.score_threshold]
    return ranked[:limit]


def _as_query(
    p: m.Prefetch, flt: m.Filter | None, inner: list[m.Prefetch] | None
) -> m.QueryRequest:
    """A prefetch as the query that answers it (its filter merged with the outer ones)."""
    # (``assembled``: a hybrid batch builds two of these per query; model_construct
    # took three times as long.)
    return m.assembled(
        m.QueryRequest,
        {
            "shard_key": None,
            "prefetch": inner,
            "query": p.query,
            "using": p.using,
            "filter": flt,
            "params": p.params,
            "score_threshold": p.score_threshold,
            "with_vector": None,
            "with_payload": False,
            "lookup_from": p.lookup_from,
            "limit": p.limit if p.limit is not None else 10,
            "offset": None,
        },
    )


def _combine(
    req: m.QueryRequest,
    sources: list[Results],
    wanted: int,
    deadline: Deadline,
    run: RunQuery,
    payloads_of: PayloadsOf,
) -> Results:
    """The prefetches' results combined by the query (best first, ``wanted`` of them):
    fused, rescored by a formula, or re-ranked by a query of the candidates (under the
    query's filter, converted only there: a fusion needs none)."""
    query = req.query
    if isinstance(query, m.FusionQuery):
        if query.fusion == "rrf":
            return rrf(sources, wanted)
        if query.fusion == "dbsf":
            return dbsf(sources, wanted)
        raise InvalidQuery(f"Wrong input: unknown fusion {query.fusion!r}; expected rrf or dbsf")
    if isinstance(query, m.RrfQuery):
        k, weights = _rrf_params(query.rrf, len(sources))
        return rrf(sources, wanted, k, weights)
    if isinstance(query, m.FormulaQuery):
        formula = compile_formula(query.formula, query.defaults)
        found = candidates(sources)
        return rescore(formula, sources, payloads_of(found), wanted)
    ids = candidates(sources)
    if not ids:
        return []
    restricted = _merged(_outer_filter(req), m.Filter(must=[m.HasIdCondition(has_id=ids)]))
    sub = m.QueryRequest(
        query=query,
        using=req.using,
        filter=restricted,
        params=req.params,
        score_threshold=req.score_threshold,  # a similarity threshold, as without prefetch
        limit=wanted,
        with_payload=False,
        lookup_from=req.lookup_from,
    )
    return [(point.id, point.score) for point in run(sub, deadline)]


def _rrf_params(params: dict[str, Any], n: int) -> tuple[int, list[float] | None]:
    k = params.get("k", RRF_K)
    k = RRF_K if k is None else k
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidQuery(f"Wrong input: rrf.k={k!r}; expected a positive integer")
    weights = params.get("weights")
    if weights is not None and (
        not isinstance(weights, list)
        or len(weights) != n
        or not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights)
    ):
        raise InvalidQuery(
            f"Wrong input: rrf.weights must be {n} numbers, one per prefetch; got {weights!r}"
        )
    unknown = set(params) - {"k", "weights"}
    if unknown:
        raise InvalidQuery(f"Wrong input: unknown rrf parameter {sorted(unknown)[0]!r}")
    return k, weights


def rrf(
    sources: Sequence[Results], limit: int, k: int = RRF_K, weights: list[float] | None = None
) -> Results:
    """Reciprocal rank fusion: a point scores ``sum(1 / (rank / weight + k))`` over the
    results it is in (``rank`` from 1); best first, ties in the order first seen."""
    scores: dict[PointId, float] = {}
    for i, results in enumerate(sources):
        weight = 1.0 if weights is None else float(weights[i])
        for rank, (pid, _) in enumerate(results):
            gain = 0.0 if weight <= 0 else 1.0 / ((rank + 1.0) / weight + k - 1.0)
            scores[pid] = scores.get(pid, 0.0) + gain
    return sorted(scores.items(), key=lambda item: -item[1])[:limit]


def dbsf(sources: Sequence[Results], limit: int) -> Results:
    """Distribution-based score fusion: each result's scores are mapped from
    ``mean ± 3 std`` to 0..1 (one score, or all equal: 0.5), then summed per point."""
    scores: dict[PointId, float] = {}
    for results in sources:
        if not results:
            continue
        values = np.asarray([s for _, s in results], dtype=np.float64)
        std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        if std == 0.0:
            normalised = np.full(len(values), 0.5)
        else:
            low = float(values.mean()) - 3 * std
            normalised = (values - low) / (6 * std)
        for (pid, _), value in zip(results, normalised.tolist(), strict=True):
            scores[pid] = scores.get(pid, 0.0) + value
    return sorted(scores.items(), key=lambda item: -item[1])[:limit]
