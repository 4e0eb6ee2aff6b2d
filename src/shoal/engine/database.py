"""The engine's entry point: a set of named collections, in memory or in a storage folder.

Synchronous and thread-safe. The async client's local transport and the server call these
methods from worker threads; the sync client calls them directly.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import threading
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shoal import models as m
from shoal.codec import DEFAULT_VECTOR, Kept, StoredLayout
from shoal.engine.aliases import Aliases
from shoal.engine.ann import remove_snapshot
from shoal.engine.ann_settings import resolve_settings
from shoal.engine.collection import Collection
from shoal.engine.limits import Limits
from shoal.engine.reconfigure import index_settings, updated_config
from shoal.engine.snapshots import Snapshots
from shoal.engine.strict import check_strict_config
from shoal.engine.support import check_collection
from shoal.engine.vector_names import repacked, vector_space, with_vector, without_vector
from shoal.errors import (
    BadRequest,
    CollectionAlreadyExists,
    CollectionNotFound,
    InvalidCollectionName,
    InvalidConfig,
    InvalidQuery,
    InvalidSnapshot,
    NotSupported,
    PointNotFound,
    ShoalError,
)
from shoal.ids import PointId
from shoal.storage import COMMIT_SEQ, Catalog, CollectionStore, StoredColumns
from shoal.storage.snapshots import SnapshotInfo, file_checksum, read_snapshot
from shoal.version import __version__

MAX_NAME = 255
MAX_DIM = 65_536

logger = logging.getLogger("shoal.engine")

# Storage folders opened by this process, shared by every client that names the same folder
# (a sync and an async client of one app, LangChain stores): folder -> (database, users).
_shared: dict[str, tuple[Database, int]] = {}
_shared_lock = threading.Lock()
# Every database not closed yet: a program that ends without close() gets it at exit.
_open: weakref.WeakSet[Database] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    """Close what the program left open: flush queued writes, stop the indexer and flusher
    threads (their native code must not be running while the interpreter tears down: an
    index insert on a daemon thread aborted the process), snapshot the indexes where quick.

    atexit runs after the program's own threads have been joined and before the interpreter
    finalises, while daemon threads still run.
    """
    for db in list(_open):
        try:
            db.close()
        except Exception:  # the data is in storage already; report and go on
            logger.exception("closing the database at exit failed")


class Database:
    """Collections of one process.

    Args:
        path: a storage folder (created if missing), or None for a memory-only database.
        served_at: the URL of the server that serves this database (``shoal serve``); a
            process that finds the folder locked is told to connect there.
        limits: the limits every collection's filters keep to; by default
            ``Limits.from_env()`` (Qdrant's strict-mode names, see ``shoal.engine.limits``).

    Raises:
        StorageLocked: another process (or another Database in this one) has the folder open.
        InvalidConfig: a limit set in the environment is not a positive integer.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        served_at: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.limits = limits or Limits.from_env()
        self._lock = threading.RLock()
        # Read without the lock by the embedded transport (a dict get); changed under it.
        self.collections: dict[str, Collection] = {}
        self._catalog = Catalog(path, served_at) if path is not None else None
        self._snapshots: Snapshots | None = None
        self.aliases = Aliases(None if self._catalog is None else self._catalog.root)
        self._closed = False
        _open.add(self)
        if self._catalog is not None:
            try:
                for store in self._catalog.open_all():
                    name = store.get_meta("name")
                    config = m.CreateCollection.model_validate(store.get_meta("config"))
                    self.collections[name] = self._adopt(
                        Collection(name, config, store, self.limits)
                    )
            except BaseException:
                self.close()
                raise

    @classmethod
    def acquire(cls, path: str | os.PathLike[str] | None) -> Database:
        """A Database for ``path``, shared with other users of that folder in this process.

        Each ``acquire`` must be matched by one ``release``; the last release closes it.
        ``None`` gives a private in-memory database.

        Raises:
            StorageLocked: another process has the folder open.
        """
        if path is None:
            return cls(None)
        key = os.path.realpath(path)
        with _shared_lock:
            db, users = _shared.get(key, (None, 0))
            if db is None:
                db = cls(path)
            _shared[key] = (db, users + 1)
            return db

    def release(self) -> None:
        """Give back a database obtained from ``acquire``; the last user closes it."""
        key = None if self._catalog is None else os.path.realpath(self._catalog.root)
        with _shared_lock:
            if key is not None and key in _shared:
                db, users = _shared[key]
                if users > 1:
                    _shared[key] = (db, users - 1)
                    return
                del _shared[key]
        self.close()

    @property
    def path(self) -> str | None:
        return None if self._catalog is None else str(self._catalog.root)

    # ------------------------------------------------------------- collections

    def create_collection(self, name: str, config: m.CreateCollection) -> bool:
        """Create a collection.

        Raises:
            CollectionAlreadyExists, InvalidCollectionName, InvalidConfig.
            NotSupported: a setting Shoal does not honour (``shoal.engine.support``).
        """
        _check_name(name)
        check_collection(config)
        _check_config(config)
        with self._lock:
            self._check_open()
            if name in self.collections:
                raise CollectionAlreadyExists(name)
            if self.aliases.resolve(name) is not None:
                raise BadRequest(f"Wrong input: Alias `{name}` already exists!")
            stored = config.model_dump(mode="json", exclude_none=True, by_alias=True)
            store = self._catalog.create(name, stored) if self._catalog else None
            self.collections[name] = self._adopt(Collection(name, config, store, self.limits))
        return True

    def update_collection(self, name: str, diff: m.UpdateCollection) -> bool:
        """Change a collection's settings (Qdrant's ``update_collection``), durably.

        The new configuration is checked as a new collection's would be. A change of index
        settings (HNSW parameters, quantization) reopens the collection (an in-memory one
        from its points as they are): queries are answered exactly until the background
        build of the new index catches up.

        Raises:
            CollectionNotFound; InvalidConfig; NotSupported: a setting Shoal does not
                honour (nothing is changed).
        """
        with self._lock:
            col = self.collection(name)
            new = updated_config(col.config, diff)
            check_collection(new)
            _check_config(new)
            rebuild = index_settings(new) != index_settings(col.config)
            if col.store is not None:
                stored = new.model_dump(mode="json", exclude_none=True, by_alias=True)
                col.store.set_meta("config", stored)
            if not rebuild:
                col.reconfigure(new)
                return True
            if col.store is None:  # no storage to reopen from: its points, as they are
                points = repacked(col.state, StoredLayout(vector_space(new)))
                col.close()
                self.collections[col.name] = self._adopt(self._in_memory(col, new, points))
                return True
            folder = self._folder_of(col)
            del self.collections[col.name]
            col.close()
            self.collections[col.name] = self._adopt(
                Collection(col.name, new, CollectionStore(folder), self.limits)
            )
        return True

    def create_vector_name(self, name: str, vector: str, spec: m.VectorNameConfig) -> bool:
        """Add vector ``vector`` to collection ``name`` (Qdrant's ``create_vector_name``),
        durably: existing points do not have it; later writes may give it.

        Re-creating a vector with its own configuration changes nothing, as in Qdrant.

        Raises:
            CollectionNotFound; InvalidConfig: a bad name, or one taken by another vector;
            NotSupported: a setting Shoal does not honour (as at creation); StorageError.
        """
        with self._lock:
            col = self.collection(name)
            new = with_vector(col.config, vector, spec)
            if new is not None:
                self._relayout(col, new, vector)
        return True

    def delete_vector_name(self, name: str, vector: str) -> bool:
        """Remove vector ``vector`` and its data from collection ``name`` (Qdrant's
        ``delete_vector_name``), durably; a name the collection does not have changes
        nothing, as in Qdrant.

        Raises:
            CollectionNotFound; InvalidConfig: the unnamed vector of an unnamed collection;
            StorageError.
        """
        with self._lock:
            col = self.collection(name)
            new = without_vector(col.config, vector)
            if new is not None:
                self._relayout(col, new, vector)
        return True

    def _relayout(self, col: Collection, new: m.CreateCollection, vector: str) -> None:
        """Replace ``col`` with a collection of configuration ``new`` holding the same
        points, their vectors repacked for it (``shoal.engine.vector_names``)."""
        check_collection(new)
        _check_config(new)
        points = repacked(col.state, StoredLayout(vector_space(new)))
        col.close()  # flushes its writes: its state is what storage holds
        if col.store is None:
            fresh = self._in_memory(col, new, points)
        else:
            fresh = self._rewritten(col, new, vector, points)
        self.collections[col.name] = self._adopt(fresh)

    def _in_memory(
        self, col: Collection, new: m.CreateCollection, points: Iterable[StoredColumns]
    ) -> Collection:
        """An in-memory collection of configuration ``new`` holding ``points`` and the
        payload indexes of ``col`` (closed), in place of ``col``."""
        fresh = Collection(col.name, new, None, self.limits, points)
        for field, schema in col.payload_indexes.items():
            fresh.set_payload_index(field, schema)
        return fresh

    def _rewritten(
        self, col: Collection, new: m.CreateCollection, vector: str, points: Iterable[StoredColumns]
    ) -> Collection:
        """Store ``new`` and the repacked ``points`` in one transaction, then open them.

        The index snapshot of ``vector`` (the deleted data's, or a leftover of an earlier
        vector of that name) goes first: a crash then costs a rebuild, never a stale index.
        """
        folder = self._folder_of(col)
        remove_snapshot(folder, vector)
        store = CollectionStore(folder)
        stored = new.model_dump(mode="json", exclude_none=True, by_alias=True)
        meta = {"config": stored, COMMIT_SEQ: col.state.commit_seq + 1}
        try:
            store.relayout(meta, (list(zip(c.keys, c.vectors, strict=True)) for c in points))
        except BaseException:  # nothing was changed: the collection reopens as it was
            self.collections[col.name] = self._adopt(
                Collection(col.name, col.config, store, self.limits)
            )
            raise
        return Collection(col.name, new, store, self.limits)

    def delete_collection(self, name: str) -> bool:
        """Delete a collection and its data; False if there was none."""
        with self._lock:
            self._check_open()
            col = self.collections.pop(name, None)
            if col is None:
                return False
            col.drop()
            if self._catalog is not None and col.store is not None:
                self._catalog.drop(col.store)
            self.aliases.drop_collection(name)
        return True

    def collection(self, name: str) -> Collection:
        """The named collection.

        Raises:
            CollectionNotFound.
        """
        with self._lock:
            self._check_open()
            col = self.collections.get(name)
            if col is None:
                target = self.aliases.resolve(name)
                col = None if target is None else self.collections.get(target)
        if col is None:
            raise CollectionNotFound(name)
        return col

    def _adopt(self, col: Collection) -> Collection:
        """A collection of this database: its queries can reach the others
        (``lookup_from``, ``with_lookup``)."""
        col.searcher.others = self
        return col

    def vector_of(self, location: m.LookupLocation, pid: PointId) -> Kept:
        """The vector ``location.vector`` (default: the unnamed one) of point ``pid`` in
        collection ``location.collection``: a query's ``lookup_from``.

        Raises:
            CollectionNotFound, PointNotFound; InvalidQuery: the point has no such vector.
        """
        if location.shard_key is not None:
            raise NotSupported("Wrong input: shard_key is not supported: one shard on one node")
        col = self.collection(location.collection)
        name = location.vector or DEFAULT_VECTOR
        with col.state.lock.read():
            row = col.state.row(pid)
            if row is None:
                raise PointNotFound(pid)
            if not col.space.has(name):  # Qdrant's words (clients match them)
                raise InvalidQuery(
                    f"Wrong input: Not existing vector name error: {name!r} in "
                    f"lookup_from collection {location.collection!r}"
                )
            vector = col.state.vectors_of(row).get(name)
        if vector is None:
            raise InvalidQuery(
                f"Wrong input: point {pid} of {location.collection!r} has no vector {name!r}"
            )
        return vector

    def record_of(
        self, collection: str, pid: PointId, with_payload: Any, with_vector: Any
    ) -> m.Record | None:
        """Point ``pid`` of ``collection``, or None: a group's ``with_lookup``.

        Raises:
            CollectionNotFound.
        """
        found = self.collection(collection).retrieve([pid], with_payload, with_vector)
        return found[0] if found else None

    def update_aliases(self, actions: list[m.AliasOperations]) -> bool:
        """Create, delete and rename aliases: all of the actions, or (if one is refused)
        none. Every later call accepts an alias wherever it takes a collection's name.

        Raises:
            CollectionNotFound, CollectionAlreadyExists, AliasNotFound: as
                ``shoal.engine.aliases`` says; StorageError.
        """
        with self._lock:
            self._check_open()
            self.aliases.apply(actions, self.collections.keys())
        return True

    def list_aliases(self, name: str | None = None) -> m.CollectionsAliasesResponse:
        """Every alias, or (``name``) the aliases of the collection of that name (none for
        a name that is no collection, as Qdrant answers)."""
        with self._lock:
            self._check_open()
        return m.CollectionsAliasesResponse(aliases=self.aliases.of(name))

    def collection_exists(self, name: str) -> bool:
        """Whether ``name`` names a collection, or an alias of one."""
        with self._lock:
            self._check_open()
            return name in self.collections or self.aliases.resolve(name) is not None

    def collection_names(self) -> list[str]:
        with self._lock:
            self._check_open()
            return sorted(self.collections)

    def get_collections(self) -> m.CollectionsResponse:
        return m.CollectionsResponse(
            collections=[m.CollectionDescription(name=n) for n in self.collection_names()]
        )

    # -------------------------------------------------------------- snapshots

    def _shelf(self) -> Snapshots:
        if self._catalog is None:
            raise NotSupported(
                "Wrong input: snapshots are not supported for an in-memory database; open a "
                "storage folder (path=...) to take them"
            )
        if self._snapshots is None:
            self._snapshots = Snapshots(self._catalog, __version__)
        return self._snapshots

    def create_snapshot(self, name: str | None) -> m.SnapshotDescription:
        """Snapshot a collection (``name``) or, with None, every collection (a full
        snapshot). Writes go on meanwhile; the snapshot holds those committed before it.

        Raises:
            CollectionNotFound: no such collection.
            NotSupported: an in-memory database.
            StorageError: the snapshot cannot be written.
        """
        shelf = self._shelf()
        if name is not None:
            return _described(shelf.create(name, self._folder_of(self.collection(name))))
        parts = [
            (n, shelf.folder(n) / shelf.create(n, self._folder_of(self.collection(n))).name)
            for n in self.collection_names()
        ]
        return _described(shelf.create_full(parts))

    def list_snapshots(self, name: str | None) -> list[m.SnapshotDescription]:
        """A collection's snapshots, or (None) the full snapshots.

        Raises:
            CollectionNotFound: ``name`` names no collection.
        """
        if name is not None:
            self.collection(name)
        return [_described(info) for info in self._shelf().list(name)]

    def snapshot_path(self, name: str | None, snapshot: str) -> Path:
        """The file of a snapshot of a collection (or, with None, of a full snapshot).

        Raises:
            SnapshotNotFound: no such snapshot.
        """
        return self._shelf().path(name, snapshot)

    def delete_snapshot(self, name: str | None, snapshot: str) -> bool:
        """Delete a snapshot file.

        Raises:
            SnapshotNotFound: no such snapshot.
        """
        return self._shelf().delete(name, snapshot)

    def recover(self, name: str, request: m.SnapshotRecover) -> bool:
        """``recover_snapshot`` for a request as Qdrant's API words it.

        Raises:
            NotSupported: an ``api_key`` (for remote locations, which are not supported)
                or the ``replica`` priority (one node has no replica to prefer).
            And as ``recover_snapshot``.
        """
        _check_recover_options(request.api_key, request.priority)
        return self.recover_snapshot(name, request.location, request.checksum)

    def recover_snapshot(
        self, name: str, location: str | Path, checksum: str | None = None
    ) -> bool:
        """Replace collection ``name`` (or create it) with a collection snapshot.

        Args:
            name: the collection to recover into (a snapshot of another collection works).
            location: a snapshot file: a path or ``file://`` URL under the snapshots
                folder (a ``Path`` is taken as it is: uploads and the command line).
            checksum: the SHA-256 (hex) the file must have, if given.

        Raises:
            InvalidSnapshot: not a Shoal collection snapshot, a damaged one, or one whose
                checksum differs from ``checksum`` (nothing is changed).
            NotSupported: an http(s) location, or an in-memory database.
            StorageError: the folders cannot be swapped (the old collection stays).
        """
        _check_name(name)
        shelf = self._shelf()
        path = location if isinstance(location, Path) else shelf.location(location)
        if checksum is not None and file_checksum(path) != checksum.lower():
            raise InvalidSnapshot(
                f"Wrong input: the snapshot's checksum is not {checksum!r}: the file is "
                "not the one meant, or it was damaged on the way"
            )
        staged, stored = shelf.stage(path, name)
        config = m.CreateCollection.model_validate(stored)
        with self._lock:
            self._check_open()
            old = self.collections.pop(name, None)
            if old is not None:
                old.close()
            current = None if old is None else self._folder_of(old)
            try:
                store = self._require_catalog().replace(staged, current, name)
            except BaseException:
                if old is not None and current is not None:  # rolled back: the old one stays
                    again = Collection(name, old.config, CollectionStore(current), self.limits)
                    self.collections[name] = self._adopt(again)
                raise
            self.collections[name] = self._adopt(Collection(name, config, store, self.limits))
        return True

    def recover_upload(
        self, name: str, data: bytes, checksum: str | None = None, priority: str | None = None
    ) -> bool:
        """``recover`` from the bytes of an uploaded snapshot (``POST .../snapshots/upload``).

        Raises:
            As ``recover`` (the upload is checked whole before anything changes).
        """
        _check_recover_options(None, priority)
        _check_name(name)
        unpacked = self._shelf().catalog.staging()
        try:
            upload = unpacked / "upload.snapshot"
            upload.write_bytes(data)
            return self.recover_snapshot(name, upload, checksum)
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)

    def restore(self, path: Path, name: str | None = None) -> list[str]:
        """Recover any snapshot file (``shoal snapshot restore``): a collection snapshot
        into ``name`` (default: the collection it was taken of), or every collection of a
        full snapshot, each replaced atomically, one after another.

        Returns:
            The names of the collections recovered.

        Raises:
            InvalidSnapshot: not a Shoal snapshot, or a damaged one (checked whole before
                any collection changes).
            BadRequest: ``name`` given for a full snapshot.
        """
        unpacked = self._shelf().catalog.staging()
        try:
            manifest = read_snapshot(path, unpacked)
            if manifest.kind == "collection":
                target = name or manifest.collection
                assert target is not None, "a collection snapshot names its collection"
                self.recover_snapshot(target, path)
                return [target]
            if name is not None:
                raise BadRequest(
                    f"Wrong input: {path.name} is a full snapshot: it restores every "
                    "collection in it under its own name"
                )
            for member, collection in manifest.collections.items():
                self.recover_snapshot(collection, unpacked / member)
            return list(manifest.collections.values())
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)

    def _folder_of(self, col: Collection) -> Path:
        assert col.store is not None, "a database with a folder has stores"
        return col.store.path.parent

    def _require_catalog(self) -> Catalog:
        assert self._catalog is not None, "checked by _shelf"
        return self._catalog

    # ------------------------------------------------------------------ close

    def close(self) -> None:
        """Flush pending writes and release the storage folder. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            errors: list[BaseException] = []
            for col in self.collections.values():
                try:
                    col.close()
                except Exception as exc:  # close the others, report the first failure
                    errors.append(exc)
            self.collections.clear()
            if self._catalog is not None:
                self._catalog.close()
            _open.discard(self)
        if errors:
            raise errors[0]

    def _check_open(self) -> None:
        if self._closed:
            raise ShoalError("the database is closed")


def _check_recover_options(api_key: str | None, priority: str | None) -> None:
    if api_key is not None:
        raise NotSupported(
            "Wrong input: api_key is for remote snapshot locations, which are not supported"
        )
    if priority == "replica":
        raise NotSupported(
            "Wrong input: snapshot priority 'replica' is not supported: a single node has "
            "no replica to prefer; use 'snapshot' or 'no_sync'"
        )
    if priority not in (None, "snapshot", "no_sync"):
        raise BadRequest(
            f"Wrong input: snapshot priority {priority!r}; expected no_sync, snapshot or replica"
        )


def _described(info: SnapshotInfo) -> m.SnapshotDescription:
    return m.SnapshotDescription(
        name=info.name, creation_time=info.creation_time, size=info.size, checksum=info.checksum
    )


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidCollectionName(f"Wrong input: collection name {name!r} must be non-empty")
    if len(name) > MAX_NAME:
        raise InvalidCollectionName(
            f"Wrong input: collection name of {len(name)} characters is longer than {MAX_NAME}"
        )
    # A lone surrogate cannot be stored (the name is kept as UTF-8 in the store's meta).
    bad = [c for c in name if c in "/\\\0" or ord(c) < 32 or "\ud800" <= c <= "\udfff"]
    if bad:
        raise InvalidCollectionName(
            f"Wrong input: collection name {name!r} contains the forbidden character {bad[0]!r}"
        )


def _check_config(config: m.CreateCollection) -> None:
    vectors = config.vectors
    sparse = config.sparse_vectors or {}
    if vectors is None and not sparse:
        raise InvalidConfig(
            "Wrong input: vectors_config is required (size and distance), or "
            "sparse_vectors_config for a collection of sparse vectors only"
        )
    items: list[tuple[str, m.VectorParams]] = []
    if isinstance(vectors, dict):
        items = list(vectors.items())
    elif vectors is not None:
        items = [("", vectors)]
    for name, _ in items:
        if name in sparse:
            raise InvalidConfig(
                f"Wrong input: {name!r} names both a dense and a sparse vector; names must differ"
            )
    for name, params in items:
        label = f"vector {name!r}" if name else "vector"
        if not 1 <= params.size <= MAX_DIM:
            raise InvalidConfig(
                f"Wrong input: {label} size {params.size} is out of range 1..{MAX_DIM}"
            )
    for _, params in items:
        resolve_settings(config, params)  # HNSW and quantization settings, with their ranges
    check_strict_config(config)
