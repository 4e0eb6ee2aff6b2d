"""Read operations of a collection: query, scroll, count, retrieve, and result shaping.

All functions here run under the read side of the state lock (the caller takes it) and
never mutate the state.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shoal import models as m
from shoal.codec import DEFAULT_VECTOR, check_vector, check_vector_rows
from shoal.engine.deadline import Deadline
from shoal.engine.filtering import CHECK_EVERY, CompiledFilter, with_deadline
from shoal.engine.query_plan import QueryContext, search_column
from shoal.engine.search import Hits, higher_is_better
from shoal.engine.state import CollectionState
from shoal.errors import InvalidQuery, PointNotFound
from shoal.filters import Predicate
from shoal.filters.evaluate import parse_datetime, values_at
from shoal.filters.tree import FLATTEN, parse_key
from shoal.ids import PointId, canonical_id, sort_key

# ------------------------------------------------------------------- projection


def project_payload(
    payload: dict[str, Any] | None, selector: m.WithPayloadInterface | None
) -> dict[str, Any] | None:
    """Apply ``with_payload``: True → all ({} when none), False → None, keys → a subset.

    Always a copy: the caller may mutate what it gets without touching the stored payload.
    Keys are paths (``a.b``, ``a[].b``) with Qdrant's meaning: ``include`` keeps a value
    whose path and some key agree on their common prefix, ``exclude`` drops a value whose
    path starts with some key.
    """
    if selector is None or selector is True:
        return json_copy(payload) if payload else {}
    if selector is False:
        return None
    exclude = isinstance(selector, m.PayloadSelectorExclude)
    keys = (
        selector.exclude
        if isinstance(selector, m.PayloadSelectorExclude)
        else selector.include
        if isinstance(selector, m.PayloadSelectorInclude)
        else selector
    )
    try:
        patterns = [list(parse_key(k)) for k in keys]
    except ValueError as exc:
        raise InvalidQuery(f"Wrong input: with_payload: {exc}") from None

    def keep(path: list[Any]) -> bool:
        if exclude:
            return not any(path[: len(p)] == p for p in patterns if len(path) >= len(p))
        return any(all(a == b for a, b in zip(path, p, strict=False)) for p in patterns)

    selected: dict[str, Any] = _select(payload or {}, [], keep)
    return selected


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars): several times faster than
    ``copy.deepcopy``, which matters on the hot path of every query result."""
    if type(value) is dict:
        for v in value.values():
            if type(v) in _CONTAINERS:
                return {k: json_copy(v) if type(v) in _CONTAINERS else v for k, v in value.items()}
        return value.copy()  # flat (most payloads): a shallow copy is a deep one
    if type(value) is list:
        return [json_copy(v) if type(v) in _CONTAINERS else v for v in value]
    return value


_CONTAINERS = (dict, list)


