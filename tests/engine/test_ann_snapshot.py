"""Index snapshots: written beside the storage, resumed when usable, rebuilt when not.

A snapshot whose watermark equals the storage's ``commit_seq`` is used as it is; an older one
catches up with what was written since (storage records which points' vectors changed after
which commit); a missing, torn or damaged one (or temp files of an interrupted write) makes
the collection rebuild its index from storage in the background, answering exactly
meanwhile — nothing is lost and reopening never fails. The last tests kill a writer with
SIGKILL and close a collection in the middle of a build.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ann_support import DIM, EXACT, WIDE, checked, vectors

from shoal import models as m
from shoal.engine import Collection, Database, ann
from shoal.index import HnswIndex

N = 300
CONFIG = m.CreateCollection(
    vectors=m.VectorParams(size=DIM, distance="Cosine"),
    hnsw_config=m.HnswConfigDiff(full_scan_threshold=1),
)

pytestmark = pytest.mark.usefixtures("one_insert_thread")


def fill(db: Database, n: int = N) -> Collection:
    db.create_collection("c", CONFIG)
    col = db.collection("c")
    col.upsert(
        m.Batch(
            ids=list(range(n)), vectors=vectors(n).tolist(), payloads=[{"i": i} for i in range(n)]
        )
    )
    return col


def folder(tmp_path: Path) -> Path:
    return next((tmp_path / "collections").iterdir())


def answers(col: Collection, params: m.SearchParams = WIDE) -> list[list[Any]]:
    """Ids for a few fixed queries (the same index gives the same answers)."""
    return [
        [p.id for p in col.query(m.QueryRequest(query=q.tolist(), limit=10, params=params)).points]
        for q in vectors(5, 77)
    ]


def correct(col: Collection) -> None:
    """The fixed queries' answers are valid, exactly scored and complete."""
    for q in vectors(5, 77):
        checked(col, query=q.tolist(), limit=10)


def reopen_uses_snapshot(tmp_path: Path, count: int = N) -> Database:
    """Reopen and check the index came from the snapshot: complete at once, no indexer."""
    db = Database(tmp_path)
    col = db.collection("c")
    info = col.info()
    assert info.status == m.CollectionStatus.GREEN and info.indexed_vectors_count == count
    assert col.ann._thread is None
    correct(col)
    return db


def test_snapshot_is_written_when_built_and_on_close(tmp_path: Path) -> None:
    db = Database(tmp_path)
    col = fill(db)
    assert col.wait_indexed(30)  # a finished build is snapshotted right away
    manifest = json.loads((folder(tmp_path) / "index.usearch.json").read_text())
    assert manifest["watermark"] == col.state.commit_seq and manifest["count"] == N
    col.upsert([m.PointStruct(id=N, vector=vectors(1, 5)[0].tolist())])
    assert col.wait_indexed(30)
    before = answers(col)
    db.close()  # the catch-up is snapshotted at close
    manifest = json.loads((folder(tmp_path) / "index.usearch.json").read_text())
    assert manifest["count"] == N + 1
    db = reopen_uses_snapshot(tmp_path, N + 1)
    assert answers(db.collection("c")) == before
    db.close()


