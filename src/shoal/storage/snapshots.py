"""Snapshots: Shoal's own logical format, made while writes go on, checked before use.

A collection snapshot is one uncompressed tar file holding:

``manifest.json``
    ``{"format": "shoal-snapshot", "version": 1, "kind": "collection", "collection": name,
    "created": ISO time, "shoal": version, "files": {member: {"size", "sha256"}}}``.
``points.sqlite3``
    A consistent copy of the collection's store, made with SQLite's online backup from a
    read transaction of its own: the copy holds exactly the groups committed before that
    transaction began, so writes go on meanwhile and a snapshot holds a prefix of them.
``index*.usearch`` and their ``.json`` manifests
    The ANN index snapshots found beside the store (copied before the store, so their
    watermark is never ahead of it). Optional: a restored collection catches up from them,
    or rebuilds its index when they are absent or do not fit.

A full snapshot (``"kind": "full"``) holds one collection snapshot per collection, each
listed in ``files`` with the collection's name in ``collections``.

The format is logical (a store file and a manifest), so a snapshot outlives changes of
Shoal's other files; ``version`` names the layout. Reading checks everything before anything
is used: a file that is not such a tar, has no manifest, another ``format`` (a Qdrant
snapshot), unlisted or missing members, or a size or checksum that differs, is refused with
``InvalidSnapshot`` and nothing is changed. Members are extracted by the names the manifest
lists, as regular files, never by the paths the archive claims.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoal.errors import InvalidSnapshot, StorageError
from shoal.storage.sqlite import FILE_NAME

FORMAT = "shoal-snapshot"
VERSION = 1
MANIFEST = "manifest.json"
SUFFIX = ".snapshot"
_CHUNK = 1 << 20
_INDEX_FILES = "index*.usearch*"


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot file as Qdrant describes one (``SnapshotDescription``).

    Attributes:
        name: the file name.
        creation_time: ISO 8601, UTC, without a zone suffix (as Qdrant gives it).
        size: bytes.
        checksum: SHA-256 of the file, hex.
    """

    name: str
    creation_time: str
    size: int
    checksum: str


@dataclass(frozen=True)
class Manifest:
    """A snapshot's manifest: what it is and what its members must be."""

    kind: str
    collection: str | None
    created: str
    files: dict[str, dict[str, Any]]
    collections: dict[str, str]


def snapshot_name(label: str) -> str:
    """A new snapshot's file name: a label (a folder-safe collection name, or ``full``), the
    UTC time and a random tag (two snapshots in one second do not collide)."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")
    return f"{label}-{stamp}-{secrets.token_hex(3)}{SUFFIX}"


def write_collection_snapshot(
    folder: Path, collection: str, target: Path, *, shoal_version: str
) -> SnapshotInfo:
    """Snapshot the collection stored in ``folder`` into the file ``target``.

    Args:
        folder: the collection's storage folder (its store may be written meanwhile).
        collection: the collection's name, recorded in the manifest.
        target: the snapshot file to create (its folder must exist); written to a
            temporary name and renamed when complete.
        shoal_version: recorded in the manifest.

    Returns:
        The snapshot's description.

    Raises:
        StorageError: the store cannot be read or the snapshot cannot be written.
    """
    with tempfile.TemporaryDirectory(prefix=".snapshot-", dir=target.parent) as tmp:
        staging = Path(tmp)
        for index_file in sorted(folder.glob(_INDEX_FILES)):
            if not index_file.name.endswith(".tmp"):
                shutil.copyfile(index_file, staging / index_file.name)
        backup_store(folder / FILE_NAME, staging / FILE_NAME)
        members = sorted(p.name for p in staging.iterdir())
        manifest = {
            "kind": "collection",
            "collection": collection,
            "files": {name: _describe_member(staging / name) for name in members},
        }
        return _write_tar(staging, members, manifest, target, shoal_version)


def write_full_snapshot(
    parts: Iterable[tuple[str, Path]], target: Path, *, shoal_version: str
) -> SnapshotInfo:
    """A full snapshot made of collection snapshots.

    Args:
        parts: (collection name, its collection snapshot file) pairs.
        target: the snapshot file to create.
        shoal_version: recorded in the manifest.

    Returns:
        The snapshot's description.

    Raises:
        StorageError: the snapshot cannot be written.
    """
    with tempfile.TemporaryDirectory(prefix=".snapshot-", dir=target.parent) as tmp:
        staging = Path(tmp)
        collections = {}
        for i, (name, part) in enumerate(parts):
            member = f"collection-{i}{SUFFIX}"
            shutil.copyfile(part, staging / member)
            collections[member] = name
        members = sorted(collections)
        manifest = {
            "kind": "full",
            "collection": None,
            "files": {name: _describe_member(staging / name) for name in members},
            "collections": collections,
        }
        return _write_tar(staging, members, manifest, target, shoal_version)


def backup_store(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite store, taken from a read transaction of its own.

    Raises:
        StorageError: the store cannot be read or the copy written.
    """
    try:
        src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # every page in one step: one read transaction
            finally:
                dst.close()
        finally:
            src.close()
        _fsync(target)
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"cannot copy the store for a snapshot: {exc}") from exc


