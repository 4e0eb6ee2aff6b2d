"""The embedded transport: requests go straight to an in-process engine.

Every engine call goes to a worker thread (``run_in_thread``; the collection lookup too, as
it takes a lock), so that the event loop never blocks on a search, a disk sync or a lock.

Searches and writes also go through batchers, which coalesce concurrent callers into one
engine call (one matrix product, one group commit) made in one thread hop per batch.

A write no batcher queues is shielded (``shoal.concurrency.shield_async``): once its method
has started it, a cancelled caller does not stop it half-way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from operator import itemgetter
from typing import Concatenate, ParamSpec, TypeVar

from shoal import models as m
from shoal.concurrency import AsyncBatcher, consecutive, run_grouped, run_in_thread, shield_async
from shoal.engine import Collection, Database
from shoal.engine.deadline import Deadline
from shoal.engine.query import Query

P = ParamSpec("P")
_COLLECTION = itemgetter(0)  # the collection a batched query or write is for
_QUERY = itemgetter(1)  # ... and the query
T = TypeVar("T")

# A query as the batcher holds it: collection, (request, deadline).
_Query = tuple[str, Query]
# A write as the batcher holds it: collection, operation, its deadline, wait.
_Write = tuple[str, m.UpdateOperation, Deadline | None, bool]


# A change made before the call returns, as Qdrant answers for collection changes.
_DONE = m.UpdateResult(operation_id=0, status=m.UpdateStatus.COMPLETED)


class AsyncLocalTransport:
    """Runs requests on an embedded ``Database`` (in memory, or a storage folder)."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        # Opening a folder loads its data: database() does that, in the first call's engine
        # work, not the constructor.
        self._path = path
        self._db: Database | None = None
        self._open_lock = threading.Lock()
        # One thread hop per batch of concurrent calls, not per call.
        self._queries: AsyncBatcher[_Query, m.QueryResponse] = AsyncBatcher.off_loop(
            self._query_batch
        )
        self._writes: AsyncBatcher[_Write, m.UpdateResult] = AsyncBatcher.off_loop(
            self._write_batch
        )

    def database(self) -> Database:
        """The engine, opened on first use (blocking: part of a call's engine work)."""
        if self._db is None:
            with self._open_lock:
                if self._db is None:
                    self._db = Database.acquire(self._path)
        return self._db

    def _release(self) -> None:
        with self._open_lock:
            db, self._db = self._db, None
        if db is not None:
            db.release()

    def _query_batch(self, items: list[_Query]) -> list[m.QueryResponse | BaseException]:
        db = self._db if self._db is not None else self.database()

        def run(name: str, group: list[_Query]) -> list[m.QueryResponse | BaseException]:
            col = db.collections.get(name) or db.collection(name)  # see _collection
            return col.searcher.run_batch(list(map(_QUERY, group)))

        return run_grouped(items, _COLLECTION, run)

    def _write_batch(self, items: list[_Write]) -> list[m.UpdateResult | BaseException]:
        db = self.database()
        return run_grouped(
            items, _COLLECTION, lambda name, group: _write_group(_collection(db, name), group)
        )

    async def open(self) -> None:
        """Open the storage now (errors such as StorageLocked surface here)."""
        await run_in_thread(self.database)

    async def close(self) -> None:
        await run_in_thread(self._release)

    # ``timeout``: creating and deleting are done in the call, with nothing else to wait for
    # (no other node to agree), so any timeout is met.

    async def create_collection(
        self, name: str, body: m.CreateCollection, timeout: int | None = None
    ) -> bool:
        return await shield_async(
            run_in_thread(_db_call, self, Database.create_collection, name, body)
        )

    async def delete_collection(self, name: str, timeout: int | None = None) -> bool:
        return await shield_async(run_in_thread(_db_call, self, Database.delete_collection, name))

    async def collection_exists(self, name: str) -> bool:
        return await run_in_thread(_db_call, self, Database.collection_exists, name)

    async def get_collection(self, name: str) -> m.CollectionInfo:
        return await run_in_thread(_collection_call, self, name, Collection.info)

    async def get_collections(self) -> m.CollectionsResponse:
        return await run_in_thread(_db_call, self, Database.get_collections)

    async def update_collection(
        self, name: str, body: m.UpdateCollection, timeout: int | None = None
    ) -> bool:
        return await shield_async(
            run_in_thread(_db_call, self, Database.update_collection, name, body)
        )

    async def create_vector_name(
        self,
        name: str,
        vector: str,
        body: m.VectorNameConfig,
        wait: bool,
        timeout: int | None = None,
    ) -> m.UpdateResult:
        call = run_in_thread(_db_call, self, Database.create_vector_name, name, vector, body)
        await shield_async(call)
        return _DONE

    async def delete_vector_name(
        self, name: str, vector: str, wait: bool, timeout: int | None = None
    ) -> m.UpdateResult:
        call = run_in_thread(_db_call, self, Database.delete_vector_name, name, vector)
        await shield_async(call)
        return _DONE

    async def update_aliases(self, body: m.ChangeAliasesOperation, timeout: int | None) -> bool:
        return await shield_async(
            run_in_thread(_db_call, self, Database.update_aliases, body.actions)
        )

    async def get_aliases(self, name: str | None) -> m.CollectionsAliasesResponse:
        return await run_in_thread(_db_call, self, Database.list_aliases, name)

    # ``wait`` changes nothing here: snapshots are taken before the call returns.

    async def create_snapshot(self, name: str | None, wait: bool) -> m.SnapshotDescription | None:
        return await shield_async(run_in_thread(_db_call, self, Database.create_snapshot, name))

    async def list_snapshots(self, name: str | None) -> list[m.SnapshotDescription]:
        return await run_in_thread(_db_call, self, Database.list_snapshots, name)

    async def delete_snapshot(self, name: str | None, snapshot: str, wait: bool) -> bool:
        return await shield_async(
            run_in_thread(_db_call, self, Database.delete_snapshot, name, snapshot)
        )

    async def recover_snapshot(self, name: str, body: m.SnapshotRecover, wait: bool) -> bool:
        return await shield_async(run_in_thread(_db_call, self, Database.recover, name, body))

    async def upsert(
        self, name: str, body: m.PointsList | m.PointsBatch, wait: bool
    ) -> m.UpdateResult:
        return await self._writes.submit((name, m.UpsertOperation(upsert=body), None, wait))

    async def delete(
        self,
        name: str,
        selector: m.PointIdsList | m.FilterSelector,
        wait: bool,
        timeout: int | None = None,
    ) -> m.UpdateResult:
        deadline = _deadline(timeout, "delete")
        return await self._writes.submit((name, m.DeleteOperation(delete=selector), deadline, wait))

    async def retrieve(self, name: str, body: m.PointRequest) -> list[m.Record]:
        return await run_in_thread(
            _collection_call,
            self,
            name,
            Collection.retrieve,
            body.ids,
            body.with_payload,
            body.with_vector,
        )

    async def scroll(
        self, name: str, body: m.ScrollRequest, timeout: int | None = None
    ) -> m.ScrollResult:
        deadline = _deadline(timeout, "scroll")
        return await run_in_thread(_collection_call, self, name, Collection.scroll, body, deadline)

    async def count(
        self, name: str, body: m.CountRequest, timeout: int | None = None
    ) -> m.CountResult:
        deadline = _deadline(timeout, "count")
        return await run_in_thread(_collection_call, self, name, Collection.count, body, deadline)

    # ``consistency``: one node holds the one replica, so every level is met.

    async def facet(
        self,
        name: str,
        body: m.FacetRequest,
        timeout: int | None = None,
        consistency: m.ReadConsistency | None = None,
    ) -> m.FacetResponse:
        deadline = _deadline(timeout, "facet")
        return await run_in_thread(_collection_call, self, name, Collection.facet, body, deadline)

    async def search_matrix_pairs(
        self,
        name: str,
        body: m.SearchMatrixRequest,
        timeout: int | None = None,
        consistency: m.ReadConsistency | None = None,
    ) -> m.SearchMatrixPairsResponse:
        deadline = _deadline(timeout, "Search")
        method = Collection.search_matrix_pairs
        return await run_in_thread(_collection_call, self, name, method, body, deadline)

    async def search_matrix_offsets(
        self,
        name: str,
        body: m.SearchMatrixRequest,
        timeout: int | None = None,
        consistency: m.ReadConsistency | None = None,
    ) -> m.SearchMatrixOffsetsResponse:
        deadline = _deadline(timeout, "Search")
        method = Collection.search_matrix_offsets
        return await run_in_thread(_collection_call, self, name, method, body, deadline)

    async def batch_update(
        self, name: str, body: m.UpdateOperations, wait: bool
    ) -> list[m.UpdateResult]:
        return await shield_async(
            run_in_thread(
                _collection_call, self, name, Collection.batch_update, body.operations, wait
            )
        )

    async def query(
        self, name: str, body: m.QueryRequest, timeout: int | None = None
    ) -> m.QueryResponse:
        # The clock starts when the call is made, as a server's starts when the request
        # arrives.
        deadline = None if timeout is None else Deadline(timeout, "Search")
        return await self._queries.submit((name, (body, deadline)))

    async def query_groups(
        self, name: str, body: m.QueryGroupsRequest, timeout: int | None = None
    ) -> m.GroupsResult:
        deadline = None if timeout is None else Deadline(timeout, "Search")
        return await run_in_thread(
            _collection_call, self, name, Collection.query_groups, body, deadline
        )

    async def query_batch(
        self, name: str, body: m.QueryRequestBatch, timeout: int | None = None
    ) -> list[m.QueryResponse]:
        deadline = _deadline(timeout, "Search")
        col = None if self._db is None else self._db.collections.get(name)
        if col is None:  # opening the storage, or loading the collection, blocks
            col = await run_in_thread(_loaded, self, name)
        if col.strict is not None:
            col.strict.check_batch(len(body.searches))
        # The batch's queries join those of concurrent callers, as a single query does.
        outcomes = await self._queries.submit_many([(name, (q, deadline)) for q in body.searches])
        found = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            found.append(outcome)
        return found

    async def update_vectors(self, name: str, body: m.UpdateVectors, wait: bool) -> m.UpdateResult:
        op = m.UpdateVectorsOperation(update_vectors=body)
        return await self._writes.submit((name, op, None, wait))

    async def delete_vectors(self, name: str, body: m.DeleteVectors, wait: bool) -> m.UpdateResult:
        op = m.DeleteVectorsOperation(delete_vectors=body)
        return await self._writes.submit((name, op, None, wait))

    async def set_payload(self, name: str, body: m.SetPayload, wait: bool) -> m.UpdateResult:
        return await self._writes.submit(
            (name, m.SetPayloadOperation(set_payload=body), None, wait)
        )

    async def overwrite_payload(self, name: str, body: m.SetPayload, wait: bool) -> m.UpdateResult:
        op = m.OverwritePayloadOperation(overwrite_payload=body)
        return await self._writes.submit((name, op, None, wait))

    async def delete_payload(self, name: str, body: m.DeletePayload, wait: bool) -> m.UpdateResult:
        op = m.DeletePayloadOperation(delete_payload=body)
        return await self._writes.submit((name, op, None, wait))

    async def clear_payload(
        self, name: str, selector: m.PointIdsList | m.FilterSelector, wait: bool
    ) -> m.UpdateResult:
        op = m.ClearPayloadOperation(clear_payload=selector)
        return await self._writes.submit((name, op, None, wait))

    async def create_payload_index(
        self, name: str, body: m.CreateFieldIndex, wait: bool
    ) -> m.UpdateResult:
        return await shield_async(
            run_in_thread(
                _collection_call,
                self,
                name,
                Collection.create_payload_index,
                body.field_name,
                body.field_schema,
            )
        )

    async def delete_payload_index(self, name: str, field: str, wait: bool) -> m.UpdateResult:
        return await shield_async(
            run_in_thread(_collection_call, self, name, Collection.set_payload_index, field, None)
        )