def _select(value: Any, path: list[Any], keep: Any) -> Any:
    """A copy of ``value`` with only the parts ``keep(path)`` accepts (array elements have
    the path step ``[]``); ``keep=None`` keeps everything."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            path.append(k)
            if keep is None or keep(path):
                out[k] = _select(v, path, keep)
            path.pop()
        return out
    if isinstance(value, list):
        path.append(FLATTEN)
        items = [_select(v, path, keep) for v in value] if keep is None or keep(path) else []
        path.pop()
        return items
    return value


def project_vectors(
    state: CollectionState, row: int, selector: m.WithVectorInterface | None, named: bool
) -> m.VectorStruct | None:
    """Apply ``with_vector``: vectors as stored (cosine ones normalised)."""
    if not selector:
        return None
    vectors = state.vectors_of(row)
    if not named and selector is True:
        vec = vectors.get(DEFAULT_VECTOR)
        return None if vec is None else vec.tolist()
    names = list(vectors) if selector is True else list(selector)
    return {n: vectors[n].tolist() for n in names if n in vectors}


def record(
    state: CollectionState,
    row: int,
    with_payload: m.WithPayloadInterface | None,
    with_vector: m.WithVectorInterface | None,
    named: bool,
    order_value: float | int | None = None,
) -> m.Record:
    pid = state.keys[row]
    assert pid is not None, "a live row always has an id"
    return m.Record.model_construct(
        id=pid,
        payload=project_payload(state.payloads[row], with_payload),
        vector=project_vectors(state, row, with_vector, named),
        shard_key=None,
        order_value=order_value,
    )


# ------------------------------------------------------------------------ query


@dataclass
class PreparedQuery:
    """A query reduced to what the search needs: a vector, eligible rows and paging.

    Attributes:
        filter: the compiled filter (its tree lets payload indexes answer it).
        exact: ``search_params.exact``: never use the HNSW index.
        ef: ``search_params.hnsw_ef``, None for the default.
        oversampling: ``search_params.quantization.oversampling``: candidates fetched from
            the index per result, before exact re-ranking.
    """

    request: m.QueryRequest
    name: str
    vector: np.ndarray | None
    exclude_row: int | None
    predicate: Predicate | None
    limit: int
    offset: int
    filter: CompiledFilter | None = None
    exact: bool = False
    ef: int | None = None
    oversampling: float = 1.0


def vector_name(request_using: str | None, config: dict[str, m.VectorParams], named: bool) -> str:
    name = request_using if request_using is not None else DEFAULT_VECTOR
    if name not in config:
        have = sorted(config) if named else "only the unnamed vector"
        raise InvalidQuery(f"Wrong input: Not existing vector name error: {name!r}; have {have}")
    return name


def search_options(params: m.SearchParams | None) -> tuple[bool, int | None, float]:
    """``search_params`` as (exact, hnsw_ef, oversampling).

    Raises:
        InvalidQuery: a non-positive ``hnsw_ef`` or ``oversampling``.
    """
    if params is None:
        return False, None, 1.0
    ef = params.hnsw_ef
    if ef is not None and (isinstance(ef, bool) or ef < 1):
        raise InvalidQuery(f"Wrong input: search_params.hnsw_ef must be >= 1, got {ef!r}")
    quantization = params.quantization
    oversampling = 1.0
    if quantization is not None and quantization.oversampling is not None:
        oversampling = quantization.oversampling
        if not oversampling > 0:
            raise InvalidQuery(
                f"Wrong input: search_params.quantization.oversampling must be > 0, "
                f"got {oversampling!r}"
            )
    return bool(params.exact), ef, oversampling


def query_vectors(
    requests: Sequence[m.QueryRequest], config: dict[str, m.VectorParams]
) -> list[np.ndarray | None]:
    """The checked vectors of the queries that give one, converted together per vector
    name; None for the rest (a query by id, or a vector ``check_vector`` must reject)."""
    out: list[np.ndarray | None] = [None] * len(requests)
    by_name: dict[str, tuple[list[int], list[Any]]] = {}
    for i, req in enumerate(requests):
        query = req.query.nearest if isinstance(req.query, m.NearestQuery) else req.query
        name = DEFAULT_VECTOR if req.using is None else req.using
        if isinstance(query, (list, np.ndarray)) and name in config:
            idxs, raws = by_name.setdefault(name, ([], []))
            idxs.append(i)
            raws.append(query)
    for name, (idxs, raws) in by_name.items():
        for i, vec in zip(idxs, check_vector_rows(raws, config[name]), strict=True):
            out[i] = vec
    return out


def resolve_query_vector(
    state: CollectionState, query: m.QueryInterface | None, name: str
) -> tuple[np.ndarray | None, int | None]:
    """The query's vector and, for a query by point id, that point's row (to exclude)."""
    if isinstance(query, m.NearestQuery):
        query = query.nearest
    if query is None:
        return None, None
    params = state.vector_params[name]
    if isinstance(query, (list, np.ndarray)):
        return check_vector(query, params, name=name, point="(query)"), None
    pid = canonical_id(query)
    row = state.row(pid)
    if row is None:
        raise PointNotFound(pid)
    vec = state.vector(row, name)
    if vec is None:
        raise InvalidQuery(f"Wrong input: point {pid} has no vector named {name!r}")
    return vec, row


def run_queries(
    state: CollectionState, prepared: list[PreparedQuery], ctx: QueryContext
) -> list[list[m.ScoredPoint]]:
    """Answer prepared queries of one collection: per vector column, exact products or the
    HNSW index, as ``shoal.engine.query_plan`` decides for each.

    Args:
        state: the collection state (the caller holds its read lock).
        prepared: the queries.
        ctx: the batch's context (invalid rows, ANN and payload indexes).

    Returns:
        One result page per query.
    """
    pages: list[list[m.ScoredPoint]] = [[] for _ in prepared]
    by_name: dict[str, list[int]] = {}
    for i, pq in enumerate(prepared):
        if pq.vector is None:
            pages[i] = no_vector_page(state, pq, ctx.deadline)
        else:
            by_name.setdefault(pq.name, []).append(i)
    for name, idxs in by_name.items():
        hits = search_column(state, name, [prepared[i] for i in idxs], ctx)
        for i, h in zip(idxs, hits, strict=True):
            pages[i] = scored_points(state, prepared[i], h)
    return pages


def scored_points(state: CollectionState, pq: PreparedQuery, hits: Hits) -> list[m.ScoredPoint]:
    """Turn a query's hits into its result page: drop the query point itself, apply offset,
    limit and score_threshold, and project payloads and vectors."""
    req = pq.request
    rows, scores = hits.rows, hits.scores
    if pq.exclude_row is not None:
        keep = rows != pq.exclude_row
        rows, scores = rows[keep], scores[keep]
    rows, scores = rows[pq.offset : pq.offset + pq.limit], scores[pq.offset : pq.offset + pq.limit]
    threshold = req.score_threshold
    higher = higher_is_better(state.vector_params[pq.name].distance)
    named = not (len(state.vector_params) == 1 and DEFAULT_VECTOR in state.vector_params)
    keys, payloads = state.keys, state.payloads
    selector, with_vector = req.with_payload, req.with_vector
    whole = selector is None or selector is True  # the common case, copied directly
    out = []
    for row, score, version in zip(
        rows.tolist(), scores.tolist(), state.versions[rows].tolist(), strict=True
    ):
        # Strict, as Qdrant's `check_threshold`: a score equal to the threshold is dropped.
        if threshold is not None and (score <= threshold if higher else score >= threshold):
            continue
        payload = payloads[row]
        out.append(
            m.assembled(
                m.ScoredPoint,
                {
                    "id": keys[row],
                    "version": version,
                    "score": score,
                    "payload": (json_copy(payload) if payload else {})
                    if whole
                    else project_payload(payload, selector),
                    "vector": project_vectors(state, row, with_vector, named)
                    if with_vector
                    else None,
                    "shard_key": None,
                    "order_value": None,
                },
            )
        )
    return out


def no_vector_page(
    state: CollectionState, pq: PreparedQuery, deadline: Deadline
) -> list[m.ScoredPoint]:
    """Points in id order with score 0: a query without a vector (as Qdrant answers it).

    Raises:
        RequestTimeout: ``deadline`` passed while the filter was tested.
    """
    rows = ordered_rows(state)
    if pq.predicate is not None:
        pred = with_deadline(pq.predicate, deadline)
        rows = [r for r in rows if pred(state.payloads[r] or {}, state.keys[r])]  # type: ignore[arg-type]
    page = np.asarray(rows[pq.offset : pq.offset + pq.limit], dtype=np.int64)
    return scored_points(
        state,
        PreparedQuery(pq.request, pq.name, None, None, None, len(page), 0),
        Hits(page, np.zeros(len(page), np.float32)),
    )


# ----------------------------------------------------------------------- scroll


def ordered_rows(state: CollectionState) -> list[int]:
    """Rows of live points in Qdrant's id order (ints ascending, then UUIDs)."""
    cache = state.order_cache
    if cache is not None and cache[0] == state.generation:
        return cache[1]
    rows = sorted(state.row_of.values(), key=lambda r: sort_key(state.keys[r]))  # type: ignore[arg-type]
    state.order_cache = (state.generation, rows)
    return rows


