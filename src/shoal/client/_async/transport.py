"""The contract every transport of ``AsyncClient`` keeps: ``AsyncTransport``.

One method per REST operation (as qdrant-client's ``QdrantBase`` has one per API method),
taking and returning ``shoal.models`` objects and raising ``shoal.errors`` classes, so the
client gives identical results whichever transport it has: the embedded one
(``AsyncLocalTransport``) or the HTTP one (``AsyncHttpTransport``). The client has checked
and converted every argument first (``shoal.client.convert``); ``timeout`` is Qdrant's
parameter, whole seconds.
"""

from __future__ import annotations

from typing import Protocol

from shoal import models as m


class AsyncTransport(Protocol):
    """What a client needs of a transport."""

    async def close(self) -> None:
        """Flush pending writes and release the storage folder or connections."""

    async def create_collection(
        self, name: str, body: m.CreateCollection, timeout: int | None = None
    ) -> bool:
        """Create a collection (``PUT /collections/{name}``)."""
        ...

    async def delete_collection(self, name: str, timeout: int | None = None) -> bool:
        """Delete a collection; False if there was none."""
        ...

    async def collection_exists(self, name: str) -> bool:
        """Whether the collection exists."""
        ...

    async def get_collection(self, name: str) -> m.CollectionInfo:
        """A collection's configuration, counts and payload indexes."""
        ...

    async def get_collections(self) -> m.CollectionsResponse:
        """The names of all collections."""
        ...

    async def update_collection(
        self, name: str, body: m.UpdateCollection, timeout: int | None = None
    ) -> bool:
        """Change a collection's settings (``PATCH /collections/{name}``)."""
        ...

    async def create_vector_name(
        self,
        name: str,
        vector: str,
        body: m.VectorNameConfig,
        wait: bool,
        timeout: int | None = None,
    ) -> m.UpdateResult:
        """Add a named vector to a collection (``PUT .../vectors/{vector_name}``)."""
        ...

    async def delete_vector_name(
        self, name: str, vector: str, wait: bool, timeout: int | None = None
    ) -> m.UpdateResult:
        """Remove a named vector from a collection (``DELETE .../vectors/{vector_name}``)."""
        ...

    async def update_aliases(self, body: m.ChangeAliasesOperation, timeout: int | None) -> bool:
        """Create, delete and rename aliases, all or none."""
        ...

    async def get_aliases(self, name: str | None) -> m.CollectionsAliasesResponse:
        """The aliases of collection ``name``, or (None) every alias."""
        ...

    async def create_snapshot(self, name: str | None, wait: bool) -> m.SnapshotDescription | None:
        """Snapshot collection ``name``, or (None) every collection; None if not waited for."""
        ...

    async def list_snapshots(self, name: str | None) -> list[m.SnapshotDescription]:
        """The snapshots of collection ``name``, or (None) the full snapshots."""
        ...

    async def delete_snapshot(self, name: str | None, snapshot: str, wait: bool) -> bool:
        """Delete a snapshot of collection ``name``, or (None) a full snapshot."""
        ...

    async def recover_snapshot(self, name: str, body: m.SnapshotRecover, wait: bool) -> bool:
        """Replace (or create) collection ``name`` from a snapshot file."""
        ...

    async def upsert(
        self, name: str, body: m.PointsList | m.PointsBatch, wait: bool
    ) -> m.UpdateResult:
        """Insert or replace points."""
        ...

    async def delete(
        self,
        name: str,
        selector: m.PointIdsList | m.FilterSelector,
        wait: bool,
        timeout: int | None = None,
    ) -> m.UpdateResult:
        """Delete points by ids or by filter."""
        ...

    async def retrieve(self, name: str, body: m.PointRequest) -> list[m.Record]:
        """Points by id."""
        ...

    async def scroll(
        self, name: str, body: m.ScrollRequest, timeout: int | None = None
    ) -> m.ScrollResult:
        """A page of points."""
        ...

    async def count(
        self, name: str, body: m.CountRequest, timeout: int | None = None
    ) -> m.CountResult:
        """The number of (matching) points."""
        ...

    async def batch_update(
        self, name: str, body: m.UpdateOperations, wait: bool
    ) -> list[m.UpdateResult]:
        """Several updates applied in order as one write."""
        ...

    async def facet(
        self,
        name: str,
        body: m.FacetRequest,
        timeout: int | None = None,
        consistency: m.ReadConsistency | None = None,
    ) -> m.FacetResponse:
        """Points per value of a payload key."""
        ...

    async def search_matrix_pairs(
        self,
        name: str,
        body: m.SearchMatrixRequest,
        timeout: int | None = None,
        consistency: m.ReadConsistency | None = None,
    ) -> m.SearchMatrixPairsResponse:
        """The distance matrix of a random sample, as pairs."""
        ...

    async def search_matrix_offsets(
        self,
        name: str,
        body: m.SearchMatrixRequest,
        timeout: int | None = None,
        consistency: m.ReadConsistency | None = None,
    ) -> m.SearchMatrixOffsetsResponse:
        """The distance matrix of a random sample, as offsets."""
        ...

    async def query(
        self, name: str, body: m.QueryRequest, timeout: int | None = None
    ) -> m.QueryResponse:
        """One query."""
        ...

    async def query_groups(
        self, name: str, body: m.QueryGroupsRequest, timeout: int | None = None
    ) -> m.GroupsResult:
        """A query's best points grouped by a payload value."""
        ...

    async def query_batch(
        self, name: str, body: m.QueryRequestBatch, timeout: int | None = None
    ) -> list[m.QueryResponse]:
        """Several queries in one call."""
        ...

    async def update_vectors(self, name: str, body: m.UpdateVectors, wait: bool) -> m.UpdateResult:
        """Replace some vectors of existing points."""
        ...

    async def delete_vectors(self, name: str, body: m.DeleteVectors, wait: bool) -> m.UpdateResult:
        """Remove named vectors from the selected points."""
        ...

    async def set_payload(self, name: str, body: m.SetPayload, wait: bool) -> m.UpdateResult:
        """Merge payload keys into the selected points."""
        ...

    async def overwrite_payload(self, name: str, body: m.SetPayload, wait: bool) -> m.UpdateResult:
        """Replace the selected points' payloads."""
        ...

    async def delete_payload(self, name: str, body: m.DeletePayload, wait: bool) -> m.UpdateResult:
        """Remove payload keys from the selected points."""
        ...

    async def clear_payload(
        self, name: str, selector: m.PointIdsList | m.FilterSelector, wait: bool
    ) -> m.UpdateResult:
        """Remove every payload key of the selected points."""
        ...

    async def create_payload_index(
        self, name: str, body: m.CreateFieldIndex, wait: bool
    ) -> m.UpdateResult:
        """Create a payload index."""
        ...

    async def delete_payload_index(self, name: str, field: str, wait: bool) -> m.UpdateResult:
        """Drop a payload index."""
        ...
