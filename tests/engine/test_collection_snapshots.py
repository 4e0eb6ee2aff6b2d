"""Collection snapshots through the engine: taken during writes, recovered whole or not at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from shoal import models as m
from shoal.engine import Database
from shoal.errors import CollectionNotFound, InvalidSnapshot, NotSupported, SnapshotNotFound

CONFIG = m.CreateCollection(vectors=m.VectorParams(size=4, distance="Dot"))


def point(i: int) -> m.PointStruct:
    return m.PointStruct(id=i, vector=[float(i), 1.0, -1.0, 0.5], payload={"i": i, "s": str(i)})


def points_of(db: Database, name: str) -> dict[int, tuple[object, object]]:
    records = (
        db.collection(name)
        .scroll(m.ScrollRequest(limit=100_000, with_payload=True, with_vector=True))
        .points
    )
    return {int(r.id): (r.payload, r.vector) for r in records}  # type: ignore[arg-type]


def test_a_snapshot_taken_during_writes_recovers_a_prefix(tmp_path: Path) -> None:
    db = Database(tmp_path)
    db.create_collection("c", CONFIG)
    col = db.collection("c")
    acknowledged: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            col.upsert([point(i)])
            acknowledged.append(i)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    while len(acknowledged) < 30:
        pass
    info = db.create_snapshot("c")
    stop.set()
    thread.join()
    before = points_of(db, "c")
    assert [s.name for s in db.list_snapshots("c")] == [info.name]

    db.recover_snapshot("copy", db.snapshot_path("c", info.name))
    copied = points_of(db, "copy")
    ids = sorted(copied)
    assert len(ids) >= 30 and ids == acknowledged[: len(ids)]
    assert all(copied[i] == before[i] for i in ids)  # payloads and vectors identical

    db.recover_snapshot("c", f"file://{db.snapshot_path('c', info.name)}")  # in place
    assert sorted(points_of(db, "c")) == ids
    db.close()
    reopened = Database(tmp_path)  # durable: both survive a reopen
    assert sorted(points_of(reopened, "c")) == ids == sorted(points_of(reopened, "copy"))
    reopened.close()


def test_a_damaged_snapshot_changes_nothing(tmp_path: Path) -> None:
    db = Database(tmp_path)
    db.create_collection("c", CONFIG)
    db.collection("c").upsert([point(i) for i in range(20)])
    info = db.create_snapshot("c")
    path = db.snapshot_path("c", info.name)
    path.write_bytes(path.read_bytes()[: info.size // 2])
    db.collection("c").upsert([point(99)])
    with pytest.raises(InvalidSnapshot):
        db.recover_snapshot("c", path)
    assert sorted(points_of(db, "c")) == [*range(20), 99]
    assert not db.collection_exists("other")
    with pytest.raises(InvalidSnapshot):
        db.recover_snapshot("other", path)
    assert not db.collection_exists("other")
    assert not [p for p in (tmp_path / "collections").iterdir() if p.name.startswith(".")]
    db.close()


def test_locations_and_names_stay_inside_the_snapshots_folder(tmp_path: Path) -> None:
    db = Database(tmp_path)
    db.create_collection("c", CONFIG)
    outside = tmp_path / "elsewhere.snapshot"
    outside.write_bytes(b"x")
    with pytest.raises(Exception, match="outside the snapshots folder"):
        db.recover_snapshot("c", f"file://{outside}")
    with pytest.raises(NotSupported, match="http"):
        db.recover_snapshot("c", "https://example.com/c.snapshot")
    for name in ["../../points.sqlite3", "nope.snapshot", ".hidden.snapshot"]:
        with pytest.raises(SnapshotNotFound):
            db.snapshot_path("c", name)
    with pytest.raises(CollectionNotFound):
        db.create_snapshot("missing")
    db.close()


def test_full_snapshots_and_memory_databases(tmp_path: Path) -> None:
    db = Database(tmp_path)
    for name in ("a", "b"):
        db.create_collection(name, CONFIG)
        db.collection(name).upsert([point(1)])
    info = db.create_snapshot(None)
    assert [s.name for s in db.list_snapshots(None)] == [info.name]
    assert db.delete_snapshot(None, info.name)
    assert db.list_snapshots(None) == []
    db.close()
    memory = Database(None)
    memory.create_collection("c", CONFIG)
    with pytest.raises(NotSupported, match="in-memory"):
        memory.create_snapshot("c")
    memory.close()


CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from shoal.engine import Database

    rename = os.rename
    def stalling_rename(src, dst):
        rename(src, dst)
        if Path(dst).name.startswith(".old-"):  # the old folder is aside: wait to be killed
            print("between renames", flush=True)
            sys.stdin.read()

    os.rename = stalling_rename
    db = Database(sys.argv[1])
    db.recover_snapshot("c", Path(sys.argv[2]))
    """
)


def test_kill_9_during_recovery_leaves_old_or_new(tmp_path: Path) -> None:
    db = Database(tmp_path)
    db.create_collection("c", CONFIG)
    db.collection("c").upsert([point(i) for i in range(5)])
    info = db.create_snapshot("c")
    snapshot = db.snapshot_path("c", info.name)
    db.collection("c").upsert([point(i) for i in range(5, 9)])
    db.close()
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(snapshot)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "between renames"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(30)
    reopened = Database(tmp_path)
    assert sorted(points_of(reopened, "c")) in ([*range(5)], [*range(9)])
    assert sorted(points_of(reopened, "c")) == [*range(5)]  # rolled forward: the new one
    reopened.close()
    assert np.all([not p.name.startswith(".") for p in (tmp_path / "collections").iterdir()])
