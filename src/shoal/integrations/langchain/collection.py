"""The store's collection: created on first write, looked up once, used sync or async.

Every operation exists twice, a sync one on the shared ``Client`` and an async one that
awaits the running loop's ``AsyncClient``; they mirror each other line for line.

The collection is created lazily, on the first write, because its vector size is the
length of the first embedding (as in langchain-milvus). Creation is race-free: within one
event loop a lock lets one coroutine create while the others wait; across threads and
loops, ``CollectionAlreadyExists`` from the loser counts as success. What the store learned
about the collection (``CollectionLayout``) is cached; when the collection disappears
underneath (dropped by another store or process) the cache is forgotten, reads return
nothing and writes re-create it once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from shoal import models as m
from shoal.client import AsyncClient
from shoal.errors import CollectionAlreadyExists, CollectionNotFound
from shoal.integrations.langchain.connection import Connection
from shoal.integrations.langchain.layout import CollectionLayout

#: Points per scroll request when a read pages through all matches.
PAGE = 1000


class StoreCollection:
    """One named collection, reached through a :class:`Connection`.

    Args:
        connection: the clients.
        name: the collection name.
        vector_field: the vector name for a new collection ("" or None: unnamed).
        distance: the distance for a new collection.
        hnsw: HNSW settings for a new collection.
    """

    def __init__(
        self,
        connection: Connection,
        name: str,
        vector_field: str | None,
        distance: m.Distance,
        hnsw: m.HnswConfigDiff | None,
    ) -> None:
        self.connection = connection
        self.name = name
        self.vector_field = vector_field or None
        self.distance = distance
        self.hnsw = hnsw
        self._layout: CollectionLayout | None = None
        self._sync_lock = threading.Lock()

    # ------------------------------------------------------------------ layout

    @property
    def known_layout(self) -> CollectionLayout | None:
        """The cached layout, without asking the engine (None if not learned yet)."""
        return self._layout

    def forget(self) -> None:
        """Drop the cached layout (the collection was dropped or may have changed)."""
        self._layout = None

    def _new_config(
        self, size: int
    ) -> tuple[m.VectorParams | dict[str, m.VectorParams], CollectionLayout]:
        params = m.VectorParams(size=size, distance=self.distance)
        layout = CollectionLayout(self.vector_field, self.distance, size)
        return (params if self.vector_field is None else {self.vector_field: params}), layout

    def layout(self) -> CollectionLayout | None:
        """The collection's layout, or None if it does not exist."""
        if self._layout is None:
            try:
                info = self.connection.client.get_collection(self.name)
            except CollectionNotFound:
                return None
            self._layout = CollectionLayout.from_info(info, self.vector_field)
        return self._layout

    async def alayout(self) -> CollectionLayout | None:
        """The collection's layout, or None if it does not exist."""
        if self._layout is None:
            try:
                info = await self.connection.aclient().get_collection(self.name)
            except CollectionNotFound:
                return None
            self._layout = CollectionLayout.from_info(info, self.vector_field)
        return self._layout

    def ensure(self, size: int) -> CollectionLayout:
        """The layout, creating the collection with vectors of ``size`` if it is missing."""
        if self._layout is not None:
            return self._layout
        with self._sync_lock:
            if self._layout is None:
                # Create first, ask only if it exists: a store's first write is usually a
                # new collection's, and the async twin saves a thread hop this way.
                client = self.connection.client
                config, layout = self._new_config(size)
                try:
                    client.create_collection(self.name, config, hnsw_config=self.hnsw)
                except CollectionAlreadyExists:  # made earlier, or by another thread or loop
                    layout = CollectionLayout.from_info(
                        client.get_collection(self.name), self.vector_field
                    )
                self._layout = layout
            return self._layout

    async def aensure(self, size: int) -> CollectionLayout:
        """The layout, creating the collection with vectors of ``size`` if it is missing."""
        if self._layout is not None:
            return self._layout
        async with self.connection.create_lock():
            if self._layout is None:
                client = self.connection.aclient()
                config, layout = self._new_config(size)
                try:
                    await client.create_collection(self.name, config, hnsw_config=self.hnsw)
                except CollectionAlreadyExists:  # made earlier, or by another thread or loop
                    info = await client.get_collection(self.name)
                    layout = CollectionLayout.from_info(info, self.vector_field)
                self._layout = layout
            return self._layout

    def drop(self) -> bool:
        """Delete the collection; True if it existed."""
        self._layout = None
        return self.connection.client.delete_collection(self.name)

    async def adrop(self) -> bool:
        """Delete the collection; True if it existed."""
        self._layout = None
        return await self.connection.aclient().delete_collection(self.name)

    # ------------------------------------------------------------------ writes

    @staticmethod
    def _batches(
        ids: Sequence[str],
        vectors: Sequence[list[float]],
        payloads: Sequence[m.Payload],
        layout: CollectionLayout,
        batch_size: int,
    ) -> list[m.Batch]:
        step = max(1, batch_size)
        return [
            m.Batch(
                ids=list(ids[i : i + step]),
                vectors=layout.vectors_column(list(vectors[i : i + step])),
                payloads=list(payloads[i : i + step]),
            )
            for i in range(0, len(ids), step)
        ]

    def upsert(
        self,
        ids: Sequence[str],
        vectors: Sequence[list[float]],
        payloads: Sequence[m.Payload],
        batch_size: int,
    ) -> None:
        """Write points (creating the collection if needed), ``batch_size`` per request."""
        for attempt in range(2):
            layout = self.ensure(len(vectors[0]))
            try:
                for batch in self._batches(ids, vectors, payloads, layout, batch_size):
                    self.connection.client.upsert(self.name, batch)
                return
            except CollectionNotFound:
                # Dropped under us: forget what we knew and re-create it, once.
                self.forget()
                if attempt:
                    raise

    async def aupsert(
        self,
        ids: Sequence[str],
        vectors: Sequence[list[float]],
        payloads: Sequence[m.Payload],
        batch_size: int,
    ) -> None:
        """Write points (creating the collection if needed), ``batch_size`` per request."""
        for attempt in range(2):
            layout = await self.aensure(len(vectors[0]))
            try:
                client = self.connection.aclient()
                for batch in self._batches(ids, vectors, payloads, layout, batch_size):
                    await client.upsert(self.name, batch)
                return
            except CollectionNotFound:
                self.forget()
                if attempt:
                    raise

    def delete(self, selector: m.Filter | str | list[str]) -> None:
        """Delete points by ids or filter; a missing collection has nothing to delete."""
        try:
            self.connection.client.delete(self.name, selector)
        except CollectionNotFound:
            self.forget()

    async def adelete(self, selector: m.Filter | str | list[str]) -> None:
        """Delete points by ids or filter; a missing collection has nothing to delete."""
        try:
            await self.connection.aclient().delete(self.name, selector)
        except CollectionNotFound:
            self.forget()

    # ------------------------------------------------------------------- reads

    @staticmethod
    def _query_args(
        layout: CollectionLayout, with_vectors: bool
    ) -> tuple[str | None, m.WithVectorInterface]:
        if not with_vectors:
            return layout.vector_name, False
        return layout.vector_name, True if layout.vector_name is None else [layout.vector_name]

    def query(
        self,
        vector: list[float],
        limit: int,
        flt: m.Filter | str | None,
        params: m.SearchParams | None,
        score_threshold: float | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[m.ScoredPoint], CollectionLayout | None]:
        """Nearest points and the layout they were found with ([] if no collection)."""
        layout = self.layout()
        if layout is None:
            return [], None
        using, vectors = self._query_args(layout, with_vectors)
        try:
            response = self.connection.client.query_points(
                self.name,
                query=vector,
                using=using,
                query_filter=flt,
                search_params=params,
                limit=limit,
                with_payload=True,
                with_vectors=vectors,
                score_threshold=score_threshold,
            )
        except CollectionNotFound:
            self.forget()
            return [], None
        return response.points, layout

    async def aquery(
        self,
        vector: list[float],
        limit: int,
        flt: m.Filter | str | None,
        params: m.SearchParams | None,
        score_threshold: float | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[m.ScoredPoint], CollectionLayout | None]:
        """Nearest points and the layout they were found with ([] if no collection)."""
        # The known layout is read without a coroutine: this is every async search's path.
        layout = self._layout if self._layout is not None else await self.alayout()
        if layout is None:
            return [], None
        using, vectors = self._query_args(layout, with_vectors)
        try:
            response = await self.connection.aclient().query_points(
                self.name,
                query=vector,
                using=using,
                query_filter=flt,
                search_params=params,
                limit=limit,
                with_payload=True,
                with_vectors=vectors,
                score_threshold=score_threshold,
            )
        except CollectionNotFound:
            self.forget()
            return [], None
        return response.points, layout

    def retrieve(self, point_ids: list[str]) -> list[m.Record]:
        """Points by id, missing ones skipped ([] if no collection)."""
        try:
            return self.connection.client.retrieve(self.name, point_ids)
        except CollectionNotFound:
            self.forget()
            return []

    async def aretrieve(self, point_ids: list[str]) -> list[m.Record]:
        """Points by id, missing ones skipped ([] if no collection)."""
        try:
            return await self.connection.aclient().retrieve(self.name, point_ids)
        except CollectionNotFound:
            self.forget()
            return []

    def scroll(
        self, flt: m.Filter | str | None, limit: int | None, payload: m.WithPayloadInterface
    ) -> list[m.Record]:
        """Points matching ``flt`` in id order, up to ``limit`` (None: all of them)."""
        client = self.connection.client
        out: list[m.Record] = []
        offset: m.ExtendedPointId | None = None
        try:
            while limit is None or len(out) < limit:
                page = PAGE if limit is None else min(PAGE, limit - len(out))
                records, offset = client.scroll(
                    self.name, flt, limit=page, offset=offset, with_payload=payload
                )
                out.extend(records)
                if offset is None:
                    break
        except CollectionNotFound:
            self.forget()
            return []
        return out

    async def ascroll(
        self, flt: m.Filter | str | None, limit: int | None, payload: m.WithPayloadInterface
    ) -> list[m.Record]:
        """Points matching ``flt`` in id order, up to ``limit`` (None: all of them)."""
        client: AsyncClient = self.connection.aclient()
        out: list[m.Record] = []
        offset: m.ExtendedPointId | None = None
        try:
            while limit is None or len(out) < limit:
                page = PAGE if limit is None else min(PAGE, limit - len(out))
                records, offset = await client.scroll(
                    self.name, flt, limit=page, offset=offset, with_payload=payload
                )
                out.extend(records)
                if offset is None:
                    break
        except CollectionNotFound:
            self.forget()
            return []
        return out


__all__ = ["PAGE", "StoreCollection"]
