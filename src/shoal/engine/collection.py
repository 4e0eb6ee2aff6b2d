"""One collection: its configuration, in-memory state, storage and write path.

Public methods take and return ``shoal.models`` objects (Qdrant's request and response
shapes), so the local client transport and the server call exactly the same code.
Thread-safe: writes go through the group committer, reads take the state's read lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any, TypeVar

import numpy as np
from typing_extensions import assert_never

from shoal import models as m
from shoal.codec import (
    DEFAULT_VECTOR,
    Kept,
    StoredLayout,
    check_sparse,
    check_vector_rows,
    check_vectors,
)
from shoal.concurrency import Batcher
from shoal.engine.ann import CollectionAnn, StoredVectorSeqs
from shoal.engine.deadline import NO_DEADLINE, Deadline
from shoal.engine.filtering import Filters, with_deadline
from shoal.engine.index_schema import IndexSchema, text_indexes
from shoal.engine.inference import embed_documents
from shoal.engine.limits import Limits
from shoal.engine.payload_index import PayloadIndexes
from shoal.engine.points import (
    ids_of,
    key_path,
    payload_selector,
    point_list,
    points_of,
    set_key_path,
)
from shoal.engine.query import Query, Searcher
from shoal.engine.reads import CollectionReads
from shoal.engine.state import DELETED, CollectionState, Row
from shoal.engine.strict import StrictMode, strict_mode
from shoal.engine.support import check_shard_key, check_upsert
from shoal.engine.vector_names import vector_space
from shoal.engine.writes import Changes, GroupCommitter, MakeChanges, View, all_or_nothing
from shoal.errors import (
    BadRequest,
    InvalidQuery,
    InvalidVector,
    NotSupported,
    Overloaded,
    PointNotFound,
)
from shoal.gil import shared
from shoal.ids import PointId, canonical_id
from shoal.payloads import MAX_PAYLOAD_DEPTH, check_payload, check_text, json_copy, set_at
from shoal.storage import COMMIT_SEQ, NEXT_SERIAL, VSEQ_SINCE, CollectionStore, decode_id
from shoal.storage.sqlite import StoredColumns

Item = TypeVar("Item")
T = TypeVar("T")
_Write = tuple[m.UpdateOperation, "Deadline | None"]  # a write and its deadline
DEFAULT_HNSW = {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000}


class Collection(CollectionReads):
    """A named set of points with a fixed vector configuration.

    Args:
        name: the collection's name.
        config: its configuration.
        store: its storage, or None for a collection that lives in memory only.
        limits: the limits its filters must keep to (the defaults when None).
        points: a memory-only collection's points (``store`` is None), packed as stored.
    """

    def __init__(
        self,
        name: str,
        config: m.CreateCollection,
        store: CollectionStore | None,
        limits: Limits | None = None,
        points: Iterable[StoredColumns] = (),
    ) -> None:
        self.name = name
        self.config = config
        self.store = store
        self.limits = limits or Limits()
        self.space = vector_space(config)
        self.named = self.space.named
        self.vector_params = self.space.dense
        self.state = CollectionState(self.vector_params, self.space.sparse, multi=self.space.multi)
        layout = StoredLayout(self.space)
        self.payload_indexes: dict[str, IndexSchema] = {}
        self.payload_index = PayloadIndexes()
        self.filters = Filters(self.limits)
        self.filters.set_vectors(self.state, self.space.names())
        loaded = None if store is None else self._load(store, layout)
        if store is None:
            self._fill(points, layout)
        self.writer = GroupCommitter(self.state, store, layout)
        for field, schema in self.payload_indexes.items():
            self.payload_index.create(self.state, field, schema.type)
        self.filters.set_text_indexes(text_indexes(self.payload_indexes))
        self.ann = CollectionAnn(
            self.state,
            config,
            self.vector_params,
            None if store is None else store.path.parent,
        )
        self.ann.open(loaded)
        self.writer.listeners += [
            lambda applied: self.payload_index.on_apply(self.state, applied),
            self.ann.on_apply,
        ]
        self.searcher = Searcher(
            self.state,
            self.space,
            self.ann,
            self.payload_index,
            self.filters,
            self.writer,
            idf=_idf_vectors(config),
        )
        self.strict: StrictMode | None = None
        self.reconfigure(config)
        # Queries of threads that call the engine directly (the server): the clients' own
        # batchers call searcher.run_batch.
        self.searches: Batcher[Query, m.QueryResponse] = Batcher(self.searcher.run_batch)

    def reconfigure(self, config: m.CreateCollection) -> None:
        """Take a new configuration that needs no new index (``strict_mode_config``,
        ``metadata``, a sparse vector's ``modifier`` ...); it applies to the next request."""
        self.config = config
        self.strict = strict_mode(
            config, self.filters, self.payload_indexes, self.state, self.strict
        )
        self.searcher.strict = self.strict
        # A sparse vector's modifier: IDF is computed at query time from the live points.
        self.searcher.idf = _idf_vectors(config)

    def _load(self, store: CollectionStore, layout: StoredLayout) -> StoredVectorSeqs:
        """Load every stored point; returns what the ANN snapshots need to catch up."""
        self.state.reserve(store.count())
        serials, vseqs = self._fill(store.load(), layout)
        self.state.next_serial = max(self.state.next_serial, store.counter(NEXT_SERIAL))
        self.state.commit_seq = store.counter(COMMIT_SEQ)
        for field, schema in (store.get_meta("payload_indexes") or {}).items():
            self.payload_indexes[field] = IndexSchema.load(schema)
        return StoredVectorSeqs(
            np.concatenate(serials) if serials else np.zeros(0, np.int64),
            np.concatenate(vseqs) if vseqs else np.zeros(0, np.int64),
            store.counter(VSEQ_SINCE),
        )

    def _fill(
        self, points: Iterable[StoredColumns], layout: StoredLayout
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Add stored points to the state; returns their serials' and vseqs' arrays."""
        serials: list[np.ndarray] = []
        vseqs: list[np.ndarray] = []
        # In batches: vectors go into the matrices a block at a time, not point by point.
        for cols in points:
            serials.append(np.asarray(cols.serials, dtype=np.int64))
            vseqs.append(np.asarray(cols.vseqs, dtype=np.int64))
            self.state.extend(
                [decode_id(k) for k in cols.keys],
                cols.versions,
                cols.serials,
                cols.payloads,
                layout.unpack_many(cols.vectors),
                layout.unpack_sparse(cols.vectors) if layout.sparse else None,
                layout.unpack_multi(cols.vectors) if layout.multi else None,
            )
        self.state.generation += 1
        return serials, vseqs

    def close(self) -> None:
        """Flush queued writes, stop the indexer, snapshot the ANN indexes, close the store."""
        self._close(save_index=True)

    def drop(self) -> None:
        """Close a collection that is being deleted (no index snapshot is written)."""
        self._close(save_index=False)

    def _close(self, save_index: bool) -> None:
        self.writer.close()
        try:
            self.ann.close(save=save_index)
        finally:
            if self.store is not None:
                self.store.close()

    def wait_indexed(self, timeout: float | None = None) -> bool:
        """Block until the ANN indexes have caught up with every committed write.

        Args:
            timeout: seconds to wait at most; None waits as long as it takes.

        Returns:
            True when caught up (status green), False on timeout or indexer failure.
        """
        return self.ann.wait_indexed(timeout)

    # ------------------------------------------------------------------ info

    def info(self) -> m.CollectionInfo:
        """Status, counts, payload indexes, and the configuration as created: every setting
        it was given is shown (``shoal.engine.support`` refused those it would not honour)."""
        config = self.config
        hnsw = {
            **DEFAULT_HNSW,
            **(config.hnsw_config or m.HnswConfigDiff()).model_dump(exclude_none=True),
        }
        with self.state.lock.read():
            count = len(self.state)
            schema = {
                field: s.info(self.payload_index.points(field))
                for field, s in self.payload_indexes.items()
            }
            status = self.ann.status()
            indexed = self.ann.indexed_vectors()
        return m.CollectionInfo(
            status=status,
            optimizer_status="ok",
            indexed_vectors_count=indexed,
            points_count=count,
            segments_count=1,
            config=m.CollectionConfig(
                params=m.CollectionParams(
                    vectors=config.vectors if config.vectors is not None else {},
                    sparse_vectors=config.sparse_vectors,
                    sharding_method=config.sharding_method,
                    on_disk_payload=config.on_disk_payload is not False,
                    payload=config.payload,
                ),
                hnsw_config=m.HnswConfig(**hnsw),
                optimizer_config=_optimizers_config(config.optimizers_config),
                wal_config=m.WalConfig(**(config.wal_config or {})),
                quantization_config=config.quantization_config,
                strict_mode_config=config.strict_mode_config,
                metadata=config.metadata,
            ),
            payload_schema=schema,
        )

    # ---------------------------------------------------------------- writes

    def _result(self, op_id: int, wait: bool) -> m.UpdateResult:
        status = m.UpdateStatus.COMPLETED if wait else m.UpdateStatus.ACKNOWLEDGED
        return m.UpdateResult(operation_id=op_id, status=status)

    def _write(self, make: MakeChanges, wait: bool, size: int = 1) -> m.UpdateResult:
        self.check_failed()
        return self._result(self.writer.submit(make, wait, size), wait)

    def write_many(
        self,
        ops: Sequence[m.UpdateOperation],
        wait: bool = True,
        block: bool = True,
        deadlines: Sequence[Deadline | None] | None = None,
    ) -> list[m.UpdateResult | BaseException]:
        """Independent writes in one group commit (the concurrent writes of several callers):
        a bad write fails alone, the others commit together.

        Args:
            ops: the writes, as Qdrant's update operations.
            wait: as in ``upsert``.
            block: with ``wait=False``, wait for room in a full write queue (True) or
                fail those writes with ``Overloaded`` (False, for the server's 429).
            deadlines: per op, when choosing its points by filter must stop (None: no
                time limit).

        Returns:
            One result or exception per op.
        """
        timed = [None] * len(ops) if deadlines is None else deadlines
        items = list(zip(ops, timed, strict=True))
        return self._after_failures(items, lambda items: self._write_each(items, wait, block))

    def _write_each(
        self, items: Sequence[_Write], wait: bool, block: bool
    ) -> list[m.UpdateResult | BaseException]:
        prepared = self._prepare(items)
        outcomes: dict[int, m.UpdateResult | BaseException] = {
            i: p for i, p in enumerate(prepared) if isinstance(p, BaseException)
        }
        ready = [(i, p) for i, p in enumerate(prepared) if not isinstance(p, BaseException)]
        try:
            done = self.writer.submit_many([p for _, p in ready], wait, block)
        except Overloaded as exc:
            done = [exc] * len(ready)
        for (i, _), outcome in zip(ready, done, strict=True):
            outcomes[i] = (
                outcome if isinstance(outcome, BaseException) else self._result(outcome, wait)
            )
        return [outcomes[i] for i in range(len(prepared))]

    def batch_update(
        self, operations: Sequence[m.UpdateOperation], wait: bool = True
    ) -> list[m.UpdateResult]:
        """Qdrant's ``points/batch``: the operations applied in order as one write, all of
        them or, if any is rejected, none. One result per operation, all with the same
        operation id.

        Raises:
            The first rejected operation's error; NotSupported for an upsert with
            ``shard_key``, which Shoal does not serve.
        """
        ready = []
        for prepared in self._prepare([(op, None) for op in operations]):
            if isinstance(prepared, BaseException):
                raise prepared
            ready.append(prepared)
        combined = all_or_nothing([make for make, _ in ready])
        result = self._write(combined, wait, sum(size for _, size in ready))
        return [result] * len(ready)

    def _prepare(self, items: Sequence[_Write]) -> list[tuple[MakeChanges, int] | BaseException]:
        """Per write, what computes its changes and its size (points; 1 for a write of
        another kind), or the exception that rejected it."""
        out: list[tuple[MakeChanges, int] | BaseException | None] = [None] * len(items)
        # The vectors of every upsert in the group are converted and checked together.
        upserts: dict[int, tuple[m.PointsList | m.PointsBatch, list[m.PointStruct]]] = {}
        for i, (op, _) in enumerate(items):
            try:
                for body in op.__dict__.values():
                    check_shard_key(body)
                if isinstance(op, m.UpsertOperation):
                    check_upsert(op.upsert)
                    upserts[i] = (op.upsert, points_of(op.upsert))
                if self.strict is not None:
                    self.strict.check_write(op, upserts[i][1] if i in upserts else None)
            except Exception as exc:  # e.g. a Batch whose columns differ in length
                out[i] = exc
        checked = self._checked_vectors([p for _, pts in upserts.values() for p in pts])
        start = 0
        for i, (op, deadline) in enumerate(items):
            if out[i] is not None:
                continue
            try:
                if i in upserts:
                    body, points = upserts[i]
                    end = start + len(points)
                    out[i] = (self._upsert_changes(points, checked[start:end], body), len(points))
                    start = end
                else:
                    out[i] = (self._changes(op, deadline), 1)
            except Exception as exc:
                out[i] = exc
        return [p for p in out if p is not None]

    def _changes(self, op: m.UpdateOperation, deadline: Deadline | None) -> MakeChanges:
        """What computes a write's changes (an upsert's without pre-checked vectors)."""
        match op:
            case m.UpsertOperation(upsert=body):
                return self._upsert_changes(points_of(body), None, body)
            case m.DeleteOperation(delete=selector):
                return self._delete_changes(selector, deadline)
            case m.SetPayloadOperation(set_payload=body):
                return self._set_payload_changes(body)
            case m.OverwritePayloadOperation(overwrite_payload=body):
                return self._overwrite_payload_changes(body)
            case m.DeletePayloadOperation(delete_payload=body):
                return self._delete_payload_changes(body)
            case m.ClearPayloadOperation(clear_payload=selector):
                return self._clear_payload_changes(selector)
            case m.UpdateVectorsOperation(update_vectors=body):
                return self._update_vectors_changes(body)
            case m.DeleteVectorsOperation(delete_vectors=body):
                return self._delete_vectors_changes(body)
        assert_never(op)

    def upsert(
        self, points: Sequence[m.PointStruct] | m.Batch, wait: bool = True
    ) -> m.UpdateResult:
        """Insert or replace points; the whole batch is validated before anything is written.

        Raises:
            InvalidPointId, InvalidVector, WrongVectorSize, InvalidPayload: naming the point.
        """
        points = point_list(points)
        return self._write(self._upsert_changes(points), wait, len(points))

    def _upsert_changes(
        self,
        points: Sequence[m.PointStruct] | m.Batch,
        checked: Sequence[dict[str, Kept] | None] | None = None,
        body: m.PointsList | m.PointsBatch | None = None,
    ) -> MakeChanges:
        """Validate points now; what is returned writes them when the group commits.

        Args:
            points: the points.
            checked: their vectors in stored form where already checked
                (``_checked_vectors``); computed here when not given.
            body: the request, for its ``update_mode`` (``insert_only`` leaves existing
                points alone, ``update_only`` writes no new ones) and ``update_filter``
                (an existing point is replaced only if it matches), as Qdrant applies them.
        """
        mode = None if body is None else body.update_mode
        only_if = None if body is None else self.filters.predicate(body.update_filter)
        points = embed_documents(point_list(points), self.space)
        if checked is None:
            checked = self._checked_vectors(points)
        rows: dict[PointId, tuple[dict[str, Kept], dict[str, Any] | None]] = {}
        for p, pre in shared(zip(points, checked, strict=True)):
            pid = canonical_id(p.id)
            vectors = pre
            if vectors is None:
                vectors = check_vectors(p.vector, self.space, point=p.id)
            rows[pid] = (vectors, check_payload(p.payload, point=p.id))

        def changes(view: View, version: int) -> Changes:
            # check_payload copied each payload: the rows own them.
            made = shared(rows.items())
            if mode is None and only_if is None:
                return {pid: Row(vecs, payload, version) for pid, (vecs, payload) in made}
            out: Changes = {}
            for pid, (vecs, payload) in made:
                if view.exists(pid):
                    if mode == m.UpdateMode.INSERT_ONLY:
                        continue
                    if only_if is not None and not only_if(view.payload(pid) or {}, pid):
                        continue
                elif mode == m.UpdateMode.UPDATE_ONLY:
                    continue
                out[pid] = Row(vecs, payload, version)
            return out

        return changes

    def _checked_vectors(self, points: Sequence[m.PointStruct]) -> list[dict[str, Kept] | None]:
        """The vectors of many points, converted and checked in one go per vector name
        (bulk ingest spent ~15 µs per point on a conversion each); None for a point to
        check alone (``check_vectors`` then names what is wrong with it)."""
        groups: dict[str, tuple[list[int], list[Any]]] = {}
        found: list[dict[str, Kept]] = [{} for _ in points]
        sparse = self.space.sparse
        for i, p in enumerate(shared(points)):
            raw = p.vector
            items = raw.items() if isinstance(raw, dict) else [(DEFAULT_VECTOR, raw)]
            for name, vec in items:
                if name in self.vector_params and isinstance(vec, list):
                    idxs, raws = groups.setdefault(name, ([], []))
                    idxs.append(i)
                    raws.append(vec)
                elif name in sparse and isinstance(vec, m.SparseVector):
                    with suppress(InvalidVector):  # the point is checked alone: named there
                        found[i][name] = check_sparse(vec, name=name, point=p.id)
        for name, (idxs, raws) in groups.items():
            rows = check_vector_rows(raws, self.vector_params[name])
            for i, row in zip(idxs, rows, strict=True):
                if row is not None:
                    found[i][name] = row
        out: list[dict[str, Kept] | None] = []
        for p, vectors in zip(points, found, strict=True):
            raw = p.vector
            given = len(raw) if isinstance(raw, dict) else 1
            shape_ok = isinstance(raw, dict) or not self.named
            out.append(vectors if shape_ok and len(vectors) == given else None)
        return out

    def _select(
        self,
        view: View,
        selector: m.PointsSelector | Sequence[Any],
        strict: bool,
        deadline: Deadline = NO_DEADLINE,
    ) -> list[PointId]:
        """Ids a write applies to; with ``strict`` every listed id must exist."""
        if isinstance(selector, m.FilterSelector):
            pred = self.filters.predicate(selector.filter)
            assert pred is not None
            return view.matching(with_deadline(pred, deadline))
        raw = selector.points if isinstance(selector, m.PointIdsList) else selector
        ids = ids_of(raw)
        if strict:
            for pid in ids:
                if not view.exists(pid):
                    raise PointNotFound(pid)
        return [pid for pid in ids if view.exists(pid)]

    def _check_selector(self, selector: m.PointsSelector | Sequence[Any]) -> None:
        # Validate ids and compile the filter up front, so errors reach the caller before
        # the write is queued (and are raised in the caller's thread).
        if isinstance(selector, m.FilterSelector):
            self.filters.compile(selector.filter)
        else:
            ids_of(selector.points if isinstance(selector, m.PointIdsList) else selector)

    def delete(
        self,
        selector: m.PointsSelector | Sequence[Any],
        wait: bool = True,
        deadline: Deadline | None = None,
    ) -> m.UpdateResult:
        """Delete points by ids (missing ids are ignored) or by filter.

        Args:
            selector: ids, or a filter selecting the points.
            wait: return once the delete is durable (else once it is queued).
            deadline: when choosing the points by filter must stop (the delete then fails
                alone, changing nothing).

        Raises:
            RequestTimeout: the deadline passed while the filter was evaluated.
        """
        return self._write(self._delete_changes(selector, deadline), wait)

    def _delete_changes(
        self, selector: m.PointsSelector | Sequence[Any], deadline: Deadline | None = None
    ) -> MakeChanges:
        self._check_selector(selector)
        until = deadline or NO_DEADLINE

        def changes(view: View, version: int) -> Changes:
            return dict.fromkeys(self._select(view, selector, False, until), DELETED)

        return changes

    def _payload_changes(
        self, selector: m.PointsSelector | Sequence[Any], change: Any
    ) -> MakeChanges:
        self._check_selector(selector)

        def changes(view: View, version: int) -> Changes:
            out: Changes = {}
            for pid in self._select(view, selector, strict=True):
                new = change(json_copy(view.payload(pid)) or {})
                out[pid] = Row(view.vectors(pid), new or None, version)
            return out

        return changes

    def set_payload(self, req: m.SetPayload, wait: bool = True) -> m.UpdateResult:
        """Merge ``payload`` into the selected points' payloads (at ``key`` if given).

        Raises:
            PointNotFound: a listed id does not exist (nothing is changed).
        """
        return self._write(self._set_payload_changes(req), wait)

    def _set_payload_changes(self, req: m.SetPayload) -> MakeChanges:
        path = () if req.key is None else set_key_path(req.key)
        for step in path:
            if isinstance(step, str):
                check_text(step, "set_payload key segment")
        depth = MAX_PAYLOAD_DEPTH - len(path)
        payload = check_payload(req.payload, point="(set_payload)", max_depth=depth) or {}

        def change(current: dict[str, Any]) -> dict[str, Any]:
            if path:
                set_at(current, path, payload)
                return current
            # Qdrant's merge: a null value removes the key instead of storing null.
            for k, v in payload.items():
                if v is None:
                    current.pop(k, None)
                else:
                    current[k] = json_copy(v)
            return current

        return self._payload_changes(payload_selector(req), change)

    def overwrite_payload(self, req: m.SetPayload, wait: bool = True) -> m.UpdateResult:
        """Replace the selected points' payloads with ``payload``."""
        return self._write(self._overwrite_payload_changes(req), wait)

    def _overwrite_payload_changes(self, req: m.SetPayload) -> MakeChanges:
        payload = check_payload(req.payload, point="(overwrite_payload)")
        return self._payload_changes(payload_selector(req), lambda _: json_copy(payload))

    def delete_payload(self, req: m.DeletePayload, wait: bool = True) -> m.UpdateResult:
        """Remove ``keys`` (dotted paths allowed) from the selected points' payloads."""
        return self._write(self._delete_payload_changes(req), wait)

    def _delete_payload_changes(self, req: m.DeletePayload) -> MakeChanges:
        paths = [key_path(k) for k in req.keys]

        def change(current: dict[str, Any]) -> dict[str, Any]:
            for path in paths:
                target: Any = current
                for step in path[:-1]:
                    target = target.get(step) if isinstance(target, dict) else None
                if isinstance(target, dict):
                    target.pop(path[-1], None)
            return current

        return self._payload_changes(payload_selector(req), change)

    def clear_payload(
        self, selector: m.PointsSelector | Sequence[Any], wait: bool = True
    ) -> m.UpdateResult:
        """Remove every payload key of the selected points."""
        return self._write(self._clear_payload_changes(selector), wait)

    def _clear_payload_changes(self, selector: m.PointsSelector | Sequence[Any]) -> MakeChanges:
        return self._payload_changes(selector, lambda _: {})

    def update_vectors(self, body: m.UpdateVectors, wait: bool = True) -> m.UpdateResult:
        """Replace the given vectors of existing points (their other vectors and payloads
        stay).

        Raises:
            PointNotFound: a point that does not exist (nothing is changed); InvalidVector,
                WrongVectorSize, InvalidPointId: naming the point; NotSupported:
                ``update_filter`` or ``shard_key``.
        """
        return self._write(self._update_vectors_changes(body), wait, len(body.points))

    def _update_vectors_changes(self, body: m.UpdateVectors) -> MakeChanges:
        if body.shard_key is not None:
            raise NotSupported("Wrong input: update_vectors with shard_key is not supported")
        only_if = self.filters.predicate(body.update_filter)  # existing points it matches
        points = embed_documents(body.points, self.space)
        given = {
            canonical_id(p.id): check_vectors(p.vector, self.space, point=p.id)
            for p in shared(points)
        }

        def changes(view: View, version: int) -> Changes:
            out: Changes = {}
            for pid, vectors in given.items():
                if not view.exists(pid):
                    raise PointNotFound(pid)
                if only_if is not None and not only_if(view.payload(pid) or {}, pid):
                    continue
                merged = {**view.all_vectors(pid), **vectors}
                out[pid] = Row(merged, json_copy(view.payload(pid)), version)
            return out

        return changes

    def delete_vectors(self, body: m.DeleteVectors, wait: bool = True) -> m.UpdateResult:
        """Remove the named vectors from the selected points (by ids or by filter).

        Raises:
            InvalidQuery: a vector name the collection does not have.
            PointNotFound: a listed id does not exist (nothing is changed), as in Qdrant.
        """
        return self._write(self._delete_vectors_changes(body), wait)

    def _delete_vectors_changes(self, body: m.DeleteVectors) -> MakeChanges:
        if body.shard_key is not None:
            raise NotSupported("Wrong input: delete_vectors with shard_key is not supported")
        for name in body.vector:
            if not self.space.has(name):
                have = self.space.names() if self.named else "only the unnamed vector"
                raise InvalidQuery(
                    f"Wrong input: Not existing vector name error: {name!r}; have {have}"
                )
        if (body.points is None) == (body.filter is None):
            raise BadRequest("Wrong input: give either points or filter, not both or neither")
        selector: m.PointsSelector = (
            m.PointIdsList(points=body.points)
            if body.points is not None
            else m.FilterSelector(filter=body.filter)
        )
        self._check_selector(selector)
        dropped = set(body.vector)

        def changes(view: View, version: int) -> Changes:
            out: Changes = {}
            for pid in self._select(view, selector, strict=True):
                kept = {k: v for k, v in view.all_vectors(pid).items() if k not in dropped}
                out[pid] = Row(kept, json_copy(view.payload(pid)), version)
            return out

        return changes

    def create_payload_index(
        self, field: str, field_schema: m.PayloadSchemaType | Mapping[str, Any] | None
    ) -> m.UpdateResult:
        """Create a payload index on ``field`` from Qdrant's ``field_schema`` (a type, its
        ``*IndexParams`` object, or None for keyword): see ``set_payload_index``.

        Raises:
            InvalidConfig: an unknown type or parameter value; InvalidPayload: a malformed key.
            NotSupported: an index parameter Shoal does not honour, named.
        """
        return self.set_payload_index(field, IndexSchema.parse(field_schema))

    def set_payload_index(
        self, field: str, schema: IndexSchema | m.PayloadSchemaType | str | None
    ) -> m.UpdateResult:
        """Create (or with ``schema=None`` drop) a payload index on ``field``.

        The index is built now, over the current points, and kept current by every later
        commit; filters on the field then use it (with the same results as without; a
        text index's settings decide how full-text conditions match, as in Qdrant).

        Raises:
            InvalidPayload: a malformed key.
            InvalidConfig: an unknown type name.
        """
        key_path(field)
        if schema is not None and self.strict is not None:
            self.strict.check_new_index(field)
        if schema is not None and not isinstance(schema, IndexSchema):
            schema = IndexSchema.parse(schema)
        # Under the read lock no group is applied while the index is built, so it cannot
        # miss a write; searches keep running.
        with self.state.lock.read():
            if schema is None:
                self.payload_indexes.pop(field, None)
                self.payload_index.drop(field)
            else:
                self.payload_indexes[field] = schema
                self.payload_index.create(self.state, field, schema.type)
            self.filters.set_text_indexes(text_indexes(self.payload_indexes))
        if self.store is not None:
            self.store.set_meta(
                "payload_indexes", {k: v.stored() for k, v in self.payload_indexes.items()}
            )
        return m.UpdateResult(operation_id=0, status=m.UpdateStatus.COMPLETED)

    def _after_failures(
        self, items: Sequence[Item], run: Callable[[Sequence[Item]], list[T | BaseException]]
    ) -> list[T | BaseException]:
        """``run(items)``, except that an unreported storage failure of earlier
        ``wait=False`` writes is the outcome of the first item (its call is not run)."""
        failed = self.writer.take_failed()
        if failed is None or not items:
            return run(items)
        return [failed, *run(items[1:])]

    def check_failed(self) -> None:
        """Raise, once, the storage failure of earlier ``wait=False`` writes.

        Raises:
            StorageError: acknowledged writes were lost; it names their operation ids.
        """
        failed = self.writer.take_failed()
        if failed is not None:
            raise failed


def _optimizers_config(diff: dict[str, Any] | None) -> m.OptimizersConfig:
    # Qdrant's diff says "auto" where its reported config says null.
    given = {k: v for k, v in (diff or {}).items() if v != "auto"}
    return m.OptimizersConfig(**given)


def _idf_vectors(config: m.CreateCollection) -> frozenset[str]:
    """The sparse vectors whose ``modifier`` is ``idf``."""
    sparse = config.sparse_vectors or {}
    return frozenset(name for name, p in sparse.items() if p.modifier == m.Modifier.IDF)