# Module-level helpers: the whole engine call, collection lookup included, runs in one hop.


def _deadline(timeout: int | None, operation: str) -> Deadline | None:
    # The clock starts when the call is made, as a server's starts when the request arrives.
    return None if timeout is None else Deadline(timeout, operation)


def _loaded(transport: AsyncLocalTransport, name: str) -> Collection:
    return _collection(transport.database(), name)


def _collection(db: Database, name: str) -> Collection:
    # A dict lookup for a collection that exists; Database.collection raises the errors.
    return db.collections.get(name) or db.collection(name)


def _db_call(
    transport: AsyncLocalTransport,
    method: Callable[Concatenate[Database, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    return method(transport.database(), *args, **kwargs)


def _collection_call(
    transport: AsyncLocalTransport,
    name: str,
    method: Callable[Concatenate[Collection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    return method(transport.database().collection(name), *args, **kwargs)


def _write_group(col: Collection, writes: list[_Write]) -> list[m.UpdateResult | BaseException]:
    # wait=True and wait=False writes are committed as separate groups, in arrival order.
    out: list[m.UpdateResult | BaseException] = []
    for run in consecutive([wait for _, _, _, wait in writes]):
        ops, deadlines = [writes[i][1] for i in run], [writes[i][2] for i in run]
        out += col.write_many(ops, writes[run[0]][3], True, deadlines)
    return out
