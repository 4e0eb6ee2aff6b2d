"""The async Shoal client, ``AsyncClient``.

Its methods mirror ``qdrant-client`` 1.20 (names, argument names and order, return types),
so moving from qdrant-client is changing the import.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from shoal import models as m
from shoal.client import convert
from shoal.client._async.admin import AsyncCollectionAdmin
from shoal.client._async.explore import AsyncExplore
from shoal.client._async.local import AsyncLocalTransport
from shoal.client._async.transport import AsyncTransport
from shoal.client.convert import PointsSelectorLike, QueryLike
from shoal.client.upload import (
    Progress,
    check_upload_options,
    column_batches,
    point_batches,
    transient,
)
from shoal.errors import (
    BadRequest,
    ClientClosed,
    InvalidConfig,
    InvalidPayload,
    InvalidQuery,
    InvalidVector,
    NotSupported,
    ShoalError,
)
from shoal.extras import install_hint

if TYPE_CHECKING:
    from shoal.client._async.http import AsyncHttpTransport

MEMORY = ":memory:"


def _http_transport(url: str, api_key: str | None, timeout: float | None) -> AsyncHttpTransport:
    # Imported here so that embedded use needs no HTTP library installed.
    try:
        from shoal.client._async.http import AsyncHttpTransport
    except ImportError as exc:
        raise ImportError(f"Connecting to {url} {install_hint('server', exc.name)}") from exc
    return AsyncHttpTransport(url, api_key=api_key, timeout=timeout)


class AsyncClient(AsyncCollectionAdmin, AsyncExplore):
    """A Shoal database: embedded in memory, embedded on disk, or on a server.

    Args:
        location: ``":memory:"`` for an in-memory database (the default), or a server URL.
        url: a server URL (``http://host:6333``): ``shoal serve`` or a Qdrant cluster.
        path: a storage folder for a durable embedded database.
        api_key: the server's api key (sent in the ``api-key`` header).
        timeout: request timeout in seconds for a server (default 30).

    Raises:
        StorageLocked: ``path`` is opened by another process; use ``shoal serve`` to share.
            Clients of one process that name the same folder share one engine.
            Raised by the first call, which opens the folder off the event loop.
        BadRequest: conflicting or malformed arguments.

    Every method checks its arguments before anything is sent or stored (see
    ``shoal.client.convert``): a bad one raises a ``shoal.errors`` class naming it, the same
    in every deployment, such as ``InvalidCollectionName`` for a collection name that is not
    a non-empty string without ``/``, or ``BadRequest`` for a ``wait`` that is not a bool.

    Example::

        async with AsyncClient(path="./data") as client:
            await client.create_collection("docs", m.VectorParams(size=4, distance="Cosine"))
    """

    def __init__(
        self,
        location: str | None = None,
        *,
        url: str | None = None,
        path: str | os.PathLike[str] | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
    ) -> None:
        given = [x for x in (location, url, path) if x is not None]
        if len(given) > 1:
            raise BadRequest("Give only one of location, url and path")
        memory = location is None or (isinstance(location, str) and location == MEMORY)
        if url is not None or not memory:
            target = convert.server_url(url if url is not None else location)
            self._transport: AsyncTransport | None = _http_transport(
                target, convert.api_key(api_key), convert.timeout(timeout)
            )
        else:
            self._transport = AsyncLocalTransport(convert.storage_path(path))
            if True:  # ASYNC
                pass  # opening a folder loads it: that waits for the first call, off the loop
            else:
                self._transport.database()  # opened now, so that StorageLocked is raised here

    # ------------------------------------------------------------------ lifecycle

    @property
    def _open_transport(self) -> AsyncTransport:
        """The transport (None once closed).

        Raises:
            ClientClosed: the client has been closed.
        """
        if self._transport is None:
            raise ClientClosed()
        return self._transport

    async def close(self) -> None:
        """Flush pending writes and release the storage folder or connections. Idempotent."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---------------------------------------------------------------- collections

    async def create_collection(
        self,
        collection_name: str,
        vectors_config: m.VectorParams | Mapping[str, m.VectorParams] | None = None,
        sparse_vectors_config: Mapping[str, m.SparseVectorParams | convert.Settings] | None = None,
        shard_number: int | None = None,
        sharding_method: str | None = None,
        replication_factor: int | None = None,
        write_consistency_factor: int | None = None,
        on_disk_payload: bool | None = None,
        hnsw_config: m.HnswConfigDiff | Mapping[str, Any] | None = None,
        optimizers_config: convert.Settings | None = None,
        wal_config: convert.Settings | None = None,
        quantization_config: convert.Settings | None = None,
        timeout: int | None = None,
        strict_mode_config: convert.Settings | None = None,
        metadata: Mapping[str, Any] | None = None,
        payload: convert.Settings | None = None,
        id_tracker: convert.Settings | None = None,
        **kwargs: Any,
    ) -> bool:
        """Create a collection. The arguments are qdrant-client 1.20's, in its order; each
        setting is honoured (and shown by ``get_collection``) or refused with
        ``NotSupported`` naming it, never accepted and ignored.

        Args:
            collection_name: the new collection's name.
            vectors_config: one ``VectorParams`` (an unnamed vector) or a dict of named ones.
            sparse_vectors_config: named sparse vectors (``SparseVectorParams``:
                ``modifier="idf"`` weighs a query by IDF; ``index`` options at their
                defaults or ``full_scan_threshold``).
            shard_number, sharding_method, replication_factor, write_consistency_factor:
                only Qdrant's single-node values (1, "auto", 1, 1) are accepted.
            on_disk_payload: accepted (payloads are kept in memory and in the store).
            hnsw_config: HNSW parameters (``m``, ``ef_construct``, ``full_scan_threshold``,
                ``max_indexing_threads``).
            optimizers_config: ``indexing_threshold`` (KB of vectors below which no index is
                built; 0: none); the other fields only at Qdrant's defaults.
            wal_config: only at Qdrant's defaults.
            strict_mode_config: Qdrant's strict mode (``shoal.engine.strict``): with
                ``enabled``, its limits and per-minute rate limits apply to the collection;
                the byte sizes, multivector and sparse limits and memory percent are refused.
            quantization_config: scalar int8 (with ``quantile``), or Shoal's
                ``{"shoal": {"index_dtype": ...}}``; product, binary and turbo are refused.
            timeout: seconds to wait for the creation; it never waits for anything else.
            metadata: a JSON object kept with the collection (``config.metadata``).
            payload: payload storage (``memory``: "cold" or "cached").
            id_tracker: refused (a qdrant-client 1.20 setting Shoal has no counterpart for).
            **kwargs, and dict settings: JSON objects, or pydantic models (qdrant-client's
                work too).

        Returns:
            True.

        Raises:
            CollectionAlreadyExists: the name is taken.
            InvalidConfig: a vector size or HNSW parameter is out of range, or an unknown
                argument.
            NotSupported: a setting Shoal does not honour, named.
        """
        if kwargs:
            raise InvalidConfig(
                f"Wrong input: unknown create_collection arguments {sorted(kwargs)}"
            )
        if id_tracker is not None:
            raise NotSupported("Wrong input: id_tracker is not supported by Shoal")
        name = convert.collection_name(collection_name)
        body = convert.build(
            m.CreateCollection,
            InvalidConfig,
            vectors=convert.settings_arg(vectors_config),
            sparse_vectors=convert.settings_arg(sparse_vectors_config),
            shard_number=shard_number,
            sharding_method=convert.settings_arg(sharding_method),
            replication_factor=replication_factor,
            write_consistency_factor=write_consistency_factor,
            on_disk_payload=on_disk_payload,
            payload=convert.settings_arg(payload),
            hnsw_config=convert.settings_arg(hnsw_config),
            wal_config=convert.settings_arg(wal_config),
            optimizers_config=convert.settings_arg(optimizers_config),
            quantization_config=convert.settings_arg(quantization_config),
            strict_mode_config=convert.settings_arg(strict_mode_config),
            metadata=metadata,
        )
        return await self._open_transport.create_collection(
            name, body, convert.timeout_arg(timeout)
        )

    async def delete_collection(self, collection_name: str, timeout: int | None = None) -> bool:
        """Delete a collection and all its points.

        Args:
            timeout: seconds to wait for the deletion; it never waits for anything else.

        Returns:
            True if it existed, False otherwise.
        """
        return await self._open_transport.delete_collection(
            convert.collection_name(collection_name), convert.timeout_arg(timeout)
        )

    async def collection_exists(self, collection_name: str) -> bool:
        """Whether the collection exists."""
        return await self._open_transport.collection_exists(
            convert.collection_name(collection_name)
        )

    async def get_collection(self, collection_name: str) -> m.CollectionInfo:
        """Configuration, point count and payload indexes of a collection.

        Raises:
            CollectionNotFound: no such collection.
        """
        return await self._open_transport.get_collection(convert.collection_name(collection_name))

    async def get_collections(self) -> m.CollectionsResponse:
        """Names of all collections."""
        return await self._open_transport.get_collections()

    # -------------------------------------------------------------------- writes

    async def upsert(
        self,
        collection_name: str,
        points: m.Batch | Sequence[m.PointStruct],
        wait: bool = True,
        ordering: Any | None = None,
        shard_key_selector: Any | None = None,
        update_filter: m.Filter | None = None,
        update_mode: m.UpdateMode | str | None = None,
    ) -> m.UpdateResult:
        """Insert points, or replace those whose ids exist.

        Args:
            collection_name: the collection.
            points: a list of ``PointStruct`` or one ``Batch`` (columns of ids, vectors,
                payloads).
            wait: True (default) returns once the write is synced to disk and visible;
                False returns once it is validated and queued (status ``acknowledged``).
            ordering: Qdrant's write ordering across replicas: ``weak``, ``medium`` or
                ``strong`` are all what one node does (every write applied in order).
            shard_key_selector: refused with ``NotSupported`` (one shard on one node).
            update_filter: an existing point is replaced only if it matches (a structured
                Filter); new points are inserted.
            update_mode: ``upsert`` (default), ``insert_only`` (existing points are left
                alone) or ``update_only`` (no new points).

        Returns:
            ``UpdateResult`` with the operation id and status.

        Raises:
            WrongVectorSize, InvalidVector, InvalidPointId, InvalidPayload: naming the bad
                point; nothing of the batch is written.
            CollectionNotFound: no such collection.
        """
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        convert.ordering_arg(ordering)
        body = convert.upsert_body(points)
        if update_filter is not None or update_mode is not None or shard_key_selector is not None:
            fields = {
                **body.__dict__,
                "shard_key": shard_key_selector,
                "update_filter": convert.filter_arg(update_filter),
                "update_mode": convert.settings_arg(update_mode),
            }
            body = convert.build(type(body), BadRequest, **fields)
        return await self._open_transport.upsert(name, body, wait)

    async def delete(
        self,
        collection_name: str,
        points_selector: PointsSelectorLike,
        wait: bool = True,
        timeout: int | None = None,
    ) -> m.UpdateResult:
        """Delete points by ids (missing ids are ignored) or by filter.

        Args:
            points_selector: a list of ids, ``PointIdsList``, ``Filter``, ``FilterSelector``,
                or a filter expression string such as ``"category == 'a'"``.
            wait: as in ``upsert``.
            timeout: seconds the filter's evaluation may take (Qdrant's ``timeout``); by
                default unlimited embedded, the server's default over HTTP.

        Raises:
            RequestTimeout: the timeout passed first (nothing is deleted).
        """
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        selector = convert.points_selector(points_selector)
        seconds = convert.timeout_arg(timeout)
        return await self._open_transport.delete(name, selector, wait, seconds)

    async def update_vectors(
        self,
        collection_name: str,
        points: Sequence[m.PointVectors],
        wait: bool = True,
        update_filter: m.Filter | None = None,
    ) -> m.UpdateResult:
        """Replace the given vectors of existing points; their other vectors and payloads
        stay.

        Args:
            points: ``PointVectors(id=..., vector=...)`` (a vector, or named vectors).
            update_filter: only the existing points it matches are updated (a Filter or an
                expression); the others are left alone.

        Raises:
            PointNotFound: a point that does not exist (nothing is changed);
            InvalidVector, WrongVectorSize, InvalidPointId: naming the point.
        """
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        listed = convert.items(points, "points", "a list of PointVectors", InvalidVector)
        body = convert.build(
            m.UpdateVectors,
            InvalidVector,
            points=[convert.settings_arg(p) for p in listed],
            update_filter=None if update_filter is None else convert.filter_arg(update_filter),
        )
        return await self._open_transport.update_vectors(name, body, wait)

    async def delete_vectors(
        self,
        collection_name: str,
        vectors: Sequence[str],
        points: PointsSelectorLike,
        wait: bool = True,
    ) -> m.UpdateResult:
        """Remove the named vectors from the selected points (ids, a Filter, or an
        expression); a point may be left with no vector at all.

        Raises:
            InvalidQuery: a vector name the collection does not have.
        """
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        ids, flt = convert.payload_target(points)
        names = convert.items(vectors, "vectors", "a list of vector names", InvalidQuery)
        body = convert.build(m.DeleteVectors, InvalidQuery, vector=names, points=ids, filter=flt)
        return await self._open_transport.delete_vectors(name, body, wait)

    async def set_payload(
        self,
        collection_name: str,
        payload: m.Payload,
        points: PointsSelectorLike,
        key: str | None = None,
        wait: bool = True,
    ) -> m.UpdateResult:
        """Merge ``payload`` into the payloads of the selected points.

        Args:
            payload: keys and values to set; other keys are kept.
            points: ids, a Filter, or an expression selecting the points.
            key: a nested path (``"a.b"``) to merge into instead of the top level.

        Raises:
            PointNotFound: a listed id does not exist (nothing is changed).
        """
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        ids, flt = convert.payload_target(points)
        body = convert.build(
            m.SetPayload, InvalidPayload, payload=payload, points=ids, filter=flt, key=key
        )
        return await self._open_transport.set_payload(name, body, wait)

    async def overwrite_payload(
        self,
        collection_name: str,
        payload: m.Payload,
        points: PointsSelectorLike,
        wait: bool = True,
    ) -> m.UpdateResult:
        """Replace the whole payload of the selected points with ``payload``."""
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        ids, flt = convert.payload_target(points)
        body = convert.build(m.SetPayload, InvalidPayload, payload=payload, points=ids, filter=flt)
        return await self._open_transport.overwrite_payload(name, body, wait)

    async def delete_payload(
        self,
        collection_name: str,
        keys: Sequence[str],
        points: PointsSelectorLike,
        wait: bool = True,
    ) -> m.UpdateResult:
        """Remove ``keys`` (dotted paths allowed) from the payloads of the selected points."""
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        ids, flt = convert.payload_target(points)
        body = convert.build(
            m.DeletePayload, InvalidPayload, keys=convert.payload_keys(keys), points=ids, filter=flt
        )
        return await self._open_transport.delete_payload(name, body, wait)

    async def clear_payload(
        self,
        collection_name: str,
        points_selector: PointsSelectorLike,
        wait: bool = True,
    ) -> m.UpdateResult:
        """Remove every payload key of the selected points."""
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        selector = convert.points_selector(points_selector)
        return await self._open_transport.clear_payload(name, selector, wait)

    async def batch_update_points(
        self,
        collection_name: str,
        update_operations: Sequence[m.UpdateOperation | Mapping[str, Any]],
        wait: bool = True,
    ) -> list[m.UpdateResult]:
        """Several updates applied in order as one write: all of them or, if any is
        rejected, none (Qdrant applies them one by one and stops at a failing one).

        Args:
            update_operations: ``UpsertOperation``, ``DeleteOperation``,
                ``SetPayloadOperation``, ``OverwritePayloadOperation``,
                ``DeletePayloadOperation`` or ``ClearPayloadOperation`` (or their JSON dicts).

        Returns:
            One ``UpdateResult`` per operation.

        Raises:
            The first rejected operation's error (nothing is applied then).
        """
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        body = convert.update_operations(update_operations)
        return await self._open_transport.batch_update(name, body, wait)

    async def create_payload_index(
        self,
        collection_name: str,
        field_name: str,
        field_schema: m.PayloadSchemaType | str | Mapping[str, Any] | None = None,
        wait: bool = True,
    ) -> m.UpdateResult:
        """Declare a payload index on ``field_name`` (reported in ``payload_schema``).

        Args:
            collection_name: the collection.
            field_name: the payload key (``a.b``, ``items[].name``).
            field_schema: the index type (``"keyword"``, ...; None: keyword), or Qdrant's
                ``*IndexParams`` object (a dict, or a qdrant-client model): a ``text``
                index's tokenizer, stop words, stemmer... decide how full-text conditions
                on the key match.
            wait: accepted for qdrant-client's signature; indexes are built at once.

        Returns:
            The operation's result.

        Raises:
            InvalidConfig: an unknown type or parameter value.
            NotSupported: a parameter Shoal does not honour, named.
        """
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        body = convert.build(
            m.CreateFieldIndex,
            InvalidConfig,
            field_name=convert.payload_key(field_name, "field_name"),
            field_schema=convert.field_schema(field_schema),
        )
        return await self._open_transport.create_payload_index(name, body, wait)

    async def delete_payload_index(
        self, collection_name: str, field_name: str, wait: bool = True
    ) -> m.UpdateResult:
        """Drop the payload index on ``field_name``."""
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        field = convert.payload_key(field_name, "field_name")
        return await self._open_transport.delete_payload_index(name, field, wait)

    # --------------------------------------------------------------------- reads

    async def retrieve(
        self,
        collection_name: str,
        ids: Sequence[m.ExtendedPointId],
        with_payload: m.WithPayloadInterface = True,
        with_vectors: m.WithVectorInterface = False,
    ) -> list[m.Record]:
        """Points by id, in the order given; missing ids are skipped.

        Raises:
            InvalidPointId: an id is neither an unsigned integer nor a UUID.
        """
        name = convert.collection_name(collection_name)
        body = convert.build(
            m.PointRequest,
            InvalidQuery,
            ids=convert.point_ids(ids, "ids"),
            with_payload=with_payload,
            with_vector=with_vectors,
        )
        return await self._open_transport.retrieve(name, body)

    async def scroll(
        self,
        collection_name: str,
        scroll_filter: m.Filter | str | None = None,
        limit: int = 10,
        offset: m.ExtendedPointId | None = None,
        with_payload: m.WithPayloadInterface = True,
        with_vectors: m.WithVectorInterface = False,
        order_by: str | m.OrderBy | None = None,
        timeout: int | None = None,
    ) -> tuple[list[m.Record], m.ExtendedPointId | None]:
        """A page of points in id order (or ordered by a payload key).

        Args:
            scroll_filter: a Filter or an expression string.
            limit: page size.
            offset: the id to start from (inclusive): the previous page's next offset.
            order_by: a payload key (or ``OrderBy``) to order by instead of the id.
            timeout: seconds the scroll may take (as in ``query_points``).

        Returns:
            (points, next_offset); next_offset is None on the last page.

        Raises:
            RequestTimeout: the timeout passed first.
        """
        name = convert.collection_name(collection_name)
        body = convert.build(
            m.ScrollRequest,
            InvalidQuery,
            filter=convert.filter_arg(scroll_filter),
            limit=limit,
            offset=None if offset is None else convert.point_id(offset),
            with_payload=with_payload,
            with_vector=with_vectors,
            order_by=convert.settings_arg(order_by),  # qdrant-client's OrderBy: its JSON
        )
        result = await self._open_transport.scroll(name, body, convert.timeout_arg(timeout))
        return result.points, result.next_page_offset

    async def count(
        self,
        collection_name: str,
        count_filter: m.Filter | str | None = None,
        exact: bool = True,
        timeout: int | None = None,
    ) -> m.CountResult:
        """Number of points, or of those matching ``count_filter``.

        Args:
            timeout: seconds the count may take (as in ``query_points``).

        Raises:
            RequestTimeout: the timeout passed first.
        """
        name = convert.collection_name(collection_name)
        body = convert.build(
            m.CountRequest,
            InvalidQuery,
            filter=convert.filter_arg(count_filter),
            exact=convert.flag(exact, "exact"),
        )
        return await self._open_transport.count(name, body, convert.timeout_arg(timeout))

    async def query_points(
        self,
        collection_name: str,
        query: QueryLike | None = None,
        using: str | None = None,
        prefetch: m.Prefetch | Sequence[m.Prefetch] | None = None,
        query_filter: m.Filter | str | None = None,
        search_params: m.SearchParams | None = None,
        limit: int = 10,
        offset: int | None = None,
        with_payload: m.WithPayloadInterface = True,
        with_vectors: m.WithVectorInterface = False,
        score_threshold: float | None = None,
        lookup_from: m.LookupLocation | Mapping[str, Any] | None = None,
        timeout: int | None = None,
    ) -> m.QueryResponse:
        """Nearest points to a vector, or to a stored point (left out of its own results).

        Args:
            query: a vector (list or numpy array), a point id, or ``NearestQuery``; with
                ``prefetch``, also ``FusionQuery`` (rrf, dbsf), ``RrfQuery`` or
                ``FormulaQuery``, which combine the prefetches' results (a vector re-ranks
                them).
            using: the named vector to search.
            prefetch: sub-queries run first (see ``shoal.engine.prefetch``); the query's
                filter applies to them too.
            query_filter: a Filter or an expression string.
            limit, offset: paging of the results.
            score_threshold: drop results worse than this (a minimum similarity for cosine
                and dot, a maximum distance for Euclid and Manhattan).
            lookup_from: a query by point id takes that point's vector from another
                collection (``{"collection": ..., "vector": ...}``); it is not left out.
            timeout: seconds the search may take (Qdrant's ``timeout``): embedded, no limit
                by default; over HTTP the server's default (60 s on ``shoal serve``).

        Returns:
            ``QueryResponse``; ``.points`` best first.

        Raises:
            WrongVectorSize: the query vector has the wrong length.
            PointNotFound: querying by an id that does not exist.
            InvalidFilter: the filter is malformed.
            FilterTooLarge: the filter is over the limits (``filter_max_conditions``,
                ``condition_max_size``).
            RequestTimeout: the timeout passed before the search was done.
        """
        name = convert.collection_name(collection_name)
        seconds = convert.timeout_arg(timeout)
        request = convert.build(
            m.QueryRequest,
            InvalidQuery,
            query=convert.query_arg(query),
            using=using,
            prefetch=None if prefetch is None else convert.prefetch_arg(prefetch),
            filter=convert.filter_arg(query_filter),
            params=convert.settings_arg(search_params),
            limit=limit,
            offset=offset,
            with_payload=with_payload,
            with_vector=with_vectors,
            score_threshold=score_threshold,
            lookup_from=None if lookup_from is None else convert.settings_arg(lookup_from),
        )
        return await self._open_transport.query(name, request, seconds)

    async def query_points_groups(
        self,
        collection_name: str,
        group_by: str,
        query: QueryLike | None = None,
        using: str | None = None,
        prefetch: m.Prefetch | Sequence[m.Prefetch] | None = None,
        query_filter: m.Filter | str | None = None,
        search_params: m.SearchParams | None = None,
        limit: int = 10,
        group_size: int = 3,
        with_payload: m.WithPayloadInterface = True,
        with_vectors: m.WithVectorInterface = False,
        score_threshold: float | None = None,
        with_lookup: Any = None,
        lookup_from: m.LookupLocation | Mapping[str, Any] | None = None,
        timeout: int | None = None,
    ) -> m.GroupsResult:
        """A query's best points grouped by a payload value (as ``query_points`` finds them).

        Args:
            group_by: the payload key whose value (an integer or a string; each value of an
                array) names a point's group.
            limit: groups to return; group_size: points per group.
            with_lookup: a collection (or ``WithLookup``) whose point with the group's value
                as its id is added to each group as ``lookup``.
            lookup_from: as in ``query_points``.

        Returns:
            ``GroupsResult``; groups in the order their best point ranks.

        Raises:
            As ``query_points``; InvalidQuery: a bad ``group_by``, ``limit`` or
            ``group_size``.
        """
        name = convert.collection_name(collection_name)
        request = convert.build(
            m.QueryGroupsRequest,
            InvalidQuery,
            group_by=group_by,
            query=convert.query_arg(query),
            using=using,
            prefetch=convert.prefetch_arg(prefetch),
            filter=convert.filter_arg(query_filter),
            params=convert.settings_arg(search_params),
            limit=limit,
            group_size=group_size,
            with_payload=with_payload,
            with_vector=with_vectors,
            score_threshold=score_threshold,
            with_lookup=convert.settings_arg(with_lookup),
            lookup_from=convert.settings_arg(lookup_from),
        )
        return await self._open_transport.query_groups(name, request, convert.timeout_arg(timeout))

    async def query_batch_points(
        self,
        collection_name: str,
        requests: Sequence[m.QueryRequest],
        timeout: int | None = None,
    ) -> list[m.QueryResponse]:
        """Several queries in one call (unfiltered ones share one matrix product).

        Args:
            timeout: seconds the whole batch may take (as in ``query_points``).
        """
        name = convert.collection_name(collection_name)
        body = convert.query_requests(requests)
        return await self._open_transport.query_batch(name, body, convert.timeout_arg(timeout))

    # --------------------------------------------------------------- bulk ingest

    async def upload_points(
        self,
        collection_name: str,
        points: Iterable[m.PointStruct],
        batch_size: int = 64,
        parallel: int = 1,
        method: str | None = None,
        max_retries: int = 3,
        wait: bool = False,
        progress: bool = False,
    ) -> None:
        """Upsert many points in batches; each batch is one transaction.

        Args:
            points: any iterable of ``PointStruct`` (consumed lazily, batch by batch).
            batch_size: points per batch.
            parallel, method: only 1 and None: batches are sent one after another.
            max_retries: times a batch is sent again after a transient failure (the server
                unreachable, a timeout, a 5xx answer); a rejected batch is not retried.
            wait: wait for each batch to be durable (False: queued, as qdrant-client).
            progress: print a progress line on stderr.

        Raises:
            As ``upsert``, for the first bad batch; earlier batches stay written.
            NotSupported: ``parallel`` other than 1, or a ``method``.
        """
        check_upload_options(parallel, method, max_retries)
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        batches = point_batches(points, batch_size)
        await self._upload(name, batches, wait, convert.flag(progress, "progress"), max_retries)

    async def upload_collection(
        self,
        collection_name: str,
        vectors: Any,
        payload: Iterable[dict[str, Any]] | None = None,
        ids: Iterable[m.ExtendedPointId] | None = None,
        batch_size: int = 64,
        parallel: int = 1,
        method: str | None = None,
        max_retries: int = 3,
        wait: bool = False,
        progress: bool = False,
    ) -> None:
        """Upsert columns of vectors, payloads and ids in batches; each batch one transaction.

        Args:
            vectors: a numpy array (n, dim), an iterable of vectors, or a dict of named
                vector arrays.
            payload: payloads in the same order (optional).
            ids: ids in the same order; random UUIDs when omitted.
            batch_size, parallel, method, max_retries, wait, progress: as ``upload_points``.
        """
        check_upload_options(parallel, method, max_retries)
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        batches = column_batches(vectors, payload, ids, batch_size)
        await self._upload(name, batches, wait, convert.flag(progress, "progress"), max_retries)

    async def _upload(
        self,
        collection_name: str,
        batches: Iterable[m.Batch],
        wait: bool,
        progress: bool,
        max_retries: int,
    ) -> None:
        report = Progress(progress, f"upload to {collection_name}")
        for batch in batches:
            for attempt in range(max_retries + 1):
                try:
                    await self.upsert(collection_name, batch, wait=wait)
                    break
                except ShoalError as exc:
                    if attempt == max_retries or not transient(exc):
                        raise
            report.add(len(batch.ids))
        report.done()