def scroll_by_id(
    state: CollectionState, pred: Predicate | None, offset: PointId | None, limit: int
) -> tuple[list[int], PointId | None]:
    """A page of rows from ``offset`` (inclusive) in id order, and the next page's first id."""
    rows = ordered_rows(state)
    start = 0
    if offset is not None:
        sk = sort_key(offset)
        start = bisect.bisect_left(rows, sk, key=lambda r: sort_key(state.keys[r]))  # type: ignore[arg-type]
    page: list[int] = []
    for r in rows[start:]:
        pid = state.keys[r]
        if pred is not None and not pred(state.payloads[r] or {}, pid):  # type: ignore[arg-type]
            continue
        if len(page) == limit:
            return page, pid
        page.append(r)
    return page, None


def scroll_by_payload(
    state: CollectionState,
    pred: Predicate | None,
    order: m.OrderBy,
    limit: int,
    deadline: Deadline,
) -> list[tuple[int, float | int]]:
    """Rows ordered by a numeric or datetime payload value (a point appears once per value).

    Raises:
        RequestTimeout: ``deadline`` passed before every point was read.
    """
    path = parse_key(order.key)
    desc = order.direction == m.Direction.DESC
    start = order.start_from
    start_key = _order_key(start) if start is not None else None
    entries: list[tuple[float, float | int, int]] = []
    for n, r in enumerate(state.live_rows().tolist()):
        if n % CHECK_EVERY == 0:
            deadline.check()
        payload = state.payloads[r] or {}
        if pred is not None and not pred(payload, state.keys[r]):
            continue
        for v in values_at(payload, path):
            k = _order_key(v)
            if k is None:
                continue
            if start_key is not None and (k > start_key if desc else k < start_key):
                continue
            entries.append((k, v if isinstance(v, (int, float)) else k, r))
    entries.sort(key=lambda e: (-e[0] if desc else e[0], sort_key(state.keys[e[2]])))  # type: ignore[arg-type]
    return [(r, v) for _, v, r in entries[:limit]]


def _order_key(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    dt = parse_datetime(value)
    return None if dt is None else dt.timestamp()