def test_a_catch_up_that_changed_enough_is_snapshotted_when_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only at close (which skips a large index) nor 30 s later: a reopen after the
    indexer went idle finds the whole index in the snapshot, not an older share of it."""
    monkeypatch.setattr(ann, "SAVE_MIN_ADDS", 10)
    db = Database(tmp_path)
    col = fill(db)
    assert col.wait_indexed(30)
    extra = vectors(40, 9).tolist()
    col.upsert([m.PointStruct(id=N + i, vector=v) for i, v in enumerate(extra)])
    assert col.wait_indexed(30)
    with col.ann.paused():  # the indexer is idle: its last save is done
        manifest = json.loads((folder(tmp_path) / "index.usearch.json").read_text())
    assert manifest["count"] == N + 40 and manifest["watermark"] == col.state.commit_seq
    db.close()


def _truncate(path: Path) -> None:
    data = (path / "index.usearch").read_bytes()
    (path / "index.usearch").write_bytes(data[: len(data) // 2])


def _flip_byte(path: Path) -> None:
    f = path / "index.usearch"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))


def _torn_manifest(path: Path) -> None:
    f = path / "index.usearch.json"
    f.write_text(f.read_text()[:40])


def _old_manifest_new_file(path: Path) -> None:
    # A crash between the two renames: the new index file beside the old manifest.
    meta = json.loads((path / "index.usearch.json").read_text())
    meta["size"] += 64
    (path / "index.usearch.json").write_text(json.dumps(meta))


def _missing(name: str) -> Callable[[Path], None]:
    return lambda path: (path / name).unlink()


def _other_config(path: Path) -> None:
    meta = json.loads((path / "index.usearch.json").read_text())
    meta["m"] = 8
    (path / "index.usearch.json").write_text(json.dumps(meta))


def _temp_leftovers(path: Path) -> None:
    # An interrupted write leaves temp files; the snapshot itself is still fine.
    (path / ".index.usearch.abc123.tmp").write_bytes(b"partial")
    (path / ".index.usearch.json.def456.tmp").write_bytes(b"{")


DAMAGE = {
    "truncated": _truncate,
    "flipped byte": _flip_byte,
    "torn manifest": _torn_manifest,
    "old manifest, new file": _old_manifest_new_file,
    "no manifest": _missing("index.usearch.json"),
    "no index file": _missing("index.usearch"),
    "other config": _other_config,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_bad_snapshot_means_a_rebuild_not_an_error(tmp_path: Path, damage: str) -> None:
    db = Database(tmp_path)
    col = fill(db)
    assert col.wait_indexed(30)
    want = answers(col, EXACT)
    db.close()
    DAMAGE[damage](folder(tmp_path))

    db = Database(tmp_path)
    col = db.collection("c")
    assert len(col.state) == N
    correct(col)  # exact while the index rebuilds
    assert answers(col, EXACT) == want
    assert col.wait_indexed(30)
    assert col.info().status == m.CollectionStatus.GREEN
    assert col.info().indexed_vectors_count == N
    correct(col)
    db.close()
    reopen_uses_snapshot(tmp_path).close()  # and the rebuilt index was snapshotted


def test_temp_files_of_an_interrupted_save_are_swept(tmp_path: Path) -> None:
    db = Database(tmp_path)
    assert fill(db).wait_indexed(30)
    db.close()
    _temp_leftovers(folder(tmp_path))
    reopen_uses_snapshot(tmp_path).close()
    assert not list(folder(tmp_path).glob(".*.tmp"))


class AddLog:
    """Counts the vectors given to every HNSW index's ``add`` (a catch-up adds only the
    changed ones; a rebuild adds all)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.added = 0
        add = HnswIndex.add

        def counting(index: HnswIndex, rows: Any, vectors: Any, **kwargs: Any) -> int:
            self.added += len(rows)
            return add(index, rows, vectors, **kwargs)

        monkeypatch.setattr(HnswIndex, "add", counting)


def test_a_stale_snapshot_catches_up_with_the_newer_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(tmp_path)
    assert fill(db).wait_indexed(30)
    db.close()
    old = tmp_path / "old"
    old.mkdir()
    for f in folder(tmp_path).glob("index.usearch*"):
        shutil.copy(f, old / f.name)
    db = Database(tmp_path)
    col = db.collection("c")
    q = vectors(1, 31)[0]
    col.delete([0, 1, 2])
    col.upsert([m.PointStruct(id=777, vector=q.tolist())])
    db.close()
    for f in old.iterdir():  # put back the snapshot from before those writes
        shutil.copy(f, folder(tmp_path) / f.name)

    log = AddLog(monkeypatch)
    db = Database(tmp_path)
    col = db.collection("c")
    assert col.ann._thread is not None  # stale: catching up
    assert col.wait_indexed(30)
    assert col.info().indexed_vectors_count == N - 2
    assert log.added == 1  # the new point only: resumed from the snapshot, not rebuilt
    exact = [
        p.id for p in col.query(m.QueryRequest(query=q.tolist(), limit=5, params=EXACT)).points
    ]
    assert exact[0] == 777 and not {0, 1, 2} & set(checked(col, query=q.tolist(), limit=50))
    correct(col)
    db.close()


