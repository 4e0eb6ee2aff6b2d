"""The snapshots of a database: where they live, and turning one back into a collection.

Layout, beside the collections::

    <path>/snapshots/<collection folder>/<collection>-<time>-<tag>.snapshot
    <path>/snapshots/full-<time>-<tag>.snapshot

A collection snapshot is taken while writes go on (``shoal.storage.snapshots`` copies the
store from a read transaction of its own). Recovering one checks the whole file first, puts
the collection's name into the staged copy, closes the collection it replaces and swaps the
folders through the catalog's journal, so a crash leaves the old or the new collection.

Locations given to recover are files under the snapshots folder (``file://`` URLs or plain
paths); anything else is refused, and an ``http(s)`` URL is refused as not supported (the
server has no flag to fetch remote snapshots yet).
"""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
from pathlib import Path

import orjson

from shoal.errors import BadRequest, InvalidSnapshot, NotSupported, SnapshotNotFound
from shoal.storage import Catalog
from shoal.storage.catalog import folder_names
from shoal.storage.snapshots import (
    SUFFIX,
    Manifest,
    SnapshotInfo,
    list_snapshots,
    read_snapshot,
    snapshot_name,
    write_collection_snapshot,
    write_full_snapshot,
)
from shoal.storage.sqlite import FILE_NAME

_FILE_NAME = re.compile(r"[^/\\\0]+")
FULL = "full"


class Snapshots:
    """The snapshot files of one storage folder.

    Args:
        catalog: the database's storage folder.
        version: Shoal's version, recorded in every snapshot.
    """

    def __init__(self, catalog: Catalog, version: str) -> None:
        self.catalog = catalog
        self.root = catalog.root / "snapshots"
        self.version = version

    def folder(self, collection: str) -> Path:
        """The folder of a collection's snapshots (named as its storage folder would be)."""
        return self.root / next(folder_names(collection))

    def create(self, collection: str, store_folder: Path) -> SnapshotInfo:
        """Snapshot the collection stored in ``store_folder``.

        Raises:
            StorageError: it cannot be read or the file cannot be written.
        """
        target = self.folder(collection)
        target.mkdir(parents=True, exist_ok=True)
        name = snapshot_name(target.name)
        return write_collection_snapshot(
            store_folder, collection, target / name, shoal_version=self.version
        )

    def create_full(self, parts: list[tuple[str, Path]]) -> SnapshotInfo:
        """A full snapshot from collection snapshots already written (then deleted)."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            return write_full_snapshot(
                parts, self.root / snapshot_name(FULL), shoal_version=self.version
            )
        finally:
            for _, part in parts:
                part.unlink(missing_ok=True)

    def list(self, collection: str | None) -> list[SnapshotInfo]:
        """A collection's snapshots, or the full snapshots (``collection=None``)."""
        return list_snapshots(self.root if collection is None else self.folder(collection))

    def path(self, collection: str | None, name: str) -> Path:
        """The file of a snapshot named in a request.

        Raises:
            SnapshotNotFound: no snapshot of that name (a name with a path in it included).
        """
        folder = self.root if collection is None else self.folder(collection)
        if not (_FILE_NAME.fullmatch(name) and name.endswith(SUFFIX)) or name.startswith("."):
            raise SnapshotNotFound(name)
        path = folder / name
        if not path.is_file():
            raise SnapshotNotFound(name)
        return path

    def delete(self, collection: str | None, name: str) -> bool:
        """Delete a snapshot file.

        Raises:
            SnapshotNotFound: no snapshot of that name.
        """
        self.path(collection, name).unlink()
        return True

    def location(self, location: str) -> Path:
        """The file a recover request names: a ``file://`` URL or a path, under the
        snapshots folder.

        Raises:
            NotSupported: an ``http(s)`` URL.
            BadRequest: another scheme, or a file outside the snapshots folder.
            SnapshotNotFound: no such file.
        """
        parsed = urllib.parse.urlparse(location)
        if parsed.scheme in ("http", "https"):
            raise NotSupported(
                f"Wrong input: recovering from {parsed.scheme} URLs is not supported; upload "
                "the file (POST .../snapshots/upload) or put it under the snapshots folder"
            )
        if parsed.scheme not in ("", "file"):
            raise BadRequest(f"Wrong input: snapshot location {location!r} is not a file")
        raw = urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else location
        path = Path(os.path.realpath(raw if os.path.isabs(raw) else self.root / raw))
        if not path.is_relative_to(os.path.realpath(self.root)):
            raise BadRequest(
                f"Wrong input: snapshot location {location!r} is outside the snapshots folder"
            )
        if not path.is_file():
            raise SnapshotNotFound(location)
        return path

    def stage(self, path: Path, name: str) -> tuple[Path, dict[str, object]]:
        """Check a collection snapshot and extract it into a staging folder of the catalog,
        renamed to ``name``.

        Returns:
            The staging folder and the collection's stored configuration.

        Raises:
            InvalidSnapshot: not a Shoal collection snapshot, or a damaged one (the staging
                folder is removed then).
        """
        staged = self.catalog.staging()
        try:
            manifest = read_snapshot(path, staged)
            if manifest.kind != "collection":
                raise InvalidSnapshot(
                    f"{path.name} is a full snapshot; recover it with `shoal snapshot "
                    "restore` into an empty folder"
                )
            config = _rename(staged / FILE_NAME, name, manifest)
        except BaseException:
            _remove(staged)
            raise
        return staged, config


def _rename(store: Path, name: str, manifest: Manifest) -> dict[str, object]:
    """Put the collection's new name into a staged store; return its configuration."""
    try:
        db = sqlite3.connect(store, isolation_level=None)
        try:
            db.execute("UPDATE meta SET value = ? WHERE key = 'name'", (orjson.dumps(name),))
            row = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise InvalidSnapshot(
            f"the snapshot of {manifest.collection!r} holds an unreadable store: {exc}"
        ) from None
    config = orjson.loads(row[0]) if row else None
    if not isinstance(config, dict):
        raise InvalidSnapshot(f"the snapshot of {manifest.collection!r} has no configuration")
    return config


def _remove(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    folder.rmdir()
