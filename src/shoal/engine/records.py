"""Records: what a point looks like in an answer (its payload and vectors as the request
selects them), and the pages of points in id order that scroll returns (payload order:
``shoal.engine.scrolled``).

Everything here runs under the read side of the state lock (the caller takes it) and never
mutates the state; payloads are copied (``shoal.payloads.json_copy``) so that a caller may
change what it gets.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from itertools import repeat
from typing import Any

import numpy as np

from shoal import models as m
from shoal.codec import DEFAULT_VECTOR, Kept, SparseRow
from shoal.engine.state import CollectionState
from shoal.errors import InvalidQuery
from shoal.filters.tree import FLATTEN, parse_key
from shoal.ids import PointId, sort_key
from shoal.payloads import json_copy

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
        copied: dict[str, Any] = json_copy(payload) if payload else {}
        return copied
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
    state: CollectionState, row: int, selector: m.WithVectorInterface | None
) -> m.VectorStruct | None:
    """Apply ``with_vector``: vectors as stored (cosine ones normalised, sparse ones with
    their indices sorted). The unnamed vector is shown as a bare list when it is the only
    one shown, as Qdrant does (in a collection of named vectors too, where ``""`` is one of
    them); no vector is ``{}``."""
    if not selector:
        return None
    vectors = state.vectors_of(row)
    names = list(vectors) if selector is True else [n for n in selector if n in vectors]
    shown = {n: _shown(vectors[n]) for n in names}
    return shown[DEFAULT_VECTOR] if names == [DEFAULT_VECTOR] else shown


def _shown(vec: Kept) -> Any:
    """A kept vector as results carry it: a list, or a ``SparseVector`` (as qdrant-client
    and Shoal's HTTP client parse it)."""
    if isinstance(vec, SparseRow):
        return m.SparseVector.model_construct(
            indices=vec.indices.tolist(), values=vec.values.tolist()
        )
    return vec.tolist()


def page_records(
    state: CollectionState,
    rows: Iterable[int],
    with_payload: m.WithPayloadInterface | None,
    with_vector: m.WithVectorInterface | None,
    order_values: Iterable[float | int | None] | None = None,
) -> list[m.Record]:
    """Points as ``retrieve`` and ``scroll`` return them, built together so that they share
    one set of given fields (``models.assembled_many``): a scroll of a thousand records
    leaves a thousand fewer objects for the garbage collector to walk.

    Args:
        state: the collection state.
        rows: the points' rows (live ones).
        with_payload, with_vector: the request's selectors.
        order_values: the values a payload-ordered scroll ordered them by, one per row.

    Returns:
        The records, in the order of ``rows``.
    """
    at = np.fromiter(rows, np.int64)
    # Gathered with one index each (the state's columns are numpy object arrays).
    ids, stored = state.keys[at].tolist(), state.payloads[at].tolist()
    if with_payload is None or with_payload is True:  # the common case: no call per point
        payloads = [json_copy(p) if p else {} for p in stored]
    else:
        payloads = [project_payload(p, with_payload) for p in stored]
    vectors: Iterable[m.VectorStruct | None] = (
        [project_vectors(state, row, with_vector) for row in at.tolist()]
        if with_vector
        else repeat(None)
    )
    orders = repeat(None) if order_values is None else order_values
    values = [
        {"id": pid, "payload": payload, "vector": vector, "shard_key": None, "order_value": order}
        for pid, payload, vector, order in zip(ids, payloads, vectors, orders, strict=False)
    ]  # (zip stops at the ids: repeat(None) never ends)
    return m.assembled_many(m.Record, values)


# ----------------------------------------------------------------------- scroll


# A filter matching fewer than 1 / SORT_SHARE of the points is paged by sorting its rows.
SORT_SHARE = 8


def ordered_rows(state: CollectionState) -> np.ndarray:
    """Rows of live points in Qdrant's id order (ints ascending, then UUIDs), kept as an
    array: a list of every row would be walked by each full garbage collection."""
    cache = state.order_cache
    if cache is not None and cache[0] == state.generation:
        return cache[1]
    keys = state.keys
    listed = sorted(state.row_of.values(), key=lambda r: sort_key(keys[r]))  # type: ignore[arg-type]
    rows = np.array(listed, dtype=np.int64)
    state.order_cache = (state.generation, rows)
    return rows


def scroll_by_id(
    state: CollectionState, matching: np.ndarray | None, offset: PointId | None, limit: int
) -> tuple[list[int], PointId | None]:
    """A page of rows from ``offset`` (inclusive) in id order, and the next page's first id.

    Args:
        matching: the rows a filter matches, ascending (None: every live row).
    """
    if matching is not None and len(matching) * SORT_SHARE < len(state):
        # A selective filter: sort its rows only (the whole id order is re-sorted after
        # every write, which under steady writes cost each scroll a sort of the collection).
        keys = state.keys
        listed = sorted(matching.tolist(), key=lambda r: sort_key(keys[r]))  # type: ignore[arg-type]
        return _page(state, np.array(listed, dtype=np.int64), None, offset, limit)
    return _page(state, ordered_rows(state), matching, offset, limit)


def _page(
    state: CollectionState,
    rows: np.ndarray,
    matching: np.ndarray | None,
    offset: PointId | None,
    limit: int,
) -> tuple[list[int], PointId | None]:
    start = 0
    if offset is not None:
        sk = sort_key(offset)
        keys = state.keys
        start = bisect.bisect_left(rows, sk, key=lambda r: sort_key(keys[r]))  # type: ignore[arg-type]
    if matching is not None:
        wanted = np.zeros(state.high, dtype=bool)
        wanted[matching] = True
        rest = rows[start:]
        rows, start = rest[wanted[rest]], 0
    page: list[int] = rows[start : start + limit].tolist()
    more = start + limit < len(rows)
    return page, state.keys[rows[start + limit]] if more else None
