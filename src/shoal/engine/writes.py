"""Group commit: concurrent writes to one collection share one transaction and one fsync.

A writer queues its write (which gives it its operation id, increasing in queue order) and
then tries to become the leader: the writes queue in a ``shoal.concurrency.Batcher``
(leader/follower), whose batch is a group. The leader takes every queued write, computes
each one's changes in queue order against the committed state plus the changes of the
group so far (the overlay), commits the surviving changes in one SQLite transaction,
applies them to memory, and hands each writer its outcome. A write whose changes cannot be
computed (it is rejected) fails alone; the others in its group commit. There is no waiting
window: a lone writer commits at once, and writes pile up only while a commit is already in
flight.

Nothing one write carries can fail the group at commit time: payloads are checked and put in
stored form before a write is queued (``shoal.payloads``). If storage refuses the group all
the same (disk full, an I/O error), nothing of it was applied, and the leader commits its
writes one at a time, so only a write that fails alone fails.

A write with ``wait=False`` is queued and handed to a background flusher thread; it becomes
visible and durable with the flusher's next commit. The queue is bounded (``MAX_QUEUED``
points): past it such a write waits for room, or is refused with ``Overloaded``. If storage
refuses it, the failure is logged with its operation id and the collection's next call
raises ``StorageError`` naming it (``take_failed``).

The leader also gives each new point its serial and bumps ``commit_seq`` (when the group
changes vectors or deletes points) in the group's own transaction, and tells the listeners
(payload indexes, the ANN indexer) what changed while it still holds the state's write lock,
so derived structures never disagree with what a search sees.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shoal.codec import Kept, SparseRow, StoredLayout
from shoal.concurrency import Batcher, Ticket
from shoal.engine.filtering import matching_rows
from shoal.engine.state import DELETED, Applied, CollectionState, Row
from shoal.errors import Overloaded, StorageError, WriteNotStored
from shoal.filters import Predicate
from shoal.gil import shared
from shoal.ids import PointId
from shoal.storage import COMMIT_SEQ, NEXT_SERIAL, CollectionStore, encode_id

Changes = dict[PointId, Row | None]
logger = logging.getLogger("shoal.engine")
# Points that may wait in a collection's write queue (wait=False writes wait past it): about
# 150 MB of 384-d vectors as Python floats, a bound on memory, not a tuning knob.
MAX_QUEUED = 100_000


def _reason(exc: BaseException) -> str:
    """Why storage failed, without the file's path (the message may reach a client)."""
    cause = exc.__cause__ if isinstance(exc, StorageError) and exc.__cause__ else exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror  # str(OSError) names the file
    if isinstance(cause, StorageError):
        return type(cause).__name__
    return str(cause) or type(cause).__name__


class _NotStored(Exception):
    """Storage refused a group: ``error`` is what its writers get."""

    def __init__(self, error: WriteNotStored) -> None:
        super().__init__(str(error))
        self.error = error


class View:
    """The state a write's changes are computed against: committed rows overlaid with the
    group's earlier changes. Computing changes never mutates the committed state."""

    def __init__(self, state: CollectionState, overlay: Changes) -> None:
        self.state = state
        self.overlay = overlay

    def exists(self, pid: PointId) -> bool:
        if pid in self.overlay:
            return self.overlay[pid] is not DELETED
        return pid in self.state.row_of

    def payload(self, pid: PointId) -> dict[str, Any] | None:
        if pid in self.overlay:
            row = self.overlay[pid]
            return None if row is None else row.payload
        r = self.state.row_of.get(pid)
        return None if r is None else self.state.payloads[r]

    def vectors(self, pid: PointId) -> dict[str, Kept] | None:
        """The point's vectors if this group replaced them, else None (unchanged)."""
        row = self.overlay.get(pid)
        return None if row is None else row.vectors

    def all_vectors(self, pid: PointId) -> dict[str, Kept]:
        """Every vector the (existing) point has now, this group's changes included (dense
        ones copied out of the matrices, which later groups change; sparse ones are never
        changed in place)."""
        row = self.overlay.get(pid)
        if row is not None and row.vectors is not None:
            return dict(row.vectors)
        r = self.state.row_of.get(pid)
        if r is None:
            return {}
        return {
            k: v if isinstance(v, SparseRow) else v.copy()
            for k, v in self.state.vectors_of(r).items()
        }

    def matching(self, pred: Predicate) -> list[PointId]:
        """Ids of existing points whose (possibly pending) payload satisfies ``pred``."""
        st = self.state
        out = [
            pid
            for pid in (st.keys[r] for r in matching_rows(st, pred))
            if pid is not None and pid not in self.overlay
        ]
        for pid, row in self.overlay.items():
            if row is not None and pred(row.payload or {}, pid):
                out.append(pid)
        return out


# Computes a write's changes against the view, given the write's version (its op id); raises
# to reject the write.
MakeChanges = Callable[[View, int], Changes]


