"""The embedded transport: requests go straight to an in-process engine.

Every engine call goes through the runner. In the async transport the runner puts the call
on a worker thread, so the event loop never blocks on a search, a disk sync or a lock; the
generated sync transport calls the engine inline, in the caller's thread. The collection
lookup happens inside the runner's call too, because it takes a lock.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from shoal import models as m
from shoal.client.runner import run_async
from shoal.engine import Collection, Database
from shoal.errors import BadRequest

P = ParamSpec("P")
T = TypeVar("T")


class AsyncLocalTransport:
    """Runs requests on an embedded ``Database`` (in memory, or a storage folder)."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.db = Database(path)

    async def close(self) -> None:
        await run_async(self.db.close)

    async def create_collection(self, name: str, body: m.CreateCollection) -> bool:
        return await run_async(self.db.create_collection, name, body)

    async def delete_collection(self, name: str) -> bool:
        return await run_async(self.db.delete_collection, name)

    async def collection_exists(self, name: str) -> bool:
        return await run_async(self.db.collection_exists, name)

    async def get_collection(self, name: str) -> m.CollectionInfo:
        return await run_async(_info, self.db, name)

    async def get_collections(self) -> m.CollectionsResponse:
        return await run_async(self.db.get_collections)

    async def upsert(
        self, name: str, body: m.PointsList | m.PointsBatch, wait: bool
    ) -> m.UpdateResult:
        return await run_async(_upsert, self.db, name, body, wait)

    async def delete(
        self, name: str, selector: m.PointIdsList | m.FilterSelector, wait: bool
    ) -> m.UpdateResult:
        return await run_async(_collection_call, self.db, name, Collection.delete, selector, wait)

    async def retrieve(self, name: str, body: m.PointRequest) -> list[m.Record]:
        return await run_async(
            _collection_call,
            self.db,
            name,
            Collection.retrieve,
            body.ids,
            body.with_payload,
            body.with_vector,
        )

    async def scroll(self, name: str, body: m.ScrollRequest) -> m.ScrollResult:
        return await run_async(_collection_call, self.db, name, Collection.scroll, body)

    async def count(self, name: str, body: m.CountRequest) -> m.CountResult:
        return await run_async(_collection_call, self.db, name, Collection.count, body)

    async def query(self, name: str, body: m.QueryRequest) -> m.QueryResponse:
        return await run_async(_collection_call, self.db, name, Collection.query, body)

    async def query_batch(self, name: str, body: m.QueryRequestBatch) -> list[m.QueryResponse]:
        return await run_async(
            _collection_call, self.db, name, Collection.query_batch, body.searches
        )

    async def set_payload(self, name: str, body: m.SetPayload, wait: bool) -> m.UpdateResult:
        return await run_async(_collection_call, self.db, name, Collection.set_payload, body, wait)

    async def overwrite_payload(self, name: str, body: m.SetPayload, wait: bool) -> m.UpdateResult:
        return await run_async(
            _collection_call, self.db, name, Collection.overwrite_payload, body, wait
        )

    async def delete_payload(self, name: str, body: m.DeletePayload, wait: bool) -> m.UpdateResult:
        return await run_async(
            _collection_call, self.db, name, Collection.delete_payload, body, wait
        )

    async def clear_payload(
        self, name: str, selector: m.PointIdsList | m.FilterSelector, wait: bool
    ) -> m.UpdateResult:
        return await run_async(
            _collection_call, self.db, name, Collection.clear_payload, selector, wait
        )

    async def create_payload_index(
        self, name: str, body: m.CreateFieldIndex, wait: bool
    ) -> m.UpdateResult:
        return await run_async(_create_index, self.db, name, body)

    async def delete_payload_index(self, name: str, field: str, wait: bool) -> m.UpdateResult:
        return await run_async(
            _collection_call, self.db, name, Collection.set_payload_index, field, None
        )


# Module-level helpers: the whole engine call, collection lookup included, runs in one hop.


def _collection_call(
    db: Database,
    name: str,
    method: Callable[Concatenate[Collection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    return method(db.collection(name), *args, **kwargs)


def _info(db: Database, name: str) -> m.CollectionInfo:
    return db.collection(name).info()


def _upsert(
    db: Database, name: str, body: m.PointsList | m.PointsBatch, wait: bool
) -> m.UpdateResult:
    if body.update_filter is not None:
        raise BadRequest("Wrong input: upsert with update_filter is not supported")
    points = body.batch if isinstance(body, m.PointsBatch) else body.points
    return db.collection(name).upsert(points, wait)


def _create_index(db: Database, name: str, body: m.CreateFieldIndex) -> m.UpdateResult:
    schema = body.field_schema
    if isinstance(schema, dict):
        schema = m.PayloadSchemaType(schema.get("type"))
    return db.collection(name).set_payload_index(
        body.field_name, schema or m.PayloadSchemaType.KEYWORD
    )
