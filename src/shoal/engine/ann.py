"""The ANN side of a collection: one HNSW index per vector, built and kept current in the
background, snapshotted beside the storage.

The index is derived data. It is keyed by point *serial* (``state.row_of_serial`` maps a
serial to its current row) and lags the committed state by a *backlog*: the serials changed
since it last caught up (``pending``) plus the chunk being applied right now (``inflight``).
Queries search the index and score the backlog rows exactly, so an answer never misses a
committed write; while the backlog is large (a first build) queries are simply exact.

Snapshots: ``state.commit_seq`` counts the groups that changed vectors or deleted points
(persisted in the same transaction), and storage records with each point the commit_seq that
last wrote its vectors (``vseq``). A snapshot holds the index, the commit_seq at which it was
taken (its watermark) and the serials it had not caught up with then (``pending``: a
snapshot may be taken in the middle of a build). At open a snapshot is resumed: its pending
serials, the points whose vectors were written after its watermark and the serials it holds
whose points are gone make up the backlog, and the indexer catches up from there. Only a
missing, torn or mismatched snapshot (or one older than the store's ``vseq`` records) means
a rebuild from storage. Snapshots are written when a first build finishes, every so often
during a long build or catch-up (``_due``), and by ``close`` when that is quick; so close
never waits for a backlog and a crash loses at most the work since the last snapshot.

Threads: only the group-commit leader adds to ``pending`` (``on_apply``, under the state's
write lock); one daemon indexer thread per collection takes chunks (under the state's read
lock, so the vectors it copies are committed ones) and applies them to the index outside any
state lock (usearch releases the GIL; searches keep running). ``_cond`` guards the backlog.
Chunks are sized to take about ``CHUNK_SECONDS``: that bounds how long ``close`` (and the
interpreter's exit) waits for the indexer.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from shoal import models as m
from shoal.engine.ann_settings import AnnSettings, resolve_settings
from shoal.engine.state import Applied, CollectionState, VectorColumn
from shoal.index import HnswIndex, Int8Quantizer, SnapshotError
from shoal.index.errors import SnapshotStale
from shoal.index.intset import IntSet
from shoal.index.metrics import DOT
from shoal.index.native import usearch_index
from shoal.index.quantize import OFFSET, SYMMETRIC
from shoal.index.snapshot import manifest_path, read_manifest

logger = logging.getLogger("shoal.engine")

# Queries search index + backlog while the backlog is at most this (and at most this share of
# the column, with a floor so small collections always qualify); beyond, exact is cheaper.
MAX_BACKLOG = 50_000
MAX_BACKLOG_SHARE = 0.2
MIN_BACKLOG = 1024
# A backlog at least this big is indexed with every core (a bulk load: its build time is what
# counts); a smaller one with one thread, which leaves a core to the queries that meanwhile
# search the backlog exactly (measured: 10k documents loaded, then 64 searches in flight:
# a two-thread build stalled them 75-250 ms), and which cannot strand a node the way
# concurrent inserts can (unum-cloud/USearch#735).
PARALLEL_BACKLOG = 100_000
# Vectors per indexer chunk: at most this many bytes (a chunk's copy stays small for any
# dimension), and as many as take about CHUNK_SECONDS to add (measured as it goes: an f16
# graph of 384-d vectors takes ~600 a second on this machine's two cores, an i8 one ~4x
# that), so close() and the interpreter's exit wait at most that long for the indexer.
CHUNK_BYTES = 24 << 20
CHUNK_SECONDS = 0.25
FIRST_CHUNK, MIN_CHUNK = 256, 64
# Snapshots during a long build or catch-up: at most one per SAVE_EVERY seconds and per 10
# times the last save's duration (saving costs at most ~10% of the indexer's time), and only
# once a twentieth of the index (at least SAVE_MIN_ADDS vectors) changed since the last;
# when a build or catch-up ends, one as soon as that much changed.
SAVE_EVERY = 30.0
SAVE_COST_SHARE = 10
SAVE_MIN_ADDS = 1000
# close() writes a snapshot only if the index is at most this big (~0.3 s to write here);
# a larger one relies on the last snapshot of the build and catches up at the next open.
SAVE_ON_CLOSE_BYTES = 256 << 20
# Rebuilds: usearch replaces a key by removing and adding it, and the graph keeps the links
# the old vector had, so an index whose keys were mostly replaced finds less than a fresh
# one (recall@10 at ef 2000 on 10k 384-d Gaussian vectors: 1.000 fresh, 0.996 after every
# point was overwritten once; at ef 128: 0.58 against 0.49-0.51). Once the keys replaced or
# removed since the index was built reach REBUILD_SHARE of it (Qdrant's optimizer vacuums
# a segment at a deleted share of 0.2), a fresh index is built beside it while queries keep
# using it, then swapped in. Not below REBUILD_MIN vectors: a small graph stays good.
REBUILD_SHARE = 0.2
REBUILD_MIN = 1000
# The indexer thread's nice value (see _lower_priority).
INDEXER_NICE = 10
SNAPSHOT_PREFIX = "index"
FIT_SAMPLE = 20_000  # vectors the int8 scaling is fitted on (its own sample size)
_SAFE = re.compile(r"[A-Za-z0-9_]{1,64}")
_EMPTY = np.zeros(0, dtype=np.int64)


class SearchableIndex(NamedTuple):
    """An HNSW index keyed by point serial, and the rows it has not caught up with yet
    (queries score those exactly)."""

    hnsw: HnswIndex
    backlog: np.ndarray


class VectorAnn:
    """The HNSW index of one vector column and the serials it has not caught up with.

    Every field but ``index`` is guarded by the owning ``CollectionAnn._cond``.
    """

    def __init__(self, name: str, settings: AnnSettings, path: Path | None) -> None:
        self.name = name
        self.settings = settings
        self.path = path  # snapshot file, None for a memory-only collection
        self.index: HnswIndex | None = None
        self.tracking = False  # pending records every change from now on
        self.pending = IntSet()
        self.inflight = _EMPTY
        self.saved: int | None = None  # watermark of the snapshot on disk (None: none)
        self.dirty = False  # the index changed since that snapshot
        self.added_since_save = 0
        self.saved_at = time.monotonic()
        self.save_seconds = 0.0
        self.max_chunk = max(MIN_CHUNK, CHUNK_BYTES // (4 * settings.dim))
        self.chunk = min(FIRST_CHUNK, self.max_chunk)
        self.replaced = 0  # keys replaced or removed since the index was built fresh
        # A fresh index being built beside ``index`` (see REBUILD_SHARE) and the serials it
        # has still to take: every live one when it started, and every one changed since.
        self.shadow: HnswIndex | None = None
        self.shadow_pending = IntSet()
        self.shadow_replaced = 0  # keys replaced in it while it was built

    def backlog(self) -> int:
        """Serials the index has not caught up with (queued, or being applied)."""
        return len(self.pending) + len(self.inflight)


class CollectionAnn:
    """The ANN indexes of one collection, their indexer thread and their snapshots.

    Args:
        state: the collection's state (already loaded).
        config: the collection's configuration.
        vector_params: its vectors.
        folder: the collection's storage folder for snapshots, or None (memory only).

    Raises:
        InvalidConfig: from ``resolve_settings``.
    """

    def __init__(
        self,
        state: CollectionState,
        config: m.CreateCollection,
        vector_params: dict[str, m.VectorParams],
        folder: Path | None,
    ) -> None:
        self._state = state
        self.settings = {name: resolve_settings(config, p) for name, p in vector_params.items()}
        self.vectors = {
            name: VectorAnn(name, s, None if folder is None else snapshot_path(folder, name))
            for name, s in self.settings.items()
            if s.enabled
        }
        if self.vectors:
            # Loaded now, while the collection is created or opened, not by the indexer's
            # first chunk: importing the native libraries holds the GIL for ~0.2 s, a stall
            # of every event loop of the process in the middle of a workload.
            usearch_index()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._stop = False
        self._busy = False
        self._paused = False
        self.error: BaseException | None = None
        # Per vector, its index while it has no backlog: what queries search (read without
        # a lock: set by the indexer when it catches up, removed under the state's write
        # lock when a commit gives it a backlog, so a query holding the read lock sees it
        # only while it holds every committed vector).
        self.caught_up: dict[str, SearchableIndex] = {}
        # How queries were answered: "exact", "hnsw", and "fallback" (an HNSW answer came
        # back short and the query was answered exactly). For tests and diagnostics: batches
        # that run at once may lose a count.
        self.search_methods: Counter[str] = Counter()

    # ------------------------------------------------------------------- lifecycle

    def open(self, loaded: StoredVectorSeqs | None = None) -> None:
        """Resume snapshots and start building what is missing (call once, before the
        collection is shared with other threads).

        Args:
            loaded: the serial and ``vseq`` of every stored point, as the collection's load
                read them (None for a memory-only collection).
        """
        for va in self.vectors.values():
            if va.path is None:
                continue
            _sweep_temp(va.path)
            try:
                va.index, pending = self._resume(va, va.path, loaded)
            except (SnapshotError, OSError) as exc:
                logger.info("index %r of %s: rebuilding (%s)", va.name, va.path, exc)
            else:
                va.tracking = True
                va.pending = pending
                va.replaced = va.index.replaced
                va.saved = va.index.watermark
                self._rebuild_if_worn(va)  # worn before the restart: rebuilt as it was due
        self.on_apply(Applied([], []))

    def _resume(
        self, va: VectorAnn, path: Path, loaded: StoredVectorSeqs | None
    ) -> tuple[HnswIndex, IntSet]:
        """A snapshot's index and the serials it must catch up with.

        Raises:
            SnapshotError: no usable snapshot (missing, torn, another configuration, or
                older than what storage can tell the changes since).
        """
        st = self._state
        seen = read_manifest(path).watermark
        resumable = loaded is not None and loaded.since <= seen <= st.commit_seq
        if seen != st.commit_seq and not resumable:
            raise SnapshotStale(seen, st.commit_seq)
        index = HnswIndex.load(path, expect_config=va.settings.hnsw_config())
        col = st.columns[va.name]
        live = st.serial[np.flatnonzero(col.present[: st.high])]
        gone = np.setdiff1d(index.keys(), live)
        changed = _EMPTY if loaded is None else loaded.serials[loaded.vseqs > seen]
        return index, IntSet(np.concatenate([index.pending, changed, gone]))

    def close(self, save: bool = True) -> None:
        """Stop the indexer (it finishes the chunk in hand: ``CHUNK_SECONDS``) and, with
        ``save``, snapshot what is indexed where that is quick (``_worth_saving``); the
        backlog is left to the next open. The collection's writer must be closed first."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        if not save or self.error is not None:
            return
        for va in self.vectors.values():
            if self._worth_saving(va):
                self._save(va)

    @staticmethod
    def _worth_saving(va: VectorAnn) -> bool:
        if va.path is None or va.index is None or not va.dirty:
            return False
        return va.saved is None or va.index.memory_usage <= SAVE_ON_CLOSE_BYTES

    def on_apply(self, applied: Applied) -> None:
        """Record a committed group (group-commit leader, under the state's write lock)."""
        st = self._state
        work = False
        with self._cond:
            if self.error is not None or self._stop:
                return
            for va in self.vectors.values():
                if va.shadow is not None:
                    va.shadow_pending.update(applied.serials)
                if va.tracking:
                    va.pending.update(applied.serials)
                elif va.settings.wants_index(st.columns[va.name].count):
                    col = st.columns[va.name]
                    rows = np.flatnonzero(col.present[: st.high])
                    va.pending = IntSet(st.serial[rows])
                    va.tracking = True
                self._publish(va)
                work = work or bool(va.pending) or bool(va.shadow_pending)
            if work:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="shoal-indexer", daemon=True
                    )
                    self._thread.start()
                self._cond.notify_all()

    # ------------------------------------------------------------------- queries

    def searchable_index(self, name: str) -> SearchableIndex | None:
        """The index of a vector and the rows it has not caught up with (to score exactly),
        or None when there is no index or the backlog is too big (search exactly).

        Call under the state's read lock.
        """
        va = self.vectors.get(name)
        index = None if va is None else va.index
        if va is None or index is None:
            return None
        st = self._state
        col = st.columns[name]
        limit = min(MAX_BACKLOG, max(MIN_BACKLOG, MAX_BACKLOG_SHARE * col.count))
        with self._cond:
            if va.backlog() > limit:
                return None
            serials = np.concatenate([va.pending.array(), va.inflight])
        return SearchableIndex(index, _present_rows(st, col, serials))

    def status(self) -> m.CollectionStatus:
        """Green when every index a vector wants is caught up, yellow while one is being
        built, catching up or rebuilt (Qdrant's optimizing), red after an indexer failure
        (queries are exact then)."""
        if self.error is not None:
            return m.CollectionStatus.RED
        with self._cond:
            for va in self.vectors.values():
                count = self._state.columns[va.name].count
                if va.settings.wants_index(count) and (
                    va.index is None or va.backlog() or va.shadow is not None
                ):
                    return m.CollectionStatus.YELLOW
        return m.CollectionStatus.GREEN

    def indexed_vectors(self) -> int:
        """Vectors held by the HNSW indexes (Qdrant's ``indexed_vectors_count``)."""
        return sum(len(va.index) for va in self.vectors.values() if va.index is not None)

    def wait_indexed(self, timeout: float | None = None) -> bool:
        """Block until every index has caught up with the committed writes (and a finished
        build has been snapshotted, and a rebuild swapped in).

        Args:
            timeout: seconds to wait at most; None waits as long as it takes.

        Returns:
            True when caught up, False on timeout or after an indexer failure.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._busy or any(
                va.pending or va.shadow is not None for va in self.vectors.values()
            ):
                if self.error is not None or self._stop:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return self.error is None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the indexer between chunks (tests use it to observe a backlog)."""
        with self._cond:
            while self._busy:
                self._cond.wait()
            self._paused = True
        try:
            yield
        finally:
            with self._cond:
                self._paused = False
                self._cond.notify_all()

    # ------------------------------------------------------------------- indexer

    def _run(self) -> None:
        _lower_priority()
        try:
            while True:
                with self._cond:
                    va = self._next_work()
                    while va is None and not self._stop:
                        self._busy = False
                        self._cond.notify_all()
                        self._cond.wait()
                        va = self._next_work()
                    if self._stop:
                        self._busy = False
                        self._cond.notify_all()
                        return
                    self._busy = True
                assert va is not None
                self._step(va)
                if self._due(va):
                    self._save(va)
        except Exception as exc:
            logger.exception("the indexer failed; queries fall back to exact search")
            with self._cond:
                self.error = exc
                for va in self.vectors.values():
                    va.index = va.shadow = None
                    va.shadow_pending.clear()
                    self._publish(va)
                self._busy = False
                self._cond.notify_all()

    @staticmethod
    def _due(va: VectorAnn) -> bool:
        """Whether to snapshot now: a first build just finished, a build or catch-up that
        did enough since the last snapshot just finished (so that the next open finds the
        whole index, not the last periodic snapshot's share of it), or a long one has done
        enough since the last snapshot (see ``SAVE_EVERY``)."""
        if va.path is None or va.index is None or not va.dirty:
            return False
        if va.saved is None and not va.pending:
            return True
        enough = va.added_since_save >= max(SAVE_MIN_ADDS, len(va.index) // 20)
        if not va.pending:
            return enough
        waited = time.monotonic() - va.saved_at
        return waited >= max(SAVE_EVERY, SAVE_COST_SHARE * va.save_seconds) and enough

    def _next_work(self) -> VectorAnn | None:
        if self._paused:
            return None
        # The index queries use first; a rebuild only when every index is caught up.
        for va in self.vectors.values():
            if va.pending:
                return va
        return next((va for va in self.vectors.values() if va.shadow_pending), None)

    def _step(self, va: VectorAnn) -> None:
        """Apply one chunk of the backlog to the index (or, with no backlog, of a rebuild to
        its fresh index), and size the next chunk to take about ``CHUNK_SECONDS``."""
        st = self._state
        col = st.columns[va.name]
        with st.lock.read():
            with self._cond:
                rebuild = not va.pending
                pending = va.shadow_pending if rebuild else va.pending
                threads = va.settings.threads if len(pending) >= PARALLEL_BACKLOG else 1
                size = min(len(pending), va.chunk)
                serials = pending.take(size)
                if not rebuild:
                    va.inflight = serials
            if va.index is None:
                va.index = self._new_index(va.settings, col, st)
            rows = st.row_of_serial[serials]
            keep = rows >= 0
            keep[keep] = col.present[rows[keep]]
            add, vectors, drop = serials[keep], col.data[rows[keep]], serials[~keep]
        index = va.shadow if rebuild else va.index
        assert index is not None
        start = time.monotonic()
        replaced = index.remove(drop) if len(drop) else 0
        if len(add):
            replaced += index.add(add, vectors, threads=threads)
        elapsed = time.monotonic() - start
        if size >= va.chunk // 2 and elapsed > 0:  # a full chunk measures the rate
            fit = int(size * CHUNK_SECONDS / elapsed)
            va.chunk = max(MIN_CHUNK, min(va.max_chunk, fit))
        if rebuild:
            self._rebuilt(va, replaced)
            return
        with self._cond:
            va.inflight = _EMPTY
            va.dirty = True
            va.added_since_save += size
            va.replaced += replaced
            self._publish(va)
            self._cond.notify_all()
        self._rebuild_if_worn(va)

    def _rebuild_if_worn(self, va: VectorAnn) -> None:
        """Start a fresh index beside ``va``'s once REBUILD_SHARE of its keys were replaced
        or removed: every live serial is queued for it, and every commit from now on too
        (``on_apply``), so that once its queue is empty it holds every committed vector."""
        index = va.index
        if va.shadow is not None or index is None or len(index) < REBUILD_MIN:
            return
        if va.replaced < REBUILD_SHARE * len(index):
            return
        st = self._state
        col = st.columns[va.name]
        replaced = va.replaced
        with st.lock.read():  # no commit between the serials taken and the queue opened
            live = st.serial[np.flatnonzero(col.present[: st.high])]
            shadow = self._new_index(va.settings, col, st)
            with self._cond:
                va.shadow = shadow
                va.shadow_pending = IntSet(live)
                va.replaced = va.shadow_replaced = 0
        logger.info(
            "index %r: rebuilding %d vectors (%d replaced or removed since it was built)",
            va.name,
            len(live),
            replaced,
        )

    def _rebuilt(self, va: VectorAnn, replaced: int) -> None:
        """After a rebuild's chunk: swap the fresh index in once it holds every committed
        vector (its queue empty: every commit also queued its serials there). The index in
        use has no backlog then: a rebuild's chunk is taken only without one, and a commit
        since would have queued its serials for the fresh index too."""
        with self._cond:
            va.shadow_replaced += replaced
            if not va.shadow_pending and va.shadow is not None:
                va.index, va.shadow = va.shadow, None
                va.replaced, va.shadow_replaced = va.shadow_replaced, 0
                va.dirty = True
                va.added_since_save = len(va.index)
                self._publish(va)
            self._cond.notify_all()

    def _publish(self, va: VectorAnn) -> None:
        """Keep ``caught_up`` in step with ``va``'s backlog (``_cond`` held)."""
        if va.index is not None and not va.pending and not len(va.inflight):
            self.caught_up[va.name] = SearchableIndex(va.index, _EMPTY)
        else:
            self.caught_up.pop(va.name, None)

    def _new_index(
        self, settings: AnnSettings, col: VectorColumn, st: CollectionState
    ) -> HnswIndex:
        quantizer = None
        if settings.dtype == "i8":
            # Fit the int8 scaling on the whole column (a sample of it), not on one chunk.
            rows = np.flatnonzero(col.present[: st.high])
            if len(rows) > FIT_SAMPLE:  # evenly spaced: deterministic, spread over the column
                rows = rows[np.linspace(0, len(rows) - 1, FIT_SAMPLE).astype(np.int64)]
            mode = SYMMETRIC if settings.metric == DOT else OFFSET
            quantizer = Int8Quantizer.fit(col.data[rows], mode=mode, percentile=settings.percentile)
        return HnswIndex(
            settings.dim,
            settings.metric,
            m=settings.m,
            ef_construct=settings.ef_construct,
            dtype=settings.dtype,
            quantizer=quantizer,
        )

    def _save(self, va: VectorAnn) -> None:
        """Snapshot the index with the commit_seq and backlog of this moment (the indexer
        is between chunks or stopped, so the index holds exactly what it has applied)."""
        index, path = va.index, va.path
        if index is None or path is None:
            return
        st = self._state
        with st.lock.read(), self._cond:
            seq = st.commit_seq
            pending = va.pending.array()
            replaced = va.replaced
            va.dirty, va.added_since_save = False, 0
        start = time.monotonic()
        try:
            index.save(path, watermark=seq, pending=pending, replaced=replaced)
        except OSError:  # the data is safe in storage; the next open catches up or rebuilds
            logger.exception("index %r: could not save its snapshot to %s", va.name, path)
            with self._cond:
                va.dirty = True
            return
        with self._cond:
            va.saved, va.saved_at = seq, time.monotonic()
            va.save_seconds = va.saved_at - start


def snapshot_path(folder: Path, name: str) -> Path:
    """Where the snapshot of the index of vector ``name`` lives in a collection folder."""
    if not name:
        return folder / f"{SNAPSHOT_PREFIX}.usearch"
    if _SAFE.fullmatch(name):
        return folder / f"{SNAPSHOT_PREFIX}-{name}.usearch"
    # Any other name (slashes, dots, unicode...) gets a digest: still one file per name.
    return folder / f"{SNAPSHOT_PREFIX}-x-{hashlib.sha256(name.encode()).hexdigest()[:24]}.usearch"


def remove_snapshot(folder: Path, name: str) -> None:
    """Delete the index snapshot of vector ``name`` in a collection folder, if any (its
    manifest first: a snapshot without one is never loaded)."""
    path = snapshot_path(folder, name)
    for target in (manifest_path(path), path):
        target.unlink(missing_ok=True)


@dataclass(frozen=True)
class StoredVectorSeqs:
    """What a collection's load read for the index snapshots to catch up with: per stored
    point its serial and the ``commit_seq`` that last wrote its vectors (``vseq``), and the
    commit_seq from which storage's ``vseq`` records are complete (``since``)."""

    serials: np.ndarray
    vseqs: np.ndarray
    since: int


def _lower_priority() -> None:
    """Run the calling thread (and the insert threads it starts) at a lower CPU priority.

    The index is background work: on a busy machine the event loop and the threads that
    answer queries should get the CPU first. Linux keeps a nice value per thread, so this
    touches no other thread of the process; elsewhere it does nothing.
    """
    with contextlib.suppress(AttributeError, OSError):  # none here, or not allowed
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), INDEXER_NICE)


def _present_rows(st: CollectionState, col: VectorColumn, serials: np.ndarray) -> np.ndarray:
    rows = st.row_of_serial[serials]
    rows = rows[rows >= 0]
    return np.unique(rows[col.present[rows]])


def _sweep_temp(path: Path) -> None:
    # Temporary files of a snapshot write that a crash interrupted (see index.snapshot).
    for leftover in path.parent.glob(f".{path.name}*.tmp"):
        leftover.unlink(missing_ok=True)