def all_or_nothing(parts: list[MakeChanges]) -> MakeChanges:
    """One write doing ``parts`` in order, each seeing the changes of those before it; if
    any rejects its write, the combined write is rejected and none of them is applied."""

    def combined(view: View, version: int) -> Changes:
        changes: Changes = {}
        seen = View(view.state, dict(view.overlay))
        for part in parts:
            made = part(seen, version)
            seen.overlay.update(made)
            changes.update(made)
        return changes

    return combined


@dataclass
class Write:
    """One caller's write: ``make_changes`` computes its changes (or raises to reject it).

    ``op_id`` is given when the write is queued: operation ids increase in queue order, and
    the leader computes the writes' changes in that order (the id is also the version of
    what it writes).
    """

    make_changes: MakeChanges
    wait: bool
    size: int
    op_id: int = -1
    error: BaseException | None = None


class GroupCommitter:
    """Serialises and batches the writes of one collection.

    Args:
        state: the collection's state.
        store: its storage, or None for a memory-only collection.
        layout: how its points' vectors are stored.
        max_queued: how many points (a write that is not an upsert counts one) may wait
            in the queue (default ``MAX_QUEUED``); past it a ``wait=False`` write waits for
            room, or with ``block=False`` is refused with ``Overloaded``.
    """

    def __init__(
        self,
        state: CollectionState,
        store: CollectionStore | None,
        layout: StoredLayout,
        max_queued: int | None = None,
    ) -> None:
        self._state = state
        self._store = store
        self._layout = layout
        self._max_queued = MAX_QUEUED if max_queued is None else max_queued
        self._groups: Batcher[Write, int] = Batcher(self._commit_group)
        self._queued = 0  # points in the queue
        self._queue_lock = threading.Lock()
        self._room = threading.Condition(self._queue_lock)
        self._next_op = int(state.versions.max(initial=-1)) + 1
        self._flush_wanted = threading.Event()
        self._flusher: threading.Thread | None = None
        self._closed = False
        # wait=False writes storage lost, not reported yet (read without the lock first).
        self.lost: list[tuple[int, WriteNotStored]] = []
        self.commits = 0  # groups committed (observed by tests of group commit)
        # Called with each applied group under the state's write lock; must not raise.
        self.listeners: list[Callable[[Applied], None]] = []

    # --------------------------------------------------------------------- public

    def submit(self, make_changes: MakeChanges, wait: bool = True, size: int = 1) -> int:
        """Queue a write; with ``wait`` return once it is durable and visible.

        Returns:
            The write's operation id.

        Raises:
            Whatever computing its changes raised (only this write is rejected), or
            StorageError.
        """
        outcome = self.submit_many([(make_changes, size)], wait)[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def submit_many(
        self, writes: list[tuple[MakeChanges, int]], wait: bool = True, block: bool = True
    ) -> list[int | BaseException]:
        """Queue several writes at once (they join one group).

        Args:
            writes: what computes each write's changes, and its size (its points; 1 for a
                write of another kind).
            wait: return once they are durable and visible; False returns once queued.
            block: with ``wait=False`` and a full queue, wait for room (True) or raise
                ``Overloaded`` (False: the server answers 429).

        Returns:
            Per write, its operation id or the exception that rejected it.

        Raises:
            Overloaded: the queue is full and ``block`` is False.
        """
        queued = [Write(make, wait, size) for make, size in writes]
        if not wait:
            self._start_flusher()
        ticket = self._enqueue(queued, wait, block)
        if not wait:
            self._flush_wanted.set()
            return [w.op_id for w in queued]
        return self._groups.wait(ticket)

    def take_failed(self) -> WriteNotStored | None:
        """The ``wait=False`` writes storage refused since the last call, reported once:
        a StorageError naming their operation ids and the first cause, or None."""
        if not self.lost:  # the usual case, without taking the lock
            return None
        with self._queue_lock:
            failed, self.lost = self.lost, []
        if not failed:
            return None
        ids = ", ".join(str(op) for op, _ in failed)
        return WriteNotStored(
            f"acknowledged write(s) with operation id {ids} (wait=false) could not be stored "
            f"and were discarded: {failed[0][1].message}"
        )

    def flush(self) -> None:
        """Commit everything queued so far (used on close and by wait=False writers)."""
        self._groups.drain()

    def close(self) -> None:
        """Commit what is queued and refuse later writes (``_enqueue``)."""
        with self._room:  # a write queued before this is committed by the flush below
            self._closed = True
        self._flush_wanted.set()
        if self._flusher is not None:
            self._flusher.join()
        self.flush()

    # ------------------------------------------------------------------- internals

    def _enqueue(self, writes: list[Write], wait: bool, block: bool) -> Ticket[Write, int]:
        size = sum(w.size for w in writes)
        with self._room:
            # A wait=True writer commits its own group, so only wait=False writes are held
            # back; one larger than the whole bound still goes through an empty queue.
            while not wait and self._queued and self._queued + size > self._max_queued:
                if not block:
                    raise Overloaded(
                        f"Too many requests: {self._queued} points are waiting to be written "
                        f"(at most {self._max_queued} may wait with wait=false); retry later "
                        "or send with wait=true"
                    )
                self._flush_wanted.set()
                self._room.wait()
            if self._closed:
                # The collection was deleted, or reopened with another configuration, after
                # this write found it: applied here, it would be lost with this object.
                raise WriteNotStored(
                    "the write was not stored: its collection was closed (deleted, or "
                    "reopened by a configuration change) before it was queued; retry it"
                )
            for write in writes:
                write.op_id = self._next_op
                self._next_op += 1
            self._queued += size
            # Queued under the room lock, so queue order is operation id order.
            return self._groups.enqueue(writes)

    def _start_flusher(self) -> None:
        if self._flusher is None:
            with self._queue_lock:
                if self._flusher is None:
                    self._flusher = threading.Thread(
                        target=self._flush_loop, name="shoal-flusher", daemon=True
                    )
                    self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._flush_wanted.wait()
            self._flush_wanted.clear()
            self.flush()

    def _commit_group(self, group: list[Write]) -> list[int | BaseException]:
        """Leader work: compute, commit and apply a group of queued writes.

        Returns:
            Per write, its operation id or the exception that rejected it.
        """
        with self._room:
            self._queued -= sum(w.size for w in group)
            self._room.notify_all()
        try:
            overlay: Changes = {}
            accepted: list[Write] = []
            for write in group:
                try:
                    changes = write.make_changes(View(self._state, overlay), write.op_id)
                except Exception as exc:
                    write.error = exc
                    continue
                overlay.update(changes)
                accepted.append(write)
            try:
                self._commit(overlay, accepted)
            except _NotStored:
                # Storage refused the group (disk full, I/O error, or a write it could not
                # hold): commit the writes one by one, so only the failing one fails.
                for write in accepted:
                    self._commit_alone(write)
            self.commits += 1
        finally:
            self._report(group)
        return [w.op_id if w.error is None else w.error for w in group]

    def _commit_alone(self, write: Write) -> None:
        try:
            changes = write.make_changes(View(self._state, {}), write.op_id)
            self._commit(changes, [write])
        except _NotStored as exc:
            write.error = exc.error
        except Exception as exc:
            write.error = exc

    def _commit(self, overlay: Changes, writes: list[Write]) -> None:
        """Persist then apply one group's changes.

        Raises:
            _NotStored: storage refused the group; nothing of it was applied.
        """
        if not overlay:
            return
        try:
            seq = self._persist(overlay)
        except Exception as exc:
            ids = ", ".join(str(w.op_id) for w in writes)
            error = WriteNotStored(f"write {ids} could not be stored: {_reason(exc)}")
            raise _NotStored(error) from exc
        try:
            with self._state.lock.write():
                applied = self._state.apply(overlay)
                self._state.commit_seq = seq
                for listener in self.listeners:
                    listener(applied)
        except Exception as exc:  # a bug: storage has the group, memory may not
            logger.exception("applying a committed group failed")
            for write in writes:
                write.error = exc

    def _report(self, group: list[Write]) -> None:
        lost = []
        for write in group:
            if write.error is not None and not write.wait:
                logger.warning("write %d (wait=false) failed: %s", write.op_id, write.error)
                if isinstance(write.error, WriteNotStored):
                    lost.append((write.op_id, write.error))
        if lost:
            with self._queue_lock:
                self.lost += lost

    def _persist(self, overlay: Changes) -> int:
        """Give new points their serials and write the group in one transaction.

        Returns:
            The group's ``commit_seq``: one more than the state's if the group changes
            vectors or deletes points (the ANN index depends on nothing else), else the same.
        """
        st = self._state
        serials_before = st.next_serial
        vectors_changed = False
        for pid, row in shared(overlay.items()):
            if row is None or row.vectors is not None:
                vectors_changed = True
            if row is None:
                continue
            current = st.row_of.get(pid)
            if current is None:
                # Advanced even if the commit then fails: a serial is never reused.
                row.serial = st.next_serial
                st.next_serial += 1
            else:
                row.serial = int(st.serial[current])
        seq = st.commit_seq + int(vectors_changed)
        if self._store is None:
            return seq
        upserts, updates, deletes = [], [], []
        for pid, row in shared(overlay.items()):
            key = encode_id(pid)
            if row is None:
                deletes.append(key)
            elif row.vectors is not None:
                upserts.append(
                    (key, row.version, row.serial, row.payload, self._layout.pack(row.vectors))
                )
            elif pid in st.row_of:
                updates.append((key, row.version, row.payload))
        counters = {}
        if vectors_changed:
            counters[COMMIT_SEQ] = seq
        if st.next_serial != serials_before:
            counters[NEXT_SERIAL] = st.next_serial
        self._store.commit(upserts, updates, deletes, counters, vseq=seq)
        return seq