def read_snapshot(path: Path, into: Path) -> Manifest:
    """Check a snapshot file and extract its members into the folder ``into``.

    Args:
        path: the snapshot file.
        into: an empty folder; holds the members afterwards.

    Returns:
        Its manifest.

    Raises:
        InvalidSnapshot: not a Shoal snapshot, or a damaged or incomplete one.
    """
    try:
        with tarfile.open(path, "r:") as archive:
            manifest = _manifest(archive, path)
            for member, expected in manifest.files.items():
                _extract(archive, member, into / member, expected, path)
    except (tarfile.TarError, EOFError) as exc:
        raise InvalidSnapshot(f"{path.name} is not a Shoal snapshot ({exc})") from None
    except OSError as exc:
        raise InvalidSnapshot(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    return manifest


def describe(path: Path) -> SnapshotInfo:
    """A snapshot file's description (its checksum is computed, reading the file)."""
    created = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    return SnapshotInfo(
        name=path.name,
        creation_time=created.replace(tzinfo=None).isoformat(timespec="seconds"),
        size=path.stat().st_size,
        checksum=_sha256(path),
    )


def list_snapshots(folder: Path) -> list[SnapshotInfo]:
    """The snapshot files in ``folder`` (none if it does not exist), oldest first."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file()]
    return [describe(p) for p in sorted(files, key=lambda p: (p.stat().st_mtime, p.name))]


# ------------------------------------------------------------------------- helpers


def _write_tar(
    staging: Path,
    members: list[str],
    manifest: dict[str, Any],
    target: Path,
    shoal_version: str,
) -> SnapshotInfo:
    created = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
    document = {
        "format": FORMAT,
        "version": VERSION,
        "created": created,
        "shoal": shoal_version,
        "collections": {},
        **manifest,
    }
    (staging / MANIFEST).write_text(json.dumps(document, indent=1, sort_keys=True))
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tarfile.open(partial, "w:", format=tarfile.PAX_FORMAT) as archive:
            archive.add(staging / MANIFEST, arcname=MANIFEST, recursive=False)
            for name in members:
                archive.add(staging / name, arcname=name, recursive=False)
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"cannot write snapshot {target.name}: {exc.strerror or exc}") from exc
    return describe(target)


def _manifest(archive: tarfile.TarFile, path: Path) -> Manifest:
    try:
        info = archive.getmember(MANIFEST)
    except KeyError:
        raise InvalidSnapshot(
            f"{path.name} is not a Shoal snapshot (it has no {MANIFEST}; Qdrant's own "
            "snapshots cannot be recovered by Shoal)"
        ) from None
    handle = archive.extractfile(info) if info.isfile() else None
    try:
        data = json.loads(handle.read()) if handle is not None else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidSnapshot(f"{path.name} is not a Shoal snapshot (unknown manifest)")
    if data.get("version") != VERSION:
        raise InvalidSnapshot(
            f"{path.name} is a Shoal snapshot of format version {data.get('version')!r}; "
            f"this Shoal reads version {VERSION}"
        )
    files, kind = data.get("files"), data.get("kind")
    if not isinstance(files, dict) or kind not in ("collection", "full"):
        raise InvalidSnapshot(f"{path.name}: malformed snapshot manifest")
    for member in files:
        if not isinstance(member, str) or "/" in member or member in ("", ".", "..", MANIFEST):
            raise InvalidSnapshot(f"{path.name}: the manifest lists a bad member {member!r}")
    if kind == "collection" and FILE_NAME not in files:
        raise InvalidSnapshot(f"{path.name}: the snapshot has no {FILE_NAME}")
    return Manifest(
        kind=kind,
        collection=data.get("collection"),
        created=str(data.get("created")),
        files=files,
        collections=dict(data.get("collections") or {}),
    )


def _extract(
    archive: tarfile.TarFile, member: str, target: Path, expected: Any, path: Path
) -> None:
    try:
        info = archive.getmember(member)
    except KeyError:
        raise InvalidSnapshot(f"{path.name} is incomplete: {member} is missing") from None
    source = archive.extractfile(info) if info.isfile() else None
    if source is None or not isinstance(expected, dict):
        raise InvalidSnapshot(f"{path.name}: {member} is not a regular file")
    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    if size != expected.get("size") or digest.hexdigest() != expected.get("sha256"):
        raise InvalidSnapshot(
            f"{path.name} is damaged: {member} does not match its checksum (truncated or altered)"
        )


def _describe_member(path: Path) -> dict[str, Any]:
    return {"size": path.stat().st_size, "sha256": _sha256(path)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
