"""Collection administration for the async client: ``update_collection``, aliases and
snapshots, with qdrant-client 1.20's signatures (``AsyncClient`` inherits them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shoal import models as m
from shoal.client import convert
from shoal.client._async.transport import AsyncTransport
from shoal.errors import InvalidConfig


class AsyncCollectionAdmin:
    """The administration methods; ``AsyncClient`` provides the transport."""

    @property
    def _open_transport(self) -> AsyncTransport:
        raise NotImplementedError  # AsyncClient's

    async def update_collection(
        self,
        collection_name: str,
        optimizers_config: convert.Settings | None = None,
        collection_params: convert.Settings | None = None,
        vectors_config: Mapping[str, convert.Settings] | None = None,
        hnsw_config: m.HnswConfigDiff | Mapping[str, Any] | None = None,
        quantization_config: convert.Settings | str | None = None,
        timeout: int | None = None,
        sparse_vectors_config: Mapping[str, convert.Settings] | None = None,
        strict_mode_config: convert.Settings | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """Change a collection's settings, durably; they are checked as at creation.

        Args:
            optimizers_config, hnsw_config: merged into the current ones, key by key.
            collection_params: ``replication_factor``, ``write_consistency_factor``,
                ``on_disk_payload`` (one node: accepted, shown, changing nothing).
            vectors_config: per vector name, ``hnsw_config`` / ``quantization_config`` /
                ``on_disk`` changes ("" for the unnamed vector).
            quantization_config: replaces the current one; ``"Disabled"`` removes it.
            timeout: seconds to wait; the change is local, so any timeout is met.
            sparse_vectors_config: per sparse vector name, ``index`` merged key by key and
                ``modifier`` replaced (``idf`` weighs the next queries' terms).
            strict_mode_config: merged key by key into the current one (as at creation).
            metadata: merged into the current metadata; ``{}`` clears it.

        A change of index settings rebuilds the index in the background (queries are
        exact meanwhile), on an in-memory client from its points as they are.

        Raises:
            CollectionNotFound, InvalidConfig, NotSupported: nothing is changed.
        """
        body = convert.build(
            m.UpdateCollection,
            InvalidConfig,
            vectors=convert.settings_arg(vectors_config),
            optimizers_config=convert.settings_arg(optimizers_config),
            params=convert.settings_arg(collection_params),
            hnsw_config=convert.settings_arg(hnsw_config),
            quantization_config=convert.settings_arg(quantization_config),
            sparse_vectors=convert.settings_arg(sparse_vectors_config),
            strict_mode_config=convert.settings_arg(strict_mode_config),
            metadata=metadata,
        )
        name = convert.collection_name(collection_name)
        return await self._open_transport.update_collection(
            name, body, convert.timeout_arg(timeout)
        )

    async def create_vector_name(
        self,
        collection_name: str,
        vector_name: str,
        vector_name_config: m.VectorNameConfig | Mapping[str, Any],
        wait: bool = True,
        ordering: Any | None = None,
        timeout: int | None = None,
    ) -> m.UpdateResult:
        """Add a named vector, dense or sparse, to an existing collection, durably.

        Existing points do not have it (queries using it do not find them, ``with_vectors``
        does not show it); later upserts and ``update_vectors`` may give it. An unnamed
        collection becomes one of named vectors, its vector called ``""``. Re-creating a
        vector with its own configuration changes nothing, as in Qdrant.

        Args:
            collection_name: the collection (or an alias).
            vector_name: the new vector's name (at most 200 bytes, no ``/ \\ : * ? " < > |``).
            vector_name_config: ``DenseVectorNameConfig(dense=DenseVectorConfig(size=...,
                distance=...))`` or ``SparseVectorNameConfig(sparse=SparseVectorConfig(
                modifier=...))``, Shoal's or qdrant-client's models, or their dicts.
            wait: accepted for qdrant-client's signature; the change is made before the
                call returns.
            ordering: as in ``upsert``.
            timeout: seconds to wait; the change is local, so any timeout is met.

        Returns:
            The operation's result.

        Raises:
            CollectionNotFound; InvalidConfig: a bad name or size, or a name taken by
                another kind or configuration of vector; NotSupported: a setting Shoal does
                not honour (a ``multivector_config`` comparator other than max_sim, a
                ``datatype`` other than float32).
        """
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        convert.ordering_arg(ordering)
        vector = convert.vector_name(vector_name)
        body = convert.vector_name_config(vector_name_config)
        return await self._open_transport.create_vector_name(
            name, vector, body, wait, convert.timeout_arg(timeout)
        )

    async def delete_vector_name(
        self,
        collection_name: str,
        vector_name: str,
        wait: bool = True,
        ordering: Any | None = None,
        timeout: int | None = None,
    ) -> m.UpdateResult:
        """Remove a named vector and its data from a collection, durably; queries using it
        then fail as for any unknown vector. A name the collection does not have changes
        nothing, as in Qdrant.

        Args:
            wait, ordering, timeout: as in ``create_vector_name``.

        Returns:
            The operation's result.

        Raises:
            CollectionNotFound; InvalidConfig: the unnamed vector of a collection that has
                no named ones.
        """
        name, wait = convert.collection_name(collection_name), convert.flag(wait, "wait")
        convert.ordering_arg(ordering)
        vector = convert.vector_name(vector_name)
        return await self._open_transport.delete_vector_name(
            name, vector, wait, convert.timeout_arg(timeout)
        )

    # -------------------------------------------------------------------- aliases

    async def update_collection_aliases(
        self,
        change_aliases_operations: Sequence[m.AliasOperations],
        timeout: int | None = None,
    ) -> bool:
        """Create, delete and rename aliases in one atomic change: all of them, or (if one
        is refused) none. An alias works wherever a collection's name does.

        Args:
            change_aliases_operations: ``CreateAliasOperation``, ``DeleteAliasOperation``
                and ``RenameAliasOperation`` models (or their dicts), applied in order.
            timeout: seconds to wait; the change is local, so any timeout is met.

        Raises:
            CollectionNotFound: an alias for a collection that does not exist.
            CollectionAlreadyExists: a new alias that is a collection's name.
            AliasNotFound: deleting or renaming an alias that does not exist.
        """
        body = convert.alias_operations(change_aliases_operations)
        return await self._open_transport.update_aliases(body, convert.timeout_arg(timeout))

    async def get_collection_aliases(self, collection_name: str) -> m.CollectionsAliasesResponse:
        """The aliases of a collection (none for a name that is no collection)."""
        return await self._open_transport.get_aliases(convert.collection_name(collection_name))

    async def get_aliases(self) -> m.CollectionsAliasesResponse:
        """Every alias of every collection."""
        return await self._open_transport.get_aliases(None)

    # ------------------------------------------------------------------ snapshots
    # ``wait=False``: a snapshot is a copy of local files, so Shoal finishes it before
    # answering and then returns None, as Qdrant does for a call that does not wait.

    async def create_snapshot(
        self, collection_name: str, wait: bool = True
    ) -> m.SnapshotDescription | None:
        """Snapshot a collection while writes go on: the snapshot holds every write
        acknowledged before it started. Needs a storage folder (``path=``) or a server.

        Returns:
            The snapshot's name, time, size and checksum (None if ``wait`` is False).

        Raises:
            CollectionNotFound; NotSupported: an in-memory client.
        """
        name = convert.collection_name(collection_name)
        made = await self._open_transport.create_snapshot(name, convert.flag(wait, "wait"))
        return made if wait else None

    async def list_snapshots(self, collection_name: str) -> list[m.SnapshotDescription]:
        """A collection's snapshots, oldest first."""
        return await self._open_transport.list_snapshots(convert.collection_name(collection_name))

    async def delete_snapshot(
        self, collection_name: str, snapshot_name: str, wait: bool = True
    ) -> bool | None:
        """Delete a snapshot of a collection.

        Raises:
            SnapshotNotFound: no snapshot of that name.
        """
        name = convert.collection_name(collection_name)
        snapshot = convert.snapshot_name(snapshot_name)
        done = await self._open_transport.delete_snapshot(
            name, snapshot, convert.flag(wait, "wait")
        )
        return done if wait else None

    async def recover_snapshot(
        self,
        collection_name: str,
        location: str,
        api_key: str | None = None,
        checksum: str | None = None,
        priority: m.SnapshotPriority | None = None,
        wait: bool = True,
    ) -> bool | None:
        """Replace a collection (or create it) with a snapshot's content, atomically: a
        damaged snapshot or a crash midway leaves the old collection.

        Args:
            location: a ``file://`` URL or a path of a snapshot under the storage folder's
                ``snapshots`` folder (on a server: the server's).
            api_key: for a remote location; refused (http(s) locations are not supported).
            checksum: the SHA-256 the file must have.
            priority: ``snapshot`` or ``no_sync`` (one node: both take the snapshot's
                data); ``replica`` is refused, there being no replica to prefer.

        Raises:
            InvalidSnapshot: not a Shoal snapshot, damaged, or another checksum.
            SnapshotNotFound: no such file. NotSupported: see above.
        """
        body = convert.build(
            m.SnapshotRecover,
            location=location,
            api_key=api_key,
            checksum=checksum,
            priority=convert.settings_arg(priority),
        )
        name = convert.collection_name(collection_name)
        done = await self._open_transport.recover_snapshot(name, body, convert.flag(wait, "wait"))
        return done if wait else None

    async def create_full_snapshot(self, wait: bool = True) -> m.SnapshotDescription | None:
        """Snapshot every collection into one file (see ``create_snapshot``)."""
        made = await self._open_transport.create_snapshot(None, convert.flag(wait, "wait"))
        return made if wait else None

    async def list_full_snapshots(self) -> list[m.SnapshotDescription]:
        """The full snapshots, oldest first."""
        return await self._open_transport.list_snapshots(None)

    async def delete_full_snapshot(self, snapshot_name: str, wait: bool = True) -> bool | None:
        """Delete a full snapshot.

        Raises:
            SnapshotNotFound: no snapshot of that name.
        """
        snapshot = convert.snapshot_name(snapshot_name)
        done = await self._open_transport.delete_snapshot(
            None, snapshot, convert.flag(wait, "wait")
        )
        return done if wait else None
