"""Snapshot files: consistent while writes go on, checked before use, swapped in whole."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest

from shoal.errors import InvalidSnapshot
from shoal.storage import Catalog
from shoal.storage.catalog import _JOURNAL
from shoal.storage.snapshots import (
    MANIFEST,
    list_snapshots,
    read_snapshot,
    write_collection_snapshot,
    write_full_snapshot,
)
from shoal.storage.sqlite import FILE_NAME, CollectionStore

VERSION = "test"


def make_store(root: Path, name: str = "c", n: int = 10) -> tuple[Catalog, CollectionStore]:
    catalog = Catalog(root)
    store = catalog.create(name, {"vectors": {"size": 2, "distance": "Dot"}})
    commit(store, range(n))
    return catalog, store


def commit(store: CollectionStore, ids: range) -> None:
    rows = [(str(i), i, i, {"i": i}, b"\0" * 8) for i in ids]
    store.commit(rows, [], [], None)


def stored_ids(db_file: Path) -> list[int]:
    db = sqlite3.connect(db_file)
    try:
        return sorted(int(k) for (k,) in db.execute("SELECT key FROM points"))
    finally:
        db.close()


def test_round_trip(tmp_path: Path) -> None:
    catalog, store = make_store(tmp_path / "data")
    target = tmp_path / "c.snapshot"
    info = write_collection_snapshot(store.path.parent, "c", target, shoal_version=VERSION)
    assert info.name == "c.snapshot" and info.size == target.stat().st_size
    assert len(info.checksum) == 64
    out = tmp_path / "out"
    out.mkdir()
    manifest = read_snapshot(target, out)
    assert manifest.kind == "collection" and manifest.collection == "c"
    assert stored_ids(out / FILE_NAME) == list(range(10))
    assert [s.name for s in list_snapshots(tmp_path)] == ["c.snapshot"]
    catalog.close()


def test_a_snapshot_taken_during_writes_holds_a_prefix(tmp_path: Path) -> None:
    catalog, store = make_store(tmp_path / "data", n=0)
    acknowledged: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            commit(store, range(i, i + 1))
            acknowledged.append(i)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    while len(acknowledged) < 50:
        pass
    target = tmp_path / "c.snapshot"
    write_collection_snapshot(store.path.parent, "c", target, shoal_version=VERSION)
    stop.set()
    thread.join()
    out = tmp_path / "out"
    out.mkdir()
    read_snapshot(target, out)
    ids = stored_ids(out / FILE_NAME)
    assert len(ids) >= 50 and ids == acknowledged[: len(ids)]
    catalog.close()


def test_full_snapshot_holds_collection_snapshots(tmp_path: Path) -> None:
    catalog, store = make_store(tmp_path / "data")
    part = tmp_path / "part.snapshot"
    write_collection_snapshot(store.path.parent, "c", part, shoal_version=VERSION)
    full = tmp_path / "full.snapshot"
    write_full_snapshot([("c", part)], full, shoal_version=VERSION)
    out = tmp_path / "out"
    out.mkdir()
    manifest = read_snapshot(full, out)
    assert manifest.kind == "full" and list(manifest.collections.values()) == ["c"]
    catalog.close()


def _damaged(tmp_path: Path, how: str) -> Path:
    catalog, store = make_store(tmp_path / "data")
    target = tmp_path / "c.snapshot"
    write_collection_snapshot(store.path.parent, "c", target, shoal_version=VERSION)
    catalog.close()
    data = bytearray(target.read_bytes())
    if how == "truncated":
        target.write_bytes(data[: len(data) // 2])
    elif how == "flipped":
        # A byte in the store member's content (past the manifest's header and content).
        with tarfile.open(target) as archive:
            offset = archive.getmember(FILE_NAME).offset_data
        data[offset + 100] ^= 0xFF
        target.write_bytes(data)
    return target


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_a_damaged_snapshot_is_refused(tmp_path: Path, how: str) -> None:
    target = _damaged(tmp_path, how)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidSnapshot, match=r"damaged|incomplete|not a Shoal snapshot"):
        read_snapshot(target, out)


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))


def test_a_qdrant_snapshot_is_not_a_shoal_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "qdrant.snapshot"
    _tar(path, {"config.json": b"{}", "0/segments/x": b"data"})
    with pytest.raises(InvalidSnapshot, match="not a Shoal snapshot"):
        read_snapshot(path, tmp_path)
    path.write_bytes(b"not a tar file at all")
    with pytest.raises(InvalidSnapshot, match="not a Shoal snapshot"):
        read_snapshot(path, tmp_path)


@pytest.mark.parametrize("member", ["../evil", "a/../../b", "/etc/passwd", ""])
def test_member_names_never_leave_the_folder(tmp_path: Path, member: str) -> None:
    manifest = {
        "format": "shoal-snapshot",
        "version": 1,
        "kind": "collection",
        "collection": "c",
        "created": "",
        "files": {FILE_NAME: {"size": 1, "sha256": ""}, member: {"size": 1, "sha256": ""}},
    }
    path = tmp_path / "evil.snapshot"
    _tar(path, {MANIFEST: json.dumps(manifest).encode(), member or "x": b"x"})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidSnapshot, match="bad member"):
        read_snapshot(path, out)
    assert list(out.iterdir()) == []


def _staged_copy(catalog: Catalog, store: CollectionStore, ids: range) -> Path:
    staged = catalog.staging()
    (staged / FILE_NAME).write_bytes((store.path).read_bytes())
    db = sqlite3.connect(staged / FILE_NAME)
    db.execute("DELETE FROM points")
    db.executemany(
        "INSERT INTO points (key, version, serial, payload, vectors) VALUES (?, 0, 0, NULL, ?)",
        [(str(i), b"\0" * 8) for i in ids],
    )
    db.commit()
    db.close()
    return staged


def test_replace_puts_the_new_collection_in_place(tmp_path: Path) -> None:
    catalog, store = make_store(tmp_path / "data")
    store.close()
    staged = _staged_copy(catalog, store, range(100, 105))
    new = catalog.replace(staged, store.path.parent, "c")
    assert new.path == store.path
    assert stored_ids(new.path) == list(range(100, 105))
    new.close()
    catalog.close()


@pytest.mark.parametrize("crash_after", ["journal", "old moved aside", "new in place"])
def test_a_crash_during_replace_leaves_old_or_new_whole(tmp_path: Path, crash_after: str) -> None:
    """The three moments a kill -9 can interrupt ``replace``, rebuilt on disk; the next
    open finishes (or undoes) the replacement."""
    root = tmp_path / "data"
    catalog, store = make_store(root)
    store.close()
    staged = _staged_copy(catalog, store, range(100, 105))
    folder = store.path.parent
    (root / "collections" / _JOURNAL).write_text(f"{staged.name}\n{folder.name}\n")
    if crash_after in ("old moved aside", "new in place"):
        folder.rename(root / "collections" / ".old-crashed")
    if crash_after == "new in place":
        staged.rename(folder)
    catalog.close()

    reopened = Catalog(root)
    (store_again,) = reopened.open_all()
    ids = stored_ids(store_again.path)
    expected = list(range(10)) if crash_after == "journal" else list(range(100, 105))
    assert ids == expected
    assert sorted(p.name for p in (root / "collections").iterdir()) == [folder.name]
    store_again.close()
    reopened.close()
