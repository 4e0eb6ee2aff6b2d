"""The vector codec: vectors as callers give them, checked, in the form Shoal keeps them, and
packed for storage.

Base floor (beside models, errors, ids and payloads): the engine checks every written point's
and every query's vector here, the HTTP client reads vectors with ``float_rows`` before it
sends them, and the LangChain store turns an async search's embedding into an array with it.
A vector's kept form is float32, normalised for Cosine (so that Cosine is a dot product).
Storage keeps a point's vectors as one blob: every named vector in configuration order, an
absent one as NaNs (no valid vector contains one).

Sparse vectors (``SparseRow``: sorted unique uint32 indices and float32 values) follow the
dense ones in the blob, each as a count and its two arrays (``StoredLayout``). Multivectors
(a point's vector is a list of vectors of the configured size, ColBERT-style) follow the
sparse ones, each as its count of rows and those float32 rows.

This module imports no other Shoal module at run time but ``shoal.errors`` (``shoal.models``
keeps a deprecated alias of ``float_rows`` that imports it).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, Union

import numpy as np

from shoal.errors import InvalidVector, WrongVectorSize, shown
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
            f"Wrong input: {label} of point {point} must be a list of numbers, got {shown(raw)}"
        ) from None
    if arr.ndim != 1:
        raise InvalidVector(
            f"Wrong input: {label} of point {point} must be a flat list of numbers "
            f"(got an array of shape {arr.shape})"
        )
    if arr.shape[0] != params.size:
        # The HTTP client refuses a NaN or an infinity before any size is known (JSON
        # cannot carry one): the same error here, so that both name the same problem.
        refuse_non_finite(arr, arr, label, point)
        raise WrongVectorSize(params.size, arr.shape[0], name=name, where=f"point {point}")
    # Checked after the cast: a finite float64 above float32's range (~3.4e38) would
    # otherwise be stored as inf.
    with np.errstate(over="ignore"):
        vec = arr.astype(np.float32)
    refuse_non_finite(vec, arr, label, point)
    if params.distance == _COSINE:
        vec = normalize_rows(vec)
    return vec


def refuse_non_finite(checked: np.ndarray, given: np.ndarray, label: str, point: object) -> None:
    """Raises InvalidVector naming the first component of ``checked`` that is not finite
    (shown as ``given`` has it): the one message for it, embedded and in the HTTP client."""
    finite = np.isfinite(checked)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise InvalidVector(
            f"Wrong input: {label} of point {point} has the component {given[bad]} at index "
            f"{bad}; vectors must be finite float32 numbers (|x| < 3.4e38)"
        )


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


def check_multivector(raw: Any, params: m.VectorParams, *, name: str, point: object) -> np.ndarray:
    """Validate one multivector and bring it to its kept form: a read-only (rows, size)
    float32 array, each row normalised for cosine (as qdrant-client's local mode keeps it).

    Args:
        raw: the multivector as given (a list of vectors, or a 2-d array).
        params: its vector's configuration (``multivector_config`` set).
        name: its vector's name, for the error.
        point: its point (or "(query)"), for the error.

    Returns:
        The multivector.

    Raises:
        InvalidVector: not a non-empty list of lists of finite numbers (a plain vector
            included), naming the point and the vector.
        WrongVectorSize: a row whose length differs from the configured size.
    """
    label = f"multivector `{name}`" if name else "multivector"
    rows = list(raw) if isinstance(raw, (list, tuple, np.ndarray)) else None
    if not rows:
        raise InvalidVector(
            f"Wrong input: {label} of point {point} must be a non-empty list of vectors, "
            f"got {shown(raw)}"
        )
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple, np.ndarray)):
            raise InvalidVector(
                f"Wrong input: {label} of point {point} must be a list of vectors (lists of "
                f"{params.size} numbers); item {i} is {shown(row)}"
            )
        if len(row) != params.size:
            raise WrongVectorSize(
                params.size, len(row), name=name, where=f"point {point}, item {i} of a multivector"
            )
    try:
        arr = float_rows([[*row] for row in rows], params.size)
    except (TypeError, ValueError, OverflowError):
        raise InvalidVector(
            f"Wrong input: {label} of point {point} must be a list of vectors of numbers, "
            f"got {shown(raw)}"
        ) from None
    with np.errstate(over="ignore"):
        out = arr.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if len(bad):
        i = int(bad[0])
        j = int(np.flatnonzero(~np.isfinite(out[i]))[0])
        raise InvalidVector(
            f"Wrong input: {label} of point {point} has the component {arr[i, j]} at index "
            f"{j} of item {i}; vectors must be finite float32 numbers (|x| < 3.4e38)"
        )
    if params.distance == _COSINE:
        out = normalize_rows(out)
    out.flags.writeable = False
    return out


class SparseRow(NamedTuple):
    """A sparse vector in kept form: ascending unique uint32 ``indices`` and their float32
    ``values`` (arrays of one length, never changed in place)."""

    indices: np.ndarray
    values: np.ndarray


# A vector in kept form: dense (a float32 row) or sparse.
Kept = Union[np.ndarray, SparseRow]


_MAX_INDEX = 2**32 - 1  # Qdrant keeps sparse indices as u32
_EMPTY_SPARSE = SparseRow(np.zeros(0, np.uint32), np.zeros(0, np.float32))


def check_sparse(raw: Any, *, name: str, point: object) -> SparseRow:
    """Validate one sparse vector and bring it to its kept form.

    Unsorted indices are sorted with their values, as Qdrant's server does (fastembed's and
    other encoders' vectors come in token order).

    Args:
        raw: a ``SparseVector`` (Shoal's or any object with ``indices`` and ``values``) or
            its JSON object.
        name: its vector's name, for the error.
        point: its point (or "(query)"), for the error.

    Returns:
        The vector.

    Raises:
        InvalidVector: not a sparse vector, indices and values of different lengths, an
            index that is not an integer in 0..2^32-1, a repeated index, or a value that is
            not a finite number.
    """
    label = f"sparse vector `{name}` of point {point}"
    if isinstance(raw, Mapping):
        indices, values = raw.get("indices"), raw.get("values")
    else:
        indices, values = getattr(raw, "indices", None), getattr(raw, "values", None)
    if not isinstance(indices, (list, tuple, np.ndarray)) or not isinstance(
        values, (list, tuple, np.ndarray)
    ):
        raise InvalidVector(
            f"Wrong input: {label} must be an object with `indices` and `values` lists, "
            f"got {shown(raw)}"
        )
    if len(indices) != len(values):
        raise InvalidVector(
            f"Wrong input: {label} has {len(indices)} indices but {len(values)} values; "
            "they must have the same length"
        )
    if not len(indices):
        return _EMPTY_SPARSE
    idx = _sparse_indices(indices, label)
    vals = _sparse_values(values, label)
    order = np.argsort(idx, kind="stable")
    idx, vals = idx[order], vals[order]
    repeated = np.flatnonzero(idx[1:] == idx[:-1])
    if len(repeated):
        raise InvalidVector(
            f"Wrong input: {label} repeats the index {int(idx[repeated[0]])}; "
            "indices must be unique"
        )
    return kept_sparse(idx, vals)


def kept_sparse(indices: Any, values: Any) -> SparseRow:
    """A sparse vector in kept form from indices already checked (sorted, unique, in
    0..2^32-1) and finite values: u32 and f32 arrays, read-only (a batch may hold them
    while their caller goes on)."""
    out = SparseRow(np.asarray(indices, np.uint32), np.asarray(values, np.float32))
    out.indices.flags.writeable = False
    out.values.flags.writeable = False
    return out


def _sparse_indices(indices: Any, label: str) -> np.ndarray:
    bad: object = None
    for i in indices:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            bad = i
            break
        if not 0 <= i <= _MAX_INDEX:
            bad = i
            break
    if bad is not None:
        raise InvalidVector(
            f"Wrong input: {label} has the index {shown(bad)}; indices must be integers in "
            f"0..{_MAX_INDEX}"
        )
    return np.asarray(indices, dtype=np.int64)


def _sparse_values(values: Any, label: str) -> np.ndarray:
    try:
        if isinstance(values, np.ndarray):
            if values.dtype.kind not in "fiu":
                raise TypeError(values.dtype)
            arr = values.astype(np.float64)
        else:
            arr = float_rows([values], len(values))[0]
    except (TypeError, ValueError, OverflowError):
        raise InvalidVector(
            f"Wrong input: {label} must have numbers as values, got {shown(values)}"
        ) from None
    with np.errstate(over="ignore"):
        vals = arr.astype(np.float32)
    if not np.isfinite(vals).all():
        bad = int(np.flatnonzero(~np.isfinite(vals))[0])
        raise InvalidVector(
            f"Wrong input: {label} has the value {arr[bad]} at position {bad}; values must "
            "be finite float32 numbers (|x| < 3.4e38)"
        )
    return vals


@dataclass(frozen=True)
class VectorSpace:
    """A collection's vectors as points give them: dense ones by name (``dense``), sparse
    ones by name (``sparse``, their names never a dense one's), and whether the dense
    vector is the single unnamed one (then a point may give it as a bare list).

    Attributes:
        dense: the dense vectors' configuration, in configuration order.
        sparse: the names of the sparse vectors, in configuration order.
        named: False for a collection with only the unnamed dense vector (and maybe sparse
            ones beside it, given by name).
        multi: the multivectors' configuration (``multivector_config`` set), in
            configuration order; never in ``dense``.
    """

    dense: dict[str, m.VectorParams]
    sparse: tuple[str, ...] = field(default=())
    named: bool = True
    multi: dict[str, m.VectorParams] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every vector name, sorted (for an error message)."""
        return sorted([*self.dense, *self.sparse, *self.multi])

    def has(self, name: str) -> bool:
        """Whether ``name`` is one of the collection's vectors (of any kind)."""
        return name in self.dense or name in self.sparse or name in self.multi


def check_vectors(raw: Any, space: VectorSpace, *, point: object) -> dict[str, Kept]:
    """Validate a point's vector struct (one list, or a dict of named vectors).

    Args:
        raw: the struct as given.
        space: the collection's vectors.
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
    elif space.named:
        raise InvalidVector(
            f"Wrong input: Not existing vector name error: '' (point {point} gives an unnamed "
            f"vector but the collection has named vectors {space.names()}; pass a dict of "
            "name -> vector)"
        )
    else:
        items = [(DEFAULT_VECTOR, raw)]
    out: dict[str, Kept] = {}
    for name, vec in items:
        params = space.dense.get(name)
        if params is not None:
            out[name] = check_vector(vec, params, name=name, point=point)
        elif name in space.multi:
            out[name] = check_multivector(vec, space.multi[name], name=name, point=point)
        elif name in space.sparse:
            out[name] = check_sparse(vec, name=name, point=point)
        else:
            expected = space.names() if space.named or space.sparse else "an unnamed vector"
            raise InvalidVector(
                f"Wrong input: Not existing vector name error: {name!r} (point {point}); "
                f"the collection has {expected}"
            )
    return out


_ABSENT = 0xFFFFFFFF  # a sparse vector's count in a blob when the point has none


class StoredLayout:
    """How a collection's points keep their vectors in storage: one blob each, the dense
    vectors first (float32, in configuration order, an absent one as NaNs), then each
    sparse vector as its count (uint32; ``0xFFFFFFFF`` when absent) followed by that many
    uint32 indices and float32 values, then each multivector as its count of rows (the
    same) followed by those float32 rows.

    Args:
        space: the collection's vectors.
    """

    def __init__(self, space: VectorSpace) -> None:
        self.names = list(space.dense)
        self.dims = [p.size for p in space.dense.values()]
        self.sparse = list(space.sparse)
        self.multi = {name: p.size for name, p in space.multi.items()}
        self._dense_bytes = 4 * sum(self.dims)

    def pack(self, vectors: Mapping[str, Kept]) -> bytes:
        """A point's vectors as one blob.

        Args:
            vectors: the point's vectors in kept form, by name.

        Returns:
            The blob.
        """
        parts = []
        for name, dim in zip(self.names, self.dims, strict=True):
            vec = vectors.get(name)
            parts.append(
                np.full(dim, np.nan, np.float32)
                if vec is None
                else np.asarray(vec, dtype=np.float32)
            )
        dense = np.concatenate(parts).tobytes() if parts else b""
        if not self.sparse and not self.multi:
            return dense
        out = [dense]
        for name in self.sparse:
            vec = vectors.get(name)
            if not isinstance(vec, SparseRow):
                out.append(struct.pack("<I", _ABSENT))
                continue
            out.append(struct.pack("<I", len(vec.indices)))
            out.append(vec.indices.astype("<u4").tobytes())
            out.append(vec.values.astype("<f4").tobytes())
        for name in self.multi:
            rows = vectors.get(name)
            if not isinstance(rows, np.ndarray):
                out.append(struct.pack("<I", _ABSENT))
                continue
            out.append(struct.pack("<I", len(rows)))
            out.append(rows.astype("<f4").tobytes())
        return b"".join(out)

    def unpack_many(self, blobs: list[bytes]) -> dict[str, np.ndarray]:
        """Stored blobs of many points as one (n, dim) block per dense vector name (rows of
        NaNs where a point has no such vector).

        Args:
            blobs: the blobs.

        Returns:
            The blocks, by name.
        """
        if self.sparse or self.multi:
            blobs = [blob[: self._dense_bytes] for blob in blobs]
        flat = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
        out, start = {}, 0
        for name, dim in zip(self.names, self.dims, strict=True):
            out[name] = flat[:, start : start + dim]
            start += dim
        return out

    def unpack_sparse(self, blobs: list[bytes]) -> dict[str, list[SparseRow | None]]:
        """The sparse vectors of many points' blobs, per sparse vector name (None where a
        point has no such vector).

        Args:
            blobs: the blobs.

        Returns:
            The vectors, by name.
        """
        out: dict[str, list[SparseRow | None]] = {name: [] for name in self.sparse}
        lists = [out[name] for name in self.sparse]
        unpack = struct.Struct("<I").unpack_from
        for blob in shared(blobs):
            pos = self._dense_bytes
            for found in lists:
                (count,) = unpack(blob, pos)
                pos += 4
                if count == _ABSENT:
                    found.append(None)
                    continue
                indices = np.frombuffer(blob, "<u4", count, pos)
                values = np.frombuffer(blob, "<f4", count, pos + 4 * count)
                pos += 8 * count
                found.append(SparseRow(indices.astype(np.uint32), values.astype(np.float32)))
        return out

    def unpack_multi(self, blobs: list[bytes]) -> dict[str, list[np.ndarray | None]]:
        """The multivectors of many points' blobs, per multivector name (None where a point
        has none): (rows, size) float32 arrays.

        Args:
            blobs: the blobs.

        Returns:
            The multivectors, by name.
        """
        out: dict[str, list[np.ndarray | None]] = {name: [] for name in self.multi}
        unpack = struct.Struct("<I").unpack_from
        for blob in shared(blobs):
            pos = self._dense_bytes
            for _ in self.sparse:  # skipped: read by unpack_sparse
                (count,) = unpack(blob, pos)
                pos += 4 + (0 if count == _ABSENT else 8 * count)
            for name, dim in self.multi.items():
                (count,) = unpack(blob, pos)
                pos += 4
                if count == _ABSENT:
                    out[name].append(None)
                    continue
                rows = np.frombuffer(blob, "<f4", count * dim, pos).reshape(count, dim)
                pos += 4 * count * dim
                out[name].append(rows.astype(np.float32))
        return out
