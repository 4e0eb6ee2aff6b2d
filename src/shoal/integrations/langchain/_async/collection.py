"""The collection's I/O: create on first write, write, delete, query, retrieve, scroll."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shoal import models as m
from shoal.client import AsyncClient
from shoal.errors import CollectionAlreadyExists, CollectionNotFound
from shoal.integrations.langchain.collection_base import PAGE, CollectionBase
from shoal.integrations.langchain.layout import CollectionLayout


class AsyncCollectionIO(CollectionBase):
    """The collection's operations, through the store's client."""

    async def alayout(self) -> CollectionLayout | None:
        """The collection's layout, or None if it does not exist."""
        if self._layout is None:
            try:
                info = await self.connection.aclient().get_collection(self.name)
            except CollectionNotFound:
                return None
            self._layout = CollectionLayout.from_info(info, self.vector_field)
        return self._layout

    async def aensure(self, size: int) -> CollectionLayout:
        """The layout, creating the collection with vectors of ``size`` if it is missing."""
        if self._layout is not None:
            return self._layout
        async with self.connection.create_lock():
            if self._layout is None:
                # Create first, ask only if it exists: a store's first write is usually a
                # new collection's, and the lookup would cost a round trip more.
                client = self.connection.aclient()
                config, layout = self._new_config(size)
                try:
                    await client.create_collection(self.name, config, hnsw_config=self.hnsw)
                except CollectionAlreadyExists:  # made earlier, or by another thread or loop
                    info = await client.get_collection(self.name)
                    layout = CollectionLayout.from_info(info, self.vector_field)
                self._layout = layout
            return self._layout

    async def adrop(self) -> bool:
        """Delete the collection; True if it existed."""
        self._layout = None
        return await self.connection.aclient().delete_collection(self.name)

    # ------------------------------------------------------------------ writes

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
                # Dropped under us: forget what we knew and re-create it, once.
                self.forget()
                if attempt:
                    raise

    async def adelete(self, selector: m.Filter | str | list[str]) -> None:
        """Delete points by ids or filter; a missing collection has nothing to delete."""
        try:
            await self.connection.aclient().delete(self.name, selector)
        except CollectionNotFound:
            self.forget()

    # ------------------------------------------------------------------- reads

    async def aquery(
        self,
        vector: list[float] | np.ndarray,
        limit: int,
        flt: m.Filter | str | None,
        params: m.SearchParams | None,
        score_threshold: float | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[m.ScoredPoint], CollectionLayout | None]:
        """Nearest points and the layout they were found with ([] if no collection)."""
        # The known layout is read without a call: this is every search's path.
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

    async def aretrieve(self, point_ids: list[str]) -> list[m.Record]:
        """Points by id, missing ones skipped ([] if no collection)."""
        try:
            return await self.connection.aclient().retrieve(self.name, point_ids)
        except CollectionNotFound:
            self.forget()
            return []

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
