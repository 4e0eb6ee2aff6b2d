"""The collection's I/O: create on first write, write, delete, query, retrieve, scroll."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from shoal import models as m
from shoal.client import AsyncClient
from shoal.errors import CollectionAlreadyExists, CollectionNotFound
from shoal.integrations.langchain.collection_state import PAGE, CollectionState, QueryArgs
from shoal.integrations.langchain.layout import CollectionLayout


class AsyncStoreCollection:
    """The store's collection, through the async client.

    Args:
        state: the collection's settings and cached layout (shared with the sync twin).
    """

    def __init__(self, state: CollectionState) -> None:
        self.state = state

    async def layout(self) -> CollectionLayout | None:
        """The collection's layout, or None if it does not exist."""
        state = self.state
        if state.known_layout is None:
            try:
                info = await state.connection.aclient().get_collection(state.name)
            except CollectionNotFound:
                return None
            state.known_layout = state.layout_of(info)
        return state.known_layout

    async def ensure(self, size: int) -> CollectionLayout:
        """The layout, creating the collection with vectors of ``size`` if it is missing."""
        state = self.state
        if state.known_layout is not None:
            return state.known_layout
        async with state.connection.acreation_lock():
            if state.known_layout is None:
                # Create first, ask only if it exists: a store's first write is usually a
                # new collection's, and the lookup would cost a round trip more.
                client = state.connection.aclient()
                config, layout = state.new_config(size)
                try:
                    await client.create_collection(
                        state.name,
                        config,
                        sparse_vectors_config=state.sparse_config(),
                        hnsw_config=state.hnsw,
                    )
                except CollectionAlreadyExists:  # made earlier, or by another thread or loop
                    info = await client.get_collection(state.name)
                    layout = state.layout_of(info)
                state.known_layout = layout
            return state.known_layout

    async def drop(self) -> bool:
        """Delete the collection; True if it existed."""
        self.state.forget()
        return await self.state.connection.aclient().delete_collection(self.state.name)

    # ------------------------------------------------------------------ writes

    async def upsert(
        self,
        ids: Sequence[str],
        vectors: Sequence[list[float]],
        payloads: Sequence[m.Payload],
        batch_size: int,
        texts: Sequence[str] = (),
    ) -> None:
        """Write points (creating the collection if needed), ``batch_size`` per request;
        ``texts`` feed a hybrid store's BM25 fields."""
        for attempt in range(2):
            layout = await self.ensure(len(vectors[0]) if vectors else 0)
            try:
                client = self.state.connection.aclient()
                batches = self.state.batches(ids, vectors, payloads, layout, batch_size, texts)
                for batch in batches:
                    await client.upsert(self.state.name, batch)
                return
            except CollectionNotFound:
                # Dropped under us: forget what we knew and re-create it, once.
                self.state.forget()
                if attempt:
                    raise

    async def delete(self, selector: m.Filter | str | list[str]) -> None:
        """Delete points by ids or filter; a missing collection has nothing to delete."""
        try:
            await self.state.connection.aclient().delete(self.state.name, selector)
        except CollectionNotFound:
            self.state.forget()

    # ------------------------------------------------------------------- reads

    async def query(
        self,
        vector: list[float] | np.ndarray,
        limit: int,
        flt: m.Filter | str | None,
        params: m.SearchParams | None,
        score_threshold: float | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[m.ScoredPoint], CollectionLayout | None]:
        """Nearest points and the layout they were found with ([] if no collection)."""
        state = self.state
        # The known layout is read without a call: this is every search's path.
        layout = state.known_layout if state.known_layout is not None else await self.layout()
        if layout is None:
            return [], None
        using, vectors = state.query_args(layout, with_vectors)
        try:
            response = await state.connection.aclient().query_points(
                state.name,
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
            state.forget()
            return [], None
        return response.points, layout

    async def queries(
        self, requests: Sequence[QueryArgs]
    ) -> tuple[list[list[m.ScoredPoint]], CollectionLayout | None]:
        """Run queries, each joining the client's coalesced searches.

        Returns:
            Each query's points, and the layout ([] each and None if no collection).
        """
        layout = await self.layout()
        if layout is None:
            return [[] for _ in requests], None
        client = self.state.connection.aclient()
        name = self.state.name
        try:
            if True:  # ASYNC
                if len(requests) == 1 or self.state.connection.embedded:
                    # Embedded, one after another: concurrent searches' first queries make
                    # one batch and their second ones the next, with no task per query
                    # (gathered, 100 weighted searches took up to 10% longer).
                    responses = [await client.query_points(name, **r.kwargs()) for r in requests]
                else:
                    # Over HTTP, gathered: the client sends a search's queries as one batch
                    # request (a lone weighted search: 1.15 ms, not 1.8 ms in two).
                    calls = (client.query_points(name, **r.kwargs()) for r in requests)
                    responses = await asyncio.gather(*calls)
            else:
                responses = [client.query_points(name, **r.kwargs()) for r in requests]
        except CollectionNotFound:
            self.state.forget()
            return [[] for _ in requests], None
        return [r.points for r in responses], layout

    async def retrieve(self, point_ids: list[str]) -> list[m.Record]:
        """Points by id, missing ones skipped ([] if no collection)."""
        try:
            return await self.state.connection.aclient().retrieve(self.state.name, point_ids)
        except CollectionNotFound:
            self.state.forget()
            return []

    async def scroll(
        self, flt: m.Filter | str | None, limit: int | None, payload: m.WithPayloadInterface
    ) -> list[m.Record]:
        """Points matching ``flt`` in id order, up to ``limit`` (None: all of them)."""
        client: AsyncClient = self.state.connection.aclient()
        out: list[m.Record] = []
        offset: m.ExtendedPointId | None = None
        try:
            while limit is None or len(out) < limit:
                page = PAGE if limit is None else min(PAGE, limit - len(out))
                records, offset = await client.scroll(
                    self.state.name, flt, limit=page, offset=offset, with_payload=payload
                )
                out.extend(records)
                if offset is None:
                    break
        except CollectionNotFound:
            self.state.forget()
            return []
        return out
