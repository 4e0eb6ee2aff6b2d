"""Validation of incoming points, paging arguments and payload key paths (vectors:
``shoal.codec``; payloads: ``shoal.payloads``), all checked before any write.

Every check names the offending point and value, and runs before the write is queued, so a
batch with one bad point is rejected whole and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shoal import models as m
from shoal.errors import InvalidPayload, InvalidVector
from shoal.filters.tree import parse_key
from shoal.ids import PointId, canonical_id


def points_from_batch(batch: m.Batch) -> list[m.PointStruct]:
    """Turn the column form (``Batch``) into point structs, checking the lengths agree."""
    n = len(batch.ids)
    vectors = batch.vectors
    if isinstance(vectors, dict):
        for name, column in vectors.items():
            if len(column) != n:
                raise InvalidVector(
                    f"Wrong input: batch has {n} ids but {len(column)} vectors named {name!r}"
                )
        per_point: list[Any] = [{k: col[i] for k, col in vectors.items()} for i in range(n)]
    else:
        if len(vectors) != n:
            raise InvalidVector(f"Wrong input: batch has {n} ids but {len(vectors)} vectors")
        per_point = list(vectors)
    payloads: Sequence[Any] = batch.payloads if batch.payloads is not None else [None] * n
    if len(payloads) != n:
        raise InvalidPayload(f"Wrong input: batch has {n} ids but {len(payloads)} payloads")
    return [
        m.assembled(m.PointStruct, {"id": i, "vector": v, "payload": p})
        for i, v, p in zip(batch.ids, per_point, payloads, strict=True)
    ]


def ids_of(values: Sequence[Any]) -> list[PointId]:
    """Canonical ids, in order, without duplicates."""
    seen: dict[PointId, None] = {}
    for v in values:
        seen.setdefault(canonical_id(v), None)
    return list(seen)


def point_list(points: Sequence[m.PointStruct] | m.Batch) -> list[m.PointStruct]:
    """An upsert's points as a list (a ``Batch`` turned into point structs)."""
    return points_from_batch(points) if isinstance(points, m.Batch) else list(points)


def points_of(body: m.PointsList | m.PointsBatch) -> list[m.PointStruct]:
    """The points of an upsert request body."""
    return points_from_batch(body.batch) if isinstance(body, m.PointsBatch) else body.points


def payload_selector(req: m.SetPayload | m.DeletePayload) -> m.PointsSelector:
    """The points a payload operation applies to: its ids or its filter.

    Raises:
        InvalidPayload: both, or neither.
    """
    if req.points is not None and req.filter is not None:
        raise InvalidPayload("Wrong input: give either points or filter, not both")
    if req.points is not None:
        return m.PointIdsList(points=req.points)
    if req.filter is not None:
        return m.FilterSelector(filter=req.filter)
    raise InvalidPayload("Wrong input: payload operation needs points or a filter")


def set_key_path(key: str) -> tuple[str | int, ...]:
    """A ``set_payload`` key's path: keys, array indices and ``[]`` (every element), as in
    Qdrant; it starts with a key.

    Raises:
        InvalidPayload: a malformed key, or one that starts with an index.
    """
    try:
        path = parse_key(key)
    except ValueError as exc:
        raise InvalidPayload(f"Wrong input: bad payload key {key!r}: {exc}") from None
    if not isinstance(path[0], str) or path[0] == "[]":
        raise InvalidPayload(f"Wrong input: payload key {key!r} must start with a key")
    return tuple(s if isinstance(s, int) else str(s) for s in path)


def key_path(key: str) -> tuple[str, ...]:
    """A payload key's path of object keys (``a.b.c``); no array index.

    Raises:
        InvalidPayload: a malformed key, or one that indexes into arrays.
    """
    try:
        path = parse_key(key)
    except ValueError as exc:
        raise InvalidPayload(f"Wrong input: bad payload key {key!r}: {exc}") from None
    if not all(isinstance(s, str) and s != "[]" for s in path):
        raise InvalidPayload(f"Wrong input: payload key {key!r} may not index into arrays")
    return tuple(str(s) for s in path)
