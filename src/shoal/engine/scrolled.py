"""Points picked by a scroll, not by a vector: payload order (scroll's ``order_by`` and the
``order_by`` query) and random samples (the ``sample`` query).

As Qdrant answers them (and qdrant-client's local mode, ``qdrant_client/local``):

* ordering by a payload key needs a payload index on it that serves ranges (integer, float
  or datetime); without one Qdrant refuses the request with the message ``order_index``
  raises. A point is ordered by each value of the key that index holds (an array's elements
  each, a value repeated in one point once): integers for an integer index (a stored ``2.0``
  is not one), numbers for a float index (ordered, and shown, as floats), datetime strings
  for a datetime index, ordered and shown as integer microseconds since the epoch (so that
  a scroll can resume from the last ``order_value`` it got: ``start_from`` is read the same
  way, a number as microseconds, a datetime as its instant). Ties are broken by point id;
  ``start_from`` is inclusive.
* a random sample is distinct points passing the filter, in random order.

The ``order_by`` and ``sample`` queries answer with score 1.0 and version 0, as Qdrant's,
the ``order_by`` query with each point's ``order_value``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import numpy as np

from shoal import models as m
from shoal.engine.deadline import Deadline
from shoal.engine.facets import FACET_VALUES, SKIP, held_values
from shoal.engine.payload_index import FieldIndex, PayloadIndexes
from shoal.engine.state import CollectionState
from shoal.errors import InvalidQuery
from shoal.filters.evaluate import parse_datetime
from shoal.filters.tree import Path, parse_key
from shoal.ids import sort_key
from shoal.index.topk import kth_largest

# Query kinds answered here (``Searcher`` dispatches them before preparing a vector query).
KINDS = (m.OrderByQuery, m.SampleQuery)
SAMPLES = ("random",)
# The payload index types that serve ranges, so can order (Qdrant's ``has_range_index``).
RANGE_INDEXES = (
    m.PayloadSchemaType.INTEGER,
    m.PayloadSchemaType.FLOAT,
    m.PayloadSchemaType.DATETIME,
)
_EXACT = 2**53  # integers an index's float64 values hold exactly
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
OrderValue = int | float


def _micros(dt: datetime) -> int:
    # Exact integer arithmetic (a float timestamp loses microseconds far from 1970).
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _float(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return SKIP


def _datetime(value: Any) -> Any:
    dt = parse_datetime(value) if isinstance(value, str) else None
    return SKIP if dt is None else _micros(dt)


# What each range index holds of a payload value, as its order value (SKIP: nothing).
ORDER_VALUES = {
    m.PayloadSchemaType.INTEGER: FACET_VALUES[m.PayloadSchemaType.INTEGER],  # within int64
    m.PayloadSchemaType.FLOAT: _float,
    m.PayloadSchemaType.DATETIME: _datetime,
}


def order_index(indexes: PayloadIndexes, key: str) -> FieldIndex:
    """The payload index that orders by ``key``.

    Args:
        indexes: the collection's payload indexes.
        key: the ``order_by`` key.

    Returns:
        The range index declared on the same path (the last declared).

    Raises:
        InvalidQuery: a malformed key, or no integer, float or datetime index on it
            (Qdrant's message, naming the key).
    """
    path = _path(key)
    usable = [f for f in indexes.fields.values() if f.schema in RANGE_INDEXES and f.path == path]
    if usable:
        return usable[-1]
    raise InvalidQuery(
        f"Wrong input: No range index for `order_by` key: `{key}`. Please create one to use "
        "`order_by`. Integer, float, and datetime payloads can have range indexes, see "
        "https://qdrant.tech/documentation/concepts/indexing/#payload-index."
    )


def order_by_of(value: str | m.OrderBy) -> m.OrderBy:
    """An ``order_by`` as given (a key, or ``OrderBy``) as an ``OrderBy``."""
    return m.OrderBy(key=value) if isinstance(value, str) else value


def _start(order: m.OrderBy, schema: m.PayloadSchemaType) -> OrderValue | None:
    start = order.start_from
    if start is None:
        return None
    if isinstance(start, datetime):
        if start.utcoffset() is None:  # naive means UTC, as Qdrant reads it
            start = start.replace(tzinfo=timezone.utc)
        return _micros(start)
    return float(start) if schema == m.PayloadSchemaType.FLOAT else start


def ordered(
    state: CollectionState,
    rows: np.ndarray,
    order: m.OrderBy,
    index: FieldIndex,
    limit: int,
    deadline: Deadline,
) -> list[tuple[int, OrderValue]]:
    """The first ``limit`` (row, value) entries of ``rows`` in payload order (the caller
    holds the state's read lock).

    The index's own values serve when it has them (a plain key path; integers below 2**53,
    which its float64 values hold exactly); otherwise the payloads are read.

    Args:
        state: the collection state.
        rows: the candidate rows (live points that pass the filter), ascending.
        order: the key, direction and ``start_from``.
        index: the key's range index (``order_index``).
        limit: entries wanted.
        deadline: checked every ``CHECK_EVERY`` rows.

    Returns:
        The entries, a point once per distinct value.

    Raises:
        RequestTimeout: ``deadline`` passed before every row was read.
    """
    deadline.check()
    schema = index.schema
    integers = schema == m.PayloadSchemaType.INTEGER
    desc = order.direction == m.Direction.DESC
    start = _start(order, schema)
    found = index.values(rows, integers)
    if found is None or (integers and len(found[1]) and np.abs(found[1]).max() >= _EXACT):
        found = _read(state, rows, order.key, schema, deadline)
    at, values = found
    if start is not None:
        keep = values <= start if desc else values >= start
        at, values = at[keep], values[keep]
    rank = -values if desc else values
    if len(rank) > limit > 0:  # the entries up to the limit-th value, with its ties
        keep = rank <= -kth_largest(-rank, limit)
        at, values, rank = at[keep], values[keep], rank[keep]
    keys = state.keys
    shown = int if schema != m.PayloadSchemaType.FLOAT else float
    entries = sorted(
        zip(rank.tolist(), values.tolist(), at.tolist(), strict=True),
        key=lambda e: (e[0], sort_key(keys[e[2]])),
    )
    return [(row, shown(v)) for _, v, row in entries[:limit]]


def _read(
    state: CollectionState,
    rows: np.ndarray,
    key: str,
    schema: m.PayloadSchemaType,
    deadline: Deadline,
) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, value) of ``rows`` as the index would hold it, read from the payloads."""
    at: list[int] = []
    values: list[OrderValue] = []
    found = held_values(state.payloads, rows.tolist(), _path(key), ORDER_VALUES[schema], deadline)
    for row, distinct in found:
        at += [row] * len(distinct)
        values += distinct
    # Exact either way: integers are within int64, datetimes microseconds.
    kind = np.float64 if schema == m.PayloadSchemaType.FLOAT else np.int64
    return np.asarray(at, np.int64), np.asarray(values, kind)


def sample(rows: np.ndarray, limit: int) -> np.ndarray:
    """``limit`` distinct rows of ``rows`` drawn at random, in random order (all of them,
    shuffled, when there are fewer)."""
    rng = np.random.default_rng()
    if limit >= len(rows):
        return rng.permutation(rows)
    return rng.choice(rows, size=limit, replace=False)


# Picks a query's (row, order value) entries: (state, candidate rows, how many, deadline).
Pick = Callable[[CollectionState, np.ndarray, int, Deadline], list[tuple[int, OrderValue | None]]]


def picker(query: m.OrderByQuery | m.SampleQuery, indexes: PayloadIndexes) -> Pick:
    """How an ``order_by`` or ``sample`` query picks its points.

    Raises:
        InvalidQuery: no range index on the ``order_by`` key, an unknown sample kind.
    """
    if isinstance(query, m.SampleQuery):
        check_sample(query)
        return lambda state, rows, n, deadline: [(r, None) for r in sample(rows, n).tolist()]
    order = order_by_of(query.order_by)
    index = order_index(indexes, order.key)

    def pick(
        state: CollectionState, rows: np.ndarray, n: int, deadline: Deadline
    ) -> list[tuple[int, OrderValue | None]]:
        return list(ordered(state, rows, order, index, n, deadline))

    return pick


def check_sample(query: m.SampleQuery) -> None:
    """Refuse a sample kind Qdrant does not have.

    Raises:
        InvalidQuery: naming it.
    """
    kind = getattr(query.sample, "value", query.sample)
    if kind not in SAMPLES:
        raise InvalidQuery(
            f"Wrong input: unknown sample {kind!r:.80}; expected one of {', '.join(SAMPLES)}"
        )


def _path(key: str) -> Path:
    try:
        return parse_key(key)
    except ValueError as exc:
        raise InvalidQuery(f"Wrong input: bad order_by key {key!r}: {exc}") from None
