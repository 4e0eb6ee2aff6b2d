"""The vector codec: vectors as callers give them, checked, in the form Shoal keeps them, and
packed for storage.

Base floor (beside models, errors, ids and payloads): the engine checks every written point's
and every query's vector here, the HTTP client reads vectors with ``float_rows`` before it
sends them, and the LangChain store turns an async search's embedding into an array with it.
A vector's kept form is float32, normalised for Cosine (so that Cosine is a dot product).
Storage keeps a point's vectors as one blob: every named vector in configuration order, an
absent one as NaNs (no valid vector contains one).

Dense vectors are the only kind today; the next kinds (sparse, multivector) get their
codec here beside them.

This module imports no other Shoal module at run time but ``shoal.errors`` (``shoal.models``
keeps a deprecated alias of ``float_rows`` that imports it).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from shoal.errors import InvalidVector, WrongVectorSize
from shoal.gil import shared

if TYPE_CHECKING:
    from shoal import models as m

# The name of the single unnamed vector, as in Qdrant.
DEFAULT_VECTOR = ""
_COSINE = "Cosine"  # m.Distance.COSINE's value (a str enum member equals it)


@lru_cache(maxsize=64)
def _packer(size: int) -> struct.Struct:
    return struct.Struct(f"{size}d")


def float_rows(rows: Sequence[Sequence[Any]], size: int) -> np.ndarray:
    """A read-only (len(rows), size) float64 array of rows of real numbers (floats, ints,
    numpy scalars), each exactly ``size`` long.

    Packed with ``struct``: 2.7 µs per 384 floats, against 6 for ``np.array`` (which also
    parses strings as numbers). The engine converts listed vectors (written points, queries
    given as lists) with it, and the LangChain store an async search's query embedding.

    Args:
        rows: the rows.
        size: the length every row must have.

    Returns:
        The array.

    Raises:
        TypeError: a row of another length, or an item that is not a real number (a str,
            None, a list).
    """
    pack = _packer(size).pack
    try:
        data = b"".join([pack(*row) for row in shared(rows)])
    except struct.error as exc:
        raise TypeError(f"not {size} real numbers: {exc}") from None
    return np.frombuffer(data, dtype=np.float64).reshape(len(rows), size)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows; a zero row stays zero (it has no direction to keep).

    Args:
        vectors: an array of rows (or one row).

    Returns:
        A new array.
    """
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    out: np.ndarray = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return out


def check_vector(raw: Any, params: m.VectorParams, *, name: str, point: object) -> np.ndarray:
    """Validate one vector and bring it to its kept form (float32, normalised for cosine).

    Args:
        raw: the vector as given.
        params: its vector's configuration.
        name: its vector's name, for the error.
        point: its point (or "(query)"), for the error.

    Returns:
        The vector.

    Raises:
        InvalidVector: not a flat list of finite numbers.
        WrongVectorSize: its length differs from the configured size.
    """
    label = f"vector `{name}`" if name else "vector"
    try:
        # A list through float_rows: np.asarray would parse a str component as a number.
        flat = type(raw) is list and all(type(x) is not list for x in raw)
        arr = float_rows([raw], len(raw))[0] if flat else np.asarray(raw, dtype=np.float64)
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
    if params.distance == _COSINE:
        vec = normalize_rows(vec)
    return vec


def check_vector_rows(raws: Sequence[Any], params: m.VectorParams) -> list[np.ndarray | None]:
    """Many vectors (a batch's queries, a write group's points) in one conversion: their
    kept forms, or None for a vector that needs ``check_vector`` (a bad one; that call
    raises its error, naming it).

    One conversion over the batch replaces a conversion, a finiteness test and a norm per
    vector, the largest part of a small query's or point's cost in a batch.

    Args:
        raws: the vectors as given, all of one vector name.
        params: that vector's configuration.

    Returns:
        One array (or None) per vector.
    """
    if not raws:
        return []
    lists = True  # a written point's or a client's vectors (a loop: no generator per batch)
    for raw in raws:
        if type(raw) is not list:
            lists = False
            break
    try:
        arr = float_rows(raws, params.size) if lists else np.array(raws, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # Overflow: an int beyond float64
        return [None] * len(raws)
    if arr.ndim != 2 or arr.shape[1] != params.size:
        return [None] * len(raws)
    with np.errstate(over="ignore"):
        rows = arr.astype(np.float32)
    good: list[bool] = np.isfinite(rows).all(axis=1).tolist()  # type: ignore[assignment]
    if params.distance == _COSINE:
        rows = normalize_rows(rows)
    out: list[np.ndarray | None] = list(rows)
    for i, ok in enumerate(good):
        if not ok:
            out[i] = None
    return out


def check_vectors(
    raw: Any, config: dict[str, m.VectorParams], named: bool, *, point: object
) -> dict[str, np.ndarray]:
    """Validate a point's vector struct (one list, or a dict of named vectors).

    Args:
        raw: the struct as given.
        config: the collection's vectors.
        named: whether the collection has named vectors (else one unnamed one).
        point: the point, for the error.

    Returns:
        The kept form of each vector, by name.

    Raises:
        InvalidVector: a bad vector, or a name the collection does not have.
        WrongVectorSize: a vector of the wrong length.
    """
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


class StoredLayout:
    """How a collection's points keep their vectors in storage: one float32 blob each.

    Args:
        config: the collection's vectors, in configuration order.
    """

    def __init__(self, config: dict[str, m.VectorParams]) -> None:
        self.names = list(config)
        self.dims = [p.size for p in config.values()]

    def pack(self, vectors: dict[str, np.ndarray]) -> bytes:
        """A point's vectors as one blob (an absent vector as NaNs).

        Args:
            vectors: the point's vectors in kept form, by name.

        Returns:
            The blob.
        """
        parts = []
        for name, dim in zip(self.names, self.dims, strict=True):
            vec = vectors.get(name)
            parts.append(
                np.full(dim, np.nan, np.float32) if vec is None else vec.astype(np.float32)
            )
        return np.concatenate(parts).tobytes() if parts else b""

    def unpack_many(self, blobs: list[bytes]) -> dict[str, np.ndarray]:
        """Stored blobs of many points as one (n, dim) block per vector name (rows of NaNs
        where a point has no such vector).

        Args:
            blobs: the blobs.

        Returns:
            The blocks, by name.
        """
        flat = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
        out, start = {}, 0
        for name, dim in zip(self.names, self.dims, strict=True):
            out[name] = flat[:, start : start + dim]
            start += dim
        return out
