"""In-memory working set of one collection: vectors as dense matrices, payloads, ids.

Everything here is derived from storage and rebuilt on open. Rows are slots: a deleted point
frees its row for reuse, so the matrices never need compaction and search is one product over
a contiguous block. Only the group-commit leader mutates the state (under the write side of
``lock``); searches read under the read side, so a search never sees a half-applied group.

Rows are reassigned at every load, so anything kept across a reopen (the ANN index snapshot)
names a point by its *serial* instead: a number stored with the point, given once when its id
is first inserted and never reused. ``row_of_serial`` maps it back to the current row.

The per-row ids and payloads are numpy object arrays, not lists: numpy arrays are not
walked by Python's cyclic garbage collector, and a list is, element by element. With
300,000 rows that walk was a third of every full collection (42-49 ms with lists, 26-35
with arrays), during which no thread of the process (the event loop included) runs;
``bench/soak.py`` measures it. Payloads are JSON values, so no reference cycle runs
through these arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shoal import models as m
from shoal.codec import Kept, SparseRow
from shoal.concurrency import RWLock
from shoal.gil import shared
from shoal.ids import PointId
from shoal.index.multivector import MultiColumn
from shoal.index.sparse import SparseColumn

DELETED: Any = None  # overlay marker: the point is deleted by the group


@dataclass
class Row:
    """A point's new state in a group of writes. ``vectors is None``: vectors unchanged.

    ``serial`` is filled in by the group-commit leader just before the group is persisted
    (a new id gets the next serial, an existing one keeps its own).
    """

    vectors: dict[str, Kept] | None
    payload: dict[str, Any] | None
    version: int
    serial: int = -1


@dataclass
class Applied:
    """What one applied group changed, for the derived structures (payload and ANN indexes).

    Attributes:
        rows: rows whose point was inserted, replaced, updated or deleted (may repeat).
        serials: serials whose vectors were replaced or whose point was deleted.
    """

    rows: list[int]
    serials: list[int]


class VectorColumn:
    """One named vector of every row: an (capacity, dim) float32 matrix plus a presence mask.

    ``sqnorm`` caches squared norms so Euclid search is one matrix product too.
    ``similarity``: its scores are similarities, higher is better (Cosine, Dot), not
    distances, lower is better (Euclid, Manhattan).
    """

    def __init__(self, params: m.VectorParams, capacity: int) -> None:
        self.dim = params.size
        self.distance = params.distance
        self.similarity = params.distance in (m.Distance.COSINE, m.Distance.DOT)
        self.data = np.zeros((capacity, self.dim), dtype=np.float32)
        self.present = np.zeros(capacity, dtype=bool)
        self.sqnorm = np.zeros(capacity, dtype=np.float32)
        self.count = 0  # rows that have this vector

    def grow(self, capacity: int) -> None:
        data = np.zeros((capacity, self.dim), dtype=np.float32)
        data[: len(self.data)] = self.data
        self.data = data
        self.present = np.concatenate([self.present, np.zeros(capacity - len(self.present), bool)])
        self.sqnorm = np.concatenate(
            [self.sqnorm, np.zeros(capacity - len(self.sqnorm), np.float32)]
        )

    def fill(self, start: int, block: np.ndarray) -> None:
        """Set rows ``[start, start + len(block))`` that had no vector before; a row of NaNs
        in ``block`` stands for "no vector" (as stored)."""
        end = start + len(block)
        present = ~np.isnan(block[:, 0]) if len(block) else np.zeros(0, bool)
        self.data[start:end] = block
        self.data[start:end][~present] = 0.0
        self.present[start:end] = present
        data = self.data[start:end]
        self.sqnorm[start:end] = np.einsum("ij,ij->i", data, data)
        self.count += int(np.count_nonzero(present))

    def clear_rows(self, rows: list[int]) -> None:
        """Drop the vector of these rows (a row may repeat: a deleted point's row, cleared,
        then reused by a new point without this vector)."""
        if rows:
            idx = np.unique(np.asarray(rows, dtype=np.int64))
            self.count -= int(np.count_nonzero(self.present[idx]))
            self.present[idx] = False
            self.data[idx] = 0.0
            self.sqnorm[idx] = 0.0

    def set_rows(self, rows: list[int], vectors: list[np.ndarray]) -> None:
        """Set the vector of these rows (distinct rows), in one assignment per array."""
        if rows:
            idx = np.asarray(rows, dtype=np.int64)
            block = np.stack(vectors)
            self.count += len(rows) - int(np.count_nonzero(self.present[idx]))
            self.data[idx] = block
            self.present[idx] = True
            self.sqnorm[idx] = np.einsum("ij,ij->i", block, block)


class CollectionState:
    """Rows of one collection in memory.

    Args:
        vectors: the dense vectors.
        sparse: the names of the sparse vectors.
        capacity: rows to make room for.
        multi: the multivectors.
    """

    def __init__(
        self,
        vectors: dict[str, m.VectorParams],
        sparse: Sequence[str] = (),
        capacity: int = 1024,
        multi: dict[str, m.VectorParams] | None = None,
    ) -> None:
        self.lock = RWLock()
        self.vector_params = vectors
        self.columns = {name: VectorColumn(p, capacity) for name, p in vectors.items()}
        self.sparse = {name: SparseColumn(capacity) for name in sparse}
        self.multi = {name: MultiColumn(p, capacity) for name, p in (multi or {}).items()}
        # Row -> point id (PointId | None) and row -> payload (dict | None).
        self.keys: np.ndarray = np.full(capacity, None, dtype=object)
        self.payloads: np.ndarray = np.full(capacity, None, dtype=object)
        self.versions = np.zeros(capacity, dtype=np.int64)
        self.serial = np.full(capacity, -1, dtype=np.int64)
        self.alive = np.zeros(capacity, dtype=bool)
        self.row_of: dict[PointId, int] = {}
        self.row_of_serial = np.full(capacity, -1, dtype=np.int64)  # -1: no live point
        self.free: list[int] = []
        self.high = 0  # rows [0, high) have ever been used
        self.generation = 0  # bumped on every applied group; caches key on it
        self.next_serial = 0  # advanced by the group-commit leader only
        self.commit_seq = 0  # storage's watermark: groups that changed vectors or deleted
        self.order_cache: tuple[int, np.ndarray] | None = None  # rows in id order, by generation

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self.row_of)

    def row(self, pid: PointId) -> int | None:
        return self.row_of.get(pid)

    def vector(self, row: int, name: str) -> np.ndarray | None:
        col = self.columns[name]
        return col.data[row].copy() if col.present[row] else None

    def sparse_vector(self, row: int, name: str) -> SparseRow | None:
        return self.sparse[name].vector(row)

    def has_vector(self, row: int, name: str) -> bool:
        """Whether the row has vector ``name`` (dense, sparse or multi)."""
        return bool(self.presence(name)[row])

    def presence(self, name: str) -> np.ndarray:
        """Which rows have vector ``name`` (of any kind)."""
        col = self.columns.get(name)
        if col is not None:
            return col.present
        multi = self.multi.get(name)
        return multi.present if multi is not None else self.sparse[name].present

    def vectors_of(self, row: int) -> dict[str, Kept]:
        """The row's vectors, dense ones first, each in configuration order."""
        out: dict[str, Kept] = {}
        for name, col in self.columns.items():
            if col.present[row]:
                out[name] = col.data[row]
        for name, scol in self.sparse.items():
            svec = scol.vector(row)
            if svec is not None:
                out[name] = svec
        for name, mcol in self.multi.items():
            rows = mcol.vector(row)
            if rows is not None:
                out[name] = rows
        return out

    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(self.alive[: self.high])

    # ------------------------------------------------------------------ writing

    def _grow(self, capacity: int = 0) -> None:
        capacity = max(1024, len(self.keys) * 2, capacity)
        extra = capacity - len(self.keys)
        for col in self.columns.values():
            col.grow(capacity)
        for scol in self.sparse.values():
            scol.grow(capacity)
        for mcol in self.multi.values():
            mcol.grow(capacity)
        self.keys = np.concatenate([self.keys, np.full(extra, None, dtype=object)])
        self.payloads = np.concatenate([self.payloads, np.full(extra, None, dtype=object)])
        self.versions = np.concatenate([self.versions, np.zeros(extra, np.int64)])
        self.serial = np.concatenate([self.serial, np.full(extra, -1, np.int64)])
        self.alive = np.concatenate([self.alive, np.zeros(extra, bool)])

    def _map_serial(self, serial: int, row: int) -> None:
        if serial >= len(self.row_of_serial):
            size = max(serial + 1, 2 * len(self.row_of_serial))
            grown = np.full(size, -1, dtype=np.int64)
            grown[: len(self.row_of_serial)] = self.row_of_serial
            self.row_of_serial = grown
        self.row_of_serial[serial] = row

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` rows at once (before a bulk load)."""
        if capacity > len(self.keys):
            self._grow(capacity)

    def extend(
        self,
        pids: list[PointId],
        versions: list[int],
        serials: list[int],
        payloads: list[dict[str, Any] | None],
        vectors: dict[str, np.ndarray],
        sparse: dict[str, list[SparseRow | None]] | None = None,
        multi: dict[str, list[np.ndarray | None]] | None = None,
    ) -> None:
        """Append new points in bulk (loading from storage, before the state is shared).

        Args:
            pids: ids of points not in the state yet, distinct.
            versions, serials, payloads: per point.
            vectors: per dense vector name, an (n, dim) block; a row of NaNs means no
                vector.
            sparse: per sparse vector name, one vector (or None) per point.
            multi: per multivector name, one multivector (or None) per point.
        """
        start, end = self.high, self.high + len(pids)
        if end > len(self.keys):
            self._grow(end)
        self.keys[start:end] = pids  # ints and strings, and dicts or None: numpy takes
        self.payloads[start:end] = payloads  # each as one object, not as a sequence
        self.versions[start:end] = versions
        self.serial[start:end] = serials
        self.alive[start:end] = True
        self.row_of.update(zip(pids, range(start, end), strict=True))
        for name, col in self.columns.items():
            col.fill(start, vectors[name])
        for name, scol in self.sparse.items():
            scol.fill(start, (sparse or {})[name])
        for name, mcol in self.multi.items():
            mcol.fill(start, (multi or {})[name])
        if serials:
            top = max(serials)
            self._map_serial(top, -1)  # grows the map
            self.row_of_serial[serials] = np.arange(start, end)
            self.next_serial = max(self.next_serial, top + 1)
        self.high = end

    def _put(self, pid: PointId, row_data: Row, cols: _ColumnWrites) -> int:
        """Insert or replace a point, its vector writes queued in ``cols`` (caller holds the
        write lock).

        Returns:
            The point's row.
        """
        row = self.row_of.get(pid)
        if row is None:
            if self.free:
                row = self.free.pop()
            else:
                if self.high == len(self.keys):
                    self._grow()
                row = self.high
                self.high += 1
            serial = row_data.serial
            if serial < 0:  # not assigned by a leader (a Row built directly)
                serial = self.next_serial
            self.next_serial = max(self.next_serial, serial + 1)
            self.row_of[pid] = row
            self.keys[row] = pid
            self.alive[row] = True
            self.serial[row] = serial
            self._map_serial(serial, row)
        if row_data.vectors is not None:
            cols.put(row, row_data.vectors)
        self.payloads[row] = row_data.payload
        self.versions[row] = row_data.version
        return row

    def _remove(self, pid: PointId, cols: _ColumnWrites) -> int | None:
        """Delete a point, its vector writes queued in ``cols`` (caller holds the write
        lock).

        Returns:
            The serial the point had, or None if there was no such point.
        """
        row = self.row_of.pop(pid, None)
        if row is None:
            return None
        serial = int(self.serial[row])
        self.row_of_serial[serial] = -1
        self.serial[row] = -1
        self.keys[row] = None
        self.payloads[row] = None
        self.alive[row] = False
        cols.clear(row)
        self.free.append(row)
        return serial

    def apply(self, overlay: dict[PointId, Row | None]) -> Applied:
        """Apply a committed group of writes (caller holds the write lock).

        Returns:
            The rows and serials the group changed.
        """
        applied = Applied([], [])
        # Vector writes are gathered and made once per column for the whole group (one
        # numpy assignment per array instead of four per point).
        cols = _ColumnWrites(self.columns, self.sparse, self.multi)
        for pid, row_data in shared(overlay.items()):
            if row_data is None:
                row = self.row_of.get(pid)
                serial = self._remove(pid, cols)
                if row is not None and serial is not None:
                    applied.rows.append(row)
                    applied.serials.append(serial)
            else:
                row = self._put(pid, row_data, cols)
                applied.rows.append(row)
                if row_data.vectors is not None:
                    applied.serials.append(int(self.serial[row]))
        cols.flush()
        self.generation += 1
        return applied


class _ColumnWrites:
    """Vector writes of a group, made per column at ``flush``: clears first, then sets.

    Within one group a row is cleared and then set (or cleared twice) only when a deleted
    point's row is reused by a new point, and set at most once (one write per point id),
    so applying all clears (each row once) before all sets gives the state the writes in
    order would. ``tests/engine/test_group_apply.py`` checks it against a model.
    """

    def __init__(
        self,
        columns: dict[str, VectorColumn],
        sparse: dict[str, SparseColumn],
        multi: dict[str, MultiColumn],
    ) -> None:
        self._columns: dict[str, VectorColumn | SparseColumn | MultiColumn] = {
            **columns,
            **sparse,
            **multi,
        }
        self._clears: dict[str, list[int]] = {name: [] for name in self._columns}
        self._sets: dict[str, tuple[list[int], list[Any]]] = {
            name: ([], []) for name in self._columns
        }

    def clear(self, row: int) -> None:
        for rows in self._clears.values():
            rows.append(row)

    def put(self, row: int, vectors: dict[str, Kept]) -> None:
        """The row's vectors become exactly ``vectors`` (a column it lacks is cleared)."""
        for name in self._columns:
            vec = vectors.get(name)
            if vec is None:
                self._clears[name].append(row)
            else:
                rows, vecs = self._sets[name]
                rows.append(row)
                vecs.append(vec)

    def flush(self) -> None:
        for name, col in self._columns.items():
            col.clear_rows(self._clears[name])
            col.set_rows(*self._sets[name])