def test_a_deleted_collection_leaves_no_snapshot_behind(tmp_path: Path) -> None:
    db = Database(tmp_path)
    assert fill(db).wait_indexed(30)
    path = folder(tmp_path)
    assert db.delete_collection("c")
    assert not path.exists()
    fill(db)  # same name again: a fresh collection, never the old snapshot
    assert db.collection("c").wait_indexed(30)
    db.close()


CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from shoal import models as m
    from shoal.engine import Database

    path, mode = sys.argv[1], sys.argv[2]
    db = Database(path)
    col = db.collection("c")
    rng = np.random.default_rng(1)
    if mode == "vectors":
        col.upsert([m.PointStruct(id=1000 + i, vector=rng.standard_normal(8).tolist())
                    for i in range(20)])
        col.delete([0, 1])
    else:
        col.set_payload(m.SetPayload(payload={"late": True}, points=[5, 6]))
    print("acknowledged", flush=True)
    sys.stdin.read()  # wait to be killed
    """
)


@pytest.mark.parametrize("mode", ["vectors", "payload"])
def test_kill_9_after_writes_loses_nothing(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(tmp_path)
    assert fill(db).wait_indexed(30)
    db.close()
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "acknowledged"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(30)

    if mode == "payload":
        # Payload-only writes do not move the watermark: the snapshot is still valid.
        db = reopen_uses_snapshot(tmp_path)
        assert db.collection("c").count(m.CountRequest(filter="late == true")).count == 2
        db.close()
        return
    log = AddLog(monkeypatch)
    db = Database(tmp_path)
    col = db.collection("c")
    assert len(col.state) == N + 18  # every acknowledged write survived
    assert col.ann._thread is not None  # the snapshot is stale: catching up
    correct(col)
    assert col.wait_indexed(30)
    assert col.info().indexed_vectors_count == N + 18
    assert log.added == 20  # the killed writer's points, not the whole collection
    correct(col)
    db.close()


def test_close_mid_build_returns_at_once_and_the_next_open_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the indexer parked between chunks in the middle of a build, close() neither
    finishes the build nor waits for it: it snapshots what is indexed, and the next open
    starts from that count, not from 0."""
    db = Database(tmp_path)
    db.create_collection("c", CONFIG)
    col = db.collection("c")
    parked = threading.Event()
    add = HnswIndex.add

    def add_then_park(index: HnswIndex, rows: Any, vectors: Any, **kwargs: Any) -> int:
        replaced = add(index, rows, vectors, **kwargs)
        with col.ann._cond:  # the indexer takes no further chunk
            col.ann._paused = True
        parked.set()
        return replaced

    monkeypatch.setattr(HnswIndex, "add", add_then_park)
    col.upsert(m.Batch(ids=list(range(2000)), vectors=vectors(2000).tolist()))
    assert parked.wait(30)
    va = col.ann.vectors[""]
    assert va.index is not None
    indexed = len(va.index)
    assert 0 < indexed < 2000 and va.pending  # parked mid-build
    db.close()  # returns: nothing drains the backlog
    manifest = json.loads((folder(tmp_path) / "index.usearch.json").read_text())
    assert manifest["count"] == indexed
    monkeypatch.setattr(HnswIndex, "add", add)

    log = AddLog(monkeypatch)
    db = Database(tmp_path)
    col = db.collection("c")
    assert col.wait_indexed(60)
    assert col.info().indexed_vectors_count == 2000
    assert log.added == 2000 - indexed  # resumed from the snapshot's count
    correct(col)
    db.close()
