"""A query's result page: its ``limit`` and ``offset``, and the ``ScoredPoint`` objects of
the rows it found, with payloads and vectors as the request selects them. Every query kind
builds its page here (``shoal.engine.query``; scrolls have their own, ``records``)."""

from __future__ import annotations

from collections.abc import Sequence

from shoal import models as m
from shoal.engine import records
from shoal.engine.scrolled import OrderValue
from shoal.engine.state import CollectionState
from shoal.errors import InvalidQuery
from shoal.payloads import CONTAINERS, json_copy


def page_bounds(req: m.QueryRequest) -> tuple[int, int]:
    """A query's ``limit`` (default 10) and ``offset`` (default 0).

    Raises:
        InvalidQuery: either is not a non-negative integer.
    """
    limit = 10 if req.limit is None else req.limit
    offset = 0 if req.offset is None else req.offset
    if type(limit) is int and type(offset) is int and limit >= 0 and offset >= 0:
        return limit, offset
    return check_limit(req.limit, 10, "limit"), check_limit(req.offset, 0, "offset")


def check_limit(value: int | None, default: int, what: str) -> int:
    """A ``limit`` or ``offset``: a non-negative integer, ``default`` when None.

    Raises:
        InvalidQuery: anything else.
    """
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidQuery(f"Wrong input: {what} must be a non-negative integer, got {value!r}")
    return value


def scrolled_page(
    state: CollectionState, entries: Sequence[tuple[int, OrderValue | None]], req: m.QueryRequest
) -> list[m.ScoredPoint]:
    """The page of a query answered by a scroll (order_by, sample, no vector): score 1.0 and
    version 0 (as Qdrant's), the order value if any."""
    rows = [row for row, _ in entries]
    values = [value for _, value in entries]
    return scored_points(state, rows, [1.0] * len(rows), [0] * len(rows), req, values)


def scored_points(
    state: CollectionState,
    rows: Sequence[int],
    scores: Sequence[float],
    versions: Sequence[int],
    req: m.QueryRequest,
    order_values: Sequence[OrderValue | None] | None = None,
) -> list[m.ScoredPoint]:
    """The one builder of query pages (nearest, prefetched and scrolled queries): the points
    at ``rows`` with their scores, versions and order values, payloads and vectors as
    ``req`` selects them (``records.project_payload``, ``records.project_vectors``)."""
    # Qdrant's QueryRequest: no payload unless asked for (the clients ask by default).
    selector = False if req.with_payload is None else req.with_payload
    with_vector = req.with_vector
    keys, stored = state.keys, state.payloads
    values = [None] * len(rows) if order_values is None else order_values
    points = []
    for row, score, version, value in zip(rows, scores, versions, values, strict=True):
        payload = stored[row]
        if selector is not True:
            payload = records.project_payload(payload, selector)
        elif not payload:
            payload = {}
        else:  # the common case, copied here: no call per point on every query's path
            for item in payload.values():
                if type(item) in CONTAINERS:
                    payload = json_copy(payload)
                    break
            else:  # flat (most payloads): a shallow copy is a deep one
                payload = payload.copy()
        points.append(
            {
                "id": keys[row],
                "version": version,
                "score": score,
                "payload": payload,
                "vector": records.project_vectors(state, row, with_vector) if with_vector else None,
                "shard_key": None,
                "order_value": value,
            }
        )
    return m.assembled_many(m.ScoredPoint, points)
