"""Validation of incoming points and paging arguments (vectors: ``shoal.codec``; payloads:
``shoal.payloads``), all checked before any write.

Every check names the offending point and value, and runs before the write is queued, so a
batch with one bad point is rejected whole and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shoal import models as m
from shoal.errors import InvalidPayload, InvalidVector
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
