"""Facet counts (Qdrant's ``facet``): how many points hold each value of a payload key.

Qdrant reads facets from a payload index, so it answers only for a key with a keyword,
integer, uuid or bool index, and counts only the values that index holds: strings for
keyword, 64-bit integers for integer (a stored ``2.0`` is not one), UUID strings (written
canonical, lowercase with hyphens) for uuid, booleans for bool. Shoal refuses a key without
such an index with Qdrant's message, and counts the same values from the points' payloads.

A point counts once per distinct value it holds (an array counts each distinct element
once); the hits come by count, highest first, then by value. Counts are always exact:
Qdrant's ``exact=false`` asks for an estimate, which an exact count also satisfies.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from shoal import models as m
from shoal.engine.deadline import Deadline
from shoal.engine.filtering import CHECK_EVERY
from shoal.engine.matrix import at_least
from shoal.errors import InvalidQuery
from shoal.filters.evaluate import values_at
from shoal.filters.tree import Path, parse_key
from shoal.gil import shared

DEFAULT_LIMIT = 10
_I64 = 2**63
SKIP: Any = object()  # a value the index does not hold


def _keyword(value: Any) -> Any:
    return value if isinstance(value, str) else SKIP


def _integer(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and -_I64 <= value < _I64:
        return value
    return SKIP


def _boolean(value: Any) -> Any:
    return value if isinstance(value, bool) else SKIP


def _uuid(value: Any) -> Any:
    if not isinstance(value, str):
        return SKIP
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return SKIP


# What each index type that can facet holds of a payload value (SKIP: nothing).
FACET_VALUES: dict[m.PayloadSchemaType, Callable[[Any], Any]] = {
    m.PayloadSchemaType.KEYWORD: _keyword,
    m.PayloadSchemaType.INTEGER: _integer,
    m.PayloadSchemaType.UUID: _uuid,
    m.PayloadSchemaType.BOOL: _boolean,
}


def facet_index(indexes: Mapping[str, m.PayloadSchemaType], key: str) -> m.PayloadSchemaType:
    """The type of the payload index a facet on ``key`` reads.

    Args:
        indexes: the collection's payload indexes (field name -> type).
        key: the facet's payload key.

    Returns:
        The type of the index declared on the same path.

    Raises:
        InvalidQuery: a malformed key, or no keyword, integer, uuid or bool index on it
            (Qdrant's message, naming the key and any index of another type).
    """
    path = _path(key)
    found = [schema for field, schema in indexes.items() if _path(field) == path]
    usable = [schema for schema in found if schema in FACET_VALUES]
    if usable:
        return usable[-1]
    other = f" (its index is of type {found[-1].value})" if found else ""
    raise InvalidQuery(
        f"Wrong input: No appropriate index for faceting: `{key}`{other}. Please create one "
        "to facet on this field: a keyword, integer, uuid or bool payload index"
    )


def check_facet_limit(limit: int | None) -> int:
    """A facet's ``limit``: a whole number of at least 1 (Qdrant's), 10 when None.

    Raises:
        InvalidQuery: anything else, naming it.
    """
    return at_least(limit, DEFAULT_LIMIT, 1, "limit")


def count_values(
    payloads: np.ndarray,
    rows: Iterable[int],
    key: str,
    schema: m.PayloadSchemaType,
    deadline: Deadline,
) -> Counter[Any]:
    """Per value of ``key`` held by an index of type ``schema``, the number of ``rows`` that
    hold it (each row counts a value once).

    Args:
        payloads: the payload of every row.
        rows: the rows to count (live points that match the facet's filter).
        key: the payload key.
        schema: the facet's index type (one of ``FACET_VALUES``).
        deadline: checked every ``CHECK_EVERY`` rows.

    Returns:
        The counts.

    Raises:
        RequestTimeout: the deadline passed first.
    """
    counts: Counter[Any] = Counter()
    for _, values in held_values(
        payloads, shared(rows), _path(key), FACET_VALUES[schema], deadline
    ):
        counts.update(values)
    return counts


def held_values(
    payloads: np.ndarray,
    rows: Iterable[int],
    path: Path,
    held: Callable[[Any], Any],
    deadline: Deadline,
) -> Iterator[tuple[int, set[Any]]]:
    """Each row with the distinct values at ``path`` that an index holds (``held`` maps a
    payload value to the index's value, or to ``SKIP``); rows with none are left out.

    Raises:
        RequestTimeout: the deadline passed first (checked every ``CHECK_EVERY`` rows).
    """
    for i, row in enumerate(rows):
        if not i % CHECK_EVERY:
            deadline.check()
        payload = payloads[row]
        if not payload:
            continue
        values = {held(v) for v in values_at(payload, path)}
        values.discard(SKIP)
        if values:
            yield row, values


def facet(
    payloads: np.ndarray,
    rows: np.ndarray,
    req: m.FacetRequest,
    schema: m.PayloadSchemaType,
    deadline: Deadline,
) -> m.FacetResponse:
    """Answer a facet request over the rows that match its filter.

    Args:
        payloads: the payload of every row.
        rows: the live rows matching the request's filter.
        req: the request.
        schema: the type of the key's index (``facet_index``).
        deadline: checked as the rows are counted.

    Returns:
        The hits.

    Raises:
        InvalidQuery: a limit below 1. RequestTimeout: the deadline passed first.
    """
    limit = check_facet_limit(req.limit)
    return top_hits(count_values(payloads, rows.tolist(), req.key, schema, deadline), limit)


def top_hits(counts: Counter[Any], limit: int) -> m.FacetResponse:
    """The ``limit`` most frequent values: by count, highest first, then by value (the
    values of one facet are all of one type, so they order)."""
    best = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return m.FacetResponse(hits=[m.FacetValueHit(value=v, count=c) for v, c in best])


def _path(key: str) -> Path:
    try:
        return parse_key(key)
    except ValueError as exc:
        raise InvalidQuery(f"Wrong input: bad facet key {key!r}: {exc}") from None
