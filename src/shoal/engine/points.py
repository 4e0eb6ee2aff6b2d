"""Validation of incoming points: ids, vectors and payloads, all checked before any write.

Every check names the offending point and value, and runs before the write is queued, so a
batch with one bad point is rejected whole and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shoal import models as m
from shoal.errors import InvalidPayload, InvalidQuery, InvalidVector, WrongVectorSize
from shoal.ids import PointId, canonical_id

# The name of the single unnamed vector, as in Qdrant.
DEFAULT_VECTOR = ""


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows; a zero row stays zero (it has no direction to keep)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    out: np.ndarray = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return out


def check_vector(raw: Any, params: m.VectorParams, *, name: str, point: object) -> np.ndarray:
    """Validate one vector and bring it to its stored form (float32, normalised for cosine).

    Raises:
        InvalidVector: not a flat list of finite numbers.
        WrongVectorSize: its length differs from the configured size.
    """
    label = f"vector `{name}`" if name else "vector"
    try:
        # A list through float_rows: np.asarray would parse a str component as a number.
        flat = type(raw) is list and all(type(x) is not list for x in raw)
        arr = m.float_rows([raw], len(raw))[0] if flat else np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # Overflow: an int beyond float64
        raise InvalidVector(
            f"Wrong input: {label} of point {point} must be a list of numbers, got {raw!r:.80}"
        ) from None
    if arr.ndim != 1:
        raise InvalidVector(
            f"Wrong input: {label} of point {point} must be a flat list of numbers "
            f"(got an array of shape {arr.shape})"
        )
    if arr.shape[0] != params.size:
        raise WrongVectorSize(params.size, arr.shape[0], name=name, where=f"point {point}")
    # Checked after the cast: a finite float64 above float32's range (~3.4e38) would
    # otherwise be stored as inf.
    with np.errstate(over="ignore"):
        vec = arr.astype(np.float32)
    if not np.isfinite(vec).all():
        bad = int(np.flatnonzero(~np.isfinite(vec))[0])
        raise InvalidVector(
            f"Wrong input: {label} of point {point} has the component {arr[bad]} at index "
            f"{bad}; vectors must be finite float32 numbers (|x| < 3.4e38)"
        )
    if params.distance == m.Distance.COSINE:
        vec = normalize_rows(vec)
    return vec


def check_vector_rows(raws: Sequence[Any], params: m.VectorParams) -> list[np.ndarray | None]:
    """Many vectors (a batch's queries, a write group's points) in one conversion: their
    stored forms, or None for a vector that needs ``check_vector`` (a bad one; that call
    raises its error, naming it).

    One conversion over the batch replaces a conversion, a finiteness test and a norm per
    vector, the largest part of a small query's or point's cost in a batch.
    """
    if not raws:
        return []
    try:
        if all(type(raw) is list for raw in raws):  # a written point's or a client's vector
            arr = m.float_rows(raws, params.size)
        else:
            arr = np.array(raws, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # Overflow: an int beyond float64
        return [None] * len(raws)
    if arr.ndim != 2 or arr.shape[1] != params.size:
        return [None] * len(raws)
    with np.errstate(over="ignore"):
        rows = arr.astype(np.float32)
    good: list[bool] = np.isfinite(rows).all(axis=1).tolist()  # type: ignore[assignment]
    if params.distance == m.Distance.COSINE:
        rows = normalize_rows(rows)
    return [row if ok else None for row, ok in zip(rows, good, strict=True)]


def check_vectors(
    raw: Any, config: dict[str, m.VectorParams], named: bool, *, point: object
) -> dict[str, np.ndarray]:
    """Validate a point's vector struct (one list, or a dict of named vectors)."""
    items: list[tuple[str, Any]]
    if isinstance(raw, dict):
        items = list(raw.items())
    elif named:
        raise InvalidVector(
            f"Wrong input: point {point} gives an unnamed vector but the collection has named "
            f"vectors {sorted(config)}; pass a dict of name -> vector"
        )
    else:
        items = [(DEFAULT_VECTOR, raw)]
    out = {}
    for name, vec in items:
        params = config.get(name)
        if params is None:
            expected = sorted(config) if named else "an unnamed vector"
            raise InvalidVector(
                f"Wrong input: Not existing vector name error: {name!r} (point {point}); "
                f"the collection has {expected}"
            )
        out[name] = check_vector(vec, params, name=name, point=point)
    return out


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


def check_limit(value: int | None, default: int, what: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidQuery(f"Wrong input: {what} must be a non-negative integer, got {value!r}")
    return value


def ids_of(values: Sequence[Any]) -> list[PointId]:
    """Canonical ids, in order, without duplicates."""
    seen: dict[PointId, None] = {}
    for v in values:
        seen.setdefault(canonical_id(v), None)
    return list(seen)
