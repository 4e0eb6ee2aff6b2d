"""What the HTTP transport checks in points and query vectors before it sends them.

Embedded, the engine checks every point's id and vectors and every query vector, with a
typed error. Over HTTP some bad values would never reach the server's checks intact: JSON
has no NaN or infinity (they would be sent as ``null``), an id beyond 64 bits arrives as a
float, a vector component that is a bool arrives as ``true``. So the HTTP transport refuses
them here, before sending, with the class the engine raises for them (and, where the engine
has one, its message). Payloads are checked beside these (``http.stored_payloads``); every
other part of a request was checked when it was built (``client/convert.py``).
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel

from shoal import models as m
from shoal.codec import check_sparse, float_rows, refuse_non_finite
from shoal.errors import InvalidVector, shown
from shoal.ids import canonical_id

M = TypeVar("M", bound=BaseModel)

QUERY = "(query)"  # how the engine names a query vector in its errors


def sendable_points(body: M) -> M:
    """``body`` with every point's id and vectors checked; a batch's vectors (built without
    validation by the upload helpers) as lists of floats.

    Raises:
        InvalidPointId: an id that is neither an unsigned 64-bit integer nor a UUID.
        InvalidVector: a vector that is not a flat list of finite numbers, or a vector name
            that is not valid Unicode; naming the point.
    """
    if isinstance(body, (m.PointsList, m.UpdateVectors)):
        for point in body.points:
            canonical_id(point.id)
            _vectors(point.vector, point.id)
        return body
    if isinstance(body, m.PointsBatch):
        batch = body.batch
        for pid in batch.ids:
            canonical_id(pid)
        vectors: Any = batch.vectors
        if isinstance(vectors, dict):
            vectors = {
                _name(name, "(batch)"): _column(column, batch.ids, name)
                for name, column in vectors.items()
            }
        else:
            vectors = _column(vectors, batch.ids, "")
        return body.model_copy(update={"batch": batch.model_copy(update={"vectors": vectors})})
    return body


def sendable_query(req: m.QueryRequest) -> m.QueryRequest:
    """``req`` if its query vector (if it has one) is a flat list of finite numbers.

    Raises:
        InvalidVector: as the engine raises it for the query.
    """
    query: Any = req.query.nearest if isinstance(req.query, m.NearestQuery) else req.query
    if _is_multivector(query):
        # Sizes are the server's to judge: only what JSON cannot carry is checked here.
        for row in query:
            _vector(row, req.using or "", QUERY)
    elif isinstance(query, (list, np.ndarray)):
        _vector(query, req.using or "", QUERY)
    return req


def _is_multivector(query: Any) -> bool:
    if isinstance(query, np.ndarray):
        return query.ndim == 2
    return isinstance(query, list) and bool(query) and all(isinstance(r, list) for r in query)


def _vectors(raw: Any, point: object) -> None:
    if isinstance(raw, dict):
        for name, vector in raw.items():
            _named(vector, _name(name, point), point)
    else:
        _named(raw, "", point)


def _column(column: Any, ids: list[Any], name: str) -> Any:
    if not isinstance(column, list):
        return column  # the server reports it, as the engine does
    return [_named(v, name, pid) for v, pid in zip(column, ids, strict=False)] + column[len(ids) :]


def _named(raw: Any, name: str, point: object) -> Any:
    """A named vector as sent: a dense one as a list of floats, a multivector as lists of
    them (its sizes are the server's to judge); a sparse one checked as the engine checks
    it (a NaN value would be sent as null); a document as it is."""
    if _is_multivector(raw):
        return [_vector(row, name, point) for row in raw]
    if isinstance(raw, m.SparseVector):
        check_sparse(raw, name=name, point=point)
        return raw
    if isinstance(raw, m.Document):
        return raw
    return _vector(raw, name, point)


def _name(name: Any, point: object) -> str:
    ok = isinstance(name, str) and (name.isascii() or _encodable(name))
    if not ok:
        raise InvalidVector(
            f"Wrong input: vector name {name!r:.60} of point {point} is not a valid string"
        )
    return str(name)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _vector(raw: Any, name: str, point: object) -> list[float]:
    """``raw`` as a list of floats if it is a flat list of finite numbers."""
    label = f"vector `{name}`" if name else "vector"
    try:
        if isinstance(raw, np.ndarray):
            arr = raw.astype(np.float64) if raw.dtype.kind in "fiub" else None
        else:
            arr = float_rows([raw], len(raw))[0] if isinstance(raw, (list, tuple)) else None
    except (TypeError, ValueError, OverflowError):
        arr = None
    if arr is None or arr.ndim != 1:
        raise InvalidVector(
            f"Wrong input: {label} of point {point} must be a flat list of numbers, "
            f"got {shown(raw)}"
        )
    refuse_non_finite(arr, arr, label, point)
    vector: list[float] = arr.tolist()
    return vector
