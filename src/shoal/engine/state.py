"""In-memory working set of one collection: vectors as dense matrices, payloads, ids.

Everything here is derived from storage and rebuilt on open. Rows are slots: a deleted point
frees its row for reuse, so the matrices never need compaction and search is one product over
a contiguous block. Only the group-commit leader mutates the state (under the write side of
``lock``); searches read under the read side, so a search never sees a half-applied group.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from shoal import models as m
from shoal.ids import PointId

DELETED: Any = None  # overlay marker: the point is deleted by the group


@dataclass
class Row:
    """A point's new state in a group of writes. ``vectors is None``: vectors unchanged."""

    vectors: dict[str, np.ndarray] | None
    payload: dict[str, Any] | None
    version: int


class RWLock:
    """Many readers or one writer; a waiting writer blocks new readers so writes are not
    starved by a steady stream of searches."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class VectorColumn:
    """One named vector of every row: an (capacity, dim) float32 matrix plus a presence mask.

    ``sqnorm`` caches squared norms so Euclid search is one matrix product too.
    """

    def __init__(self, params: m.VectorParams, capacity: int) -> None:
        self.dim = params.size
        self.distance = params.distance
        self.data = np.zeros((capacity, self.dim), dtype=np.float32)
        self.present = np.zeros(capacity, dtype=bool)
        self.sqnorm = np.zeros(capacity, dtype=np.float32)

    def grow(self, capacity: int) -> None:
        data = np.zeros((capacity, self.dim), dtype=np.float32)
        data[: len(self.data)] = self.data
        self.data = data
        self.present = np.concatenate([self.present, np.zeros(capacity - len(self.present), bool)])
        self.sqnorm = np.concatenate(
            [self.sqnorm, np.zeros(capacity - len(self.sqnorm), np.float32)]
        )

    def set(self, row: int, vec: np.ndarray | None) -> None:
        if vec is None:
            self.present[row] = False
            self.data[row] = 0.0
            self.sqnorm[row] = 0.0
        else:
            self.data[row] = vec
            self.present[row] = True
            self.sqnorm[row] = float(np.dot(vec, vec))


class CollectionState:
    """Rows of one collection in memory."""

    def __init__(self, vectors: dict[str, m.VectorParams], capacity: int = 1024) -> None:
        self.lock = RWLock()
        self.vector_params = vectors
        self.columns = {name: VectorColumn(p, capacity) for name, p in vectors.items()}
        self.keys: list[PointId | None] = [None] * capacity
        self.payloads: list[dict[str, Any] | None] = [None] * capacity
        self.versions = np.zeros(capacity, dtype=np.int64)
        self.alive = np.zeros(capacity, dtype=bool)
        self.row_of: dict[PointId, int] = {}
        self.free: list[int] = []
        self.high = 0  # rows [0, high) have ever been used
        self.generation = 0  # bumped on every applied group; caches key on it
        self.order_cache: tuple[int, list[int]] | None = None  # rows in id order, by generation

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self.row_of)

    def row(self, pid: PointId) -> int | None:
        return self.row_of.get(pid)

    def vector(self, row: int, name: str) -> np.ndarray | None:
        col = self.columns[name]
        return col.data[row].copy() if col.present[row] else None

    def vectors_of(self, row: int) -> dict[str, np.ndarray]:
        out = {}
        for name, col in self.columns.items():
            if col.present[row]:
                out[name] = col.data[row]
        return out

    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(self.alive[: self.high])

    # ------------------------------------------------------------------ writing

    def _grow(self) -> None:
        capacity = max(1024, len(self.keys) * 2)
        extra = capacity - len(self.keys)
        for col in self.columns.values():
            col.grow(capacity)
        self.keys.extend([None] * extra)
        self.payloads.extend([None] * extra)
        self.versions = np.concatenate([self.versions, np.zeros(extra, np.int64)])
        self.alive = np.concatenate([self.alive, np.zeros(extra, bool)])

    def put(self, pid: PointId, row_data: Row) -> None:
        """Insert or replace a point (caller holds the write lock)."""
        row = self.row_of.get(pid)
        if row is None:
            if self.free:
                row = self.free.pop()
            else:
                if self.high == len(self.keys):
                    self._grow()
                row = self.high
                self.high += 1
            self.row_of[pid] = row
            self.keys[row] = pid
            self.alive[row] = True
        if row_data.vectors is not None:
            for name, col in self.columns.items():
                col.set(row, row_data.vectors.get(name))
        self.payloads[row] = row_data.payload
        self.versions[row] = row_data.version

    def remove(self, pid: PointId) -> None:
        row = self.row_of.pop(pid, None)
        if row is None:
            return
        self.keys[row] = None
        self.payloads[row] = None
        self.alive[row] = False
        for col in self.columns.values():
            col.set(row, None)
        self.free.append(row)

    def apply(self, overlay: dict[PointId, Row | None]) -> None:
        """Apply a committed group of writes (caller holds the write lock)."""
        for pid, row_data in overlay.items():
            if row_data is None:
                self.remove(pid)
            else:
                self.put(pid, row_data)
        self.generation += 1
