"""Bulk ingest helpers shared by both clients: batching and an optional progress line.

The batches are read from the caller's iterables lazily, as the upload goes; what reading a
malformed one raises becomes a typed error (``convert.bad_input``) when that batch is read.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, cast

import numpy as np

from shoal import models as m
from shoal.client.convert import as_model, bad_input, point_id
from shoal.errors import (
    BadRequest,
    InvalidPayload,
    InvalidVector,
    NotSupported,
    ShoalError,
    shown,
)


def check_upload_options(parallel: int, method: str | None, max_retries: int) -> None:
    """Refuse upload options Shoal does not honour.

    Raises:
        NotSupported: ``parallel`` other than 1, or a ``method`` (qdrant-client's worker
            processes: Shoal sends batches one after another; the engine uses every core).
        BadRequest: a negative ``max_retries``.
    """
    # Compared only once known to be an integer: a numpy array compared with 1 is an
    # array, whose truth is an error.
    if (
        isinstance(parallel, bool)
        or not isinstance(parallel, (int, np.integer))
        or int(parallel) != 1
    ):
        raise NotSupported(
            f"Wrong input: parallel={shown(parallel)} is not supported: Shoal uploads batches "
            "one after another (each batch already uses every core of the engine)"
        )
    if method is not None:
        raise NotSupported(f"Wrong input: method={shown(method)} is not supported (no workers)")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise BadRequest(f"Wrong input: max_retries={shown(max_retries)}; expected an integer >= 0")


def transient(exc: ShoalError) -> bool:
    """Whether a failed batch may succeed if sent again: the server could not be reached,
    timed out, or failed (5xx); a rejected batch (4xx) fails the same way every time."""
    return exc.status_code >= 500


def point_batches(points: Iterable[m.PointStruct], batch_size: int) -> Iterator[m.Batch]:
    """Group points into column batches of at most ``batch_size``."""
    _check_batch_size(batch_size)
    with bad_input(BadRequest, "points"):
        it = iter(points)
        while chunk := [as_model(p, m.PointStruct) for p in islice(it, batch_size)]:
            yield _point_batch(chunk)


def _point_batch(chunk: list[m.PointStruct]) -> m.Batch:
    vectors: Any
    if all(isinstance(p.vector, dict) for p in chunk):
        columns = [cast(dict[str, list[float]], p.vector) for p in chunk]
        names = {n for c in columns for n in c}
        missing = [
            (p.id, n) for p, c in zip(chunk, columns, strict=True) for n in names if n not in c
        ]
        if missing:
            raise InvalidVector(
                f"Wrong input: point {missing[0][0]} has no vector {missing[0][1]!r}, which "
                "other points of its batch have (upload_points sends a batch as columns)"
            )
        vectors = {n: [c[n] for c in columns] for n in names}
    elif any(isinstance(p.vector, dict) for p in chunk):
        raise InvalidVector(
            "Wrong input: upload_points got points with named and unnamed vectors in one batch"
        )
    else:
        vectors = [p.vector for p in chunk]
    # Built without re-validation: the engine validates every vector and payload anyway,
    # and pydantic would otherwise walk every float of a large batch once more.
    return m.Batch.model_construct(
        ids=[p.id for p in chunk], vectors=vectors, payloads=[p.payload for p in chunk]
    )


def column_batches(
    vectors: Any,
    payload: Iterable[dict[str, Any]] | None,
    ids: Iterable[Any] | None,
    batch_size: int,
) -> Iterator[m.Batch]:
    """Batches from columns: vectors (array, list of vectors, or dict name -> array)."""
    _check_batch_size(batch_size)
    with bad_input(BadRequest, "upload_collection"):
        yield from _column_batches(vectors, payload, ids, batch_size)


def _column_batches(
    vectors: Any, payload: Iterable[dict[str, Any]] | None, ids: Iterable[Any] | None, size: int
) -> Iterator[m.Batch]:
    vec_iter = _vector_rows(vectors)
    pay_iter = iter(payload) if payload is not None else None
    id_iter = iter(ids) if ids is not None else None
    while rows := list(islice(vec_iter, size)):
        n = len(rows)
        batch_ids: list[m.ExtendedPointId] = (
            [point_id(i) for i in islice(id_iter, n)]
            if id_iter is not None
            else [str(uuid.uuid4()) for _ in range(n)]
        )
        payloads: list[dict[str, Any] | None] = (
            list(islice(pay_iter, n)) if pay_iter is not None else [None] * n
        )
        if len(batch_ids) != n or len(payloads) != n:
            raise BadRequest(
                f"Wrong input: upload_collection got fewer ids or payloads than vectors "
                f"(a batch of {n} vectors has {len(batch_ids)} ids, {len(payloads)} payloads)"
            )
        bad = next((p for p in payloads if p is not None and not isinstance(p, dict)), None)
        if bad is not None:  # checked here: the engine would check the vectors first
            raise InvalidPayload(
                f"Wrong input: upload_collection payloads must be dicts, got {shown(bad)}"
            )
        cols: Any = _named_columns(rows) if isinstance(rows[0], dict) else rows
        yield m.Batch.model_construct(ids=batch_ids, vectors=cols, payloads=payloads)


def _named_columns(rows: list[Any]) -> dict[Any, list[Any]]:
    names = rows[0].keys()
    if not all(isinstance(r, dict) and r.keys() == names for r in rows):
        raise InvalidVector(
            "Wrong input: upload_collection's vectors must all name the same vectors "
            f"(the first names {sorted(map(str, names))})"
        )
    return {k: [r[k] for r in rows] for k in names}


def _vector_rows(vectors: Any) -> Iterator[Any]:
    if isinstance(vectors, np.ndarray):
        # tolist() converts a whole block in C: far faster than per-row conversion.
        for start in range(0, len(vectors), 4096):
            yield from vectors[start : start + 4096].tolist()
    elif isinstance(vectors, Mapping):
        # Each named column read as a column of its own: an array, or a sequence of
        # vectors of any kind (a sparse vector's column is a list of SparseVector, which
        # np.asarray would have taken apart).
        names = list(vectors)
        sizes = {str(n): len(vectors[n]) for n in names if hasattr(vectors[n], "__len__")}
        if len(set(sizes.values())) > 1:  # refused before a batch is written
            raise BadRequest(
                f"Wrong input: upload_collection's named vectors differ in length: {sizes}"
            )
        for row in zip(*(_vector_rows(vectors[name]) for name in names), strict=True):
            yield dict(zip(names, row, strict=True))
    else:
        for v in vectors:
            yield v.tolist() if isinstance(v, np.ndarray) else v


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise BadRequest(
            f"Wrong input: batch_size must be a positive integer, got {shown(batch_size)}"
        )


class Progress:
    """A one-line progress report on stderr, refreshed at most ten times a second."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled, self.label = enabled, label
        self.count, self.start, self.last = 0, time.perf_counter(), 0.0

    def add(self, n: int) -> None:
        self.count += n
        now = time.perf_counter()
        if self.enabled and now - self.last >= 0.1:
            self.last = now
            self._print(now, end="\r")

    def done(self) -> None:
        if self.enabled:
            self._print(time.perf_counter(), end="\n")

    def _print(self, now: float, end: str) -> None:
        rate = self.count / max(now - self.start, 1e-9)
        print(f"{self.label}: {self.count:,} points ({rate:,.0f}/s)", end=end, file=sys.stderr)
