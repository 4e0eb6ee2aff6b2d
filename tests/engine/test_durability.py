"""Durability of the embedded engine: sync settings, persistence, locking, wait=False."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import shoal
from shoal import models as m
from shoal.engine import Database

DIM = 4
U1 = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"


def vec(i: int) -> list[float]:
    return [float(i), 1.0, -0.5, 0.25 * i]


# ------------------------------------------------------------------ (a) SQLite settings


def test_store_is_wal_with_full_sync(tmp_path: Path) -> None:
    """FULL (2) makes every COMMIT fsync the WAL: what ``wait=True`` promises."""
    db = Database(tmp_path)
    try:
        db.create_collection(
            "c", m.CreateCollection(vectors=m.VectorParams(size=DIM, distance="Dot"))
        )
        store = db.collection("c").store
        assert store is not None
        assert store.pragma("synchronous") == 2
        assert str(store.pragma("journal_mode")).lower() == "wal"
    finally:
        db.close()
    db = Database(tmp_path)  # and again for a store opened from disk
    try:
        store = db.collection("c").store
        assert store is not None
        assert store.pragma("synchronous") == 2
        assert str(store.pragma("journal_mode")).lower() == "wal"
    finally:
        db.close()


def test_a_crash_midway_through_create_or_delete_leaves_no_collection(tmp_path: Path) -> None:
    """A collection is built in a ``.new-`` folder and renamed into place, and deleted by a
    rename to ``.trash-``: leftovers of a crash at either step are swept at the next open
    and never listed, whatever state their store file is in."""
    from shoal.storage.sqlite import FILE_NAME, create_store

    with shoal.Client(path=tmp_path) as client:
        client.create_collection("kept", m.VectorParams(size=DIM, distance="Dot"))
        client.upsert("kept", [m.PointStruct(id=1, vector=vec(1))])
    collections = tmp_path / "collections"
    whole = collections / ".new-whole"  # crashed after the store was written, before rename
    whole.mkdir()
    create_store(whole, {"name": "ghost", "config": {"vectors": {"size": DIM}}})
    torn = collections / ".new-torn"  # crashed while writing the store file
    torn.mkdir()
    (torn / FILE_NAME).write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)
    trash = collections / ".trash-old"  # crashed between the rename and the removal
    trash.mkdir()
    create_store(trash, {"name": "gone", "config": {"vectors": {"size": DIM}}})
    with shoal.Client(path=tmp_path) as client:
        assert [c.name for c in client.get_collections().collections] == ["kept"]
        assert client.count("kept").count == 1
    assert sorted(p.name for p in collections.iterdir()) == ["kept"]


# --------------------------------------------------------------------- (b) persistence


def test_path_persists_across_close_and_reopen(tmp_path: Path) -> None:
    with shoal.Client(path=tmp_path) as client:
        client.create_collection("plain", m.VectorParams(size=DIM, distance="Cosine"))
        client.create_collection(
            "named",
            {
                "a": m.VectorParams(size=DIM, distance="Dot"),
                "b": m.VectorParams(size=2, distance="Euclid"),
            },
        )
        client.upsert(
            "plain",
            [
                m.PointStruct(id=1, vector=vec(1), payload={"k": 1, "o": {"x": [1, 2.5]}}),
                m.PointStruct(id=U1.upper(), vector=vec(2), payload={"s": "é"}),
                m.PointStruct(id=3, vector=vec(3)),  # no payload
                m.PointStruct(id=2**64 - 1, vector=vec(4), payload={"big": True}),
            ],
        )
        client.upsert(
            "named",
            [
                m.PointStruct(id=7, vector={"a": vec(7), "b": [1.0, 2.0]}, payload={"n": 7}),
                m.PointStruct(id=8, vector={"a": vec(8)}, payload={"n": 8}),  # "b" missing
            ],
        )
        client.set_payload("plain", {"k": 2}, [1])
        client.delete("plain", [3])
        client.create_payload_index("plain", "k", "integer")
        client.create_payload_index("named", "n", m.PayloadSchemaType.KEYWORD)
        before_plain = client.retrieve("plain", [1, U1, 2**64 - 1], with_vectors=True)
        before_named = client.retrieve("named", [7, 8], with_vectors=True)

    with shoal.Client(path=tmp_path) as client:
        names = sorted(c.name for c in client.get_collections().collections)
        assert names == ["named", "plain"]
        assert client.count("plain").count == 3
        assert client.count("named").count == 2
        after_plain = client.retrieve("plain", [1, U1, 2**64 - 1], with_vectors=True)
        after_named = client.retrieve("named", [7, 8], with_vectors=True)
        assert [r.model_dump() for r in after_plain] == [r.model_dump() for r in before_plain]
        assert [r.model_dump() for r in after_named] == [r.model_dump() for r in before_named]
        assert after_plain[0].payload == {"k": 2, "o": {"x": [1, 2.5]}}
        assert after_plain[1].id == U1 and after_plain[1].payload == {"s": "é"}
        assert client.retrieve("plain", [3]) == []
        assert after_named[1].vector == {"a": pytest.approx(vec(8))}
        # cosine vectors come back normalised, as stored
        norm = sum(x * x for x in after_plain[0].vector) ** 0.5  # type: ignore[union-attr]
        assert norm == pytest.approx(1.0)
        info = client.get_collection("plain")
        assert info.config.params.vectors == m.VectorParams(size=DIM, distance="Cosine")
        assert set(info.payload_schema) == {"k"}
        assert info.payload_schema["k"].data_type == m.PayloadSchemaType.INTEGER
        assert set(client.get_collection("named").payload_schema) == {"n"}
        # the reopened collection still takes writes and finds points
        client.upsert("plain", [m.PointStruct(id=9, vector=vec(9))])
        hits = client.query_points("plain", vec(9), limit=1).points
        assert hits[0].id == 9


def test_memory_does_not_persist() -> None:
    with shoal.Client(":memory:") as client:
        client.create_collection("c", m.VectorParams(size=DIM, distance="Dot"))
        client.upsert("c", [m.PointStruct(id=1, vector=vec(1))])
        with shoal.Client(":memory:") as other:  # another memory database: independent
            assert not other.collection_exists("c")
    with shoal.Client(":memory:") as client:
        assert client.get_collections().collections == []
    with shoal.Client() as client:  # the default location is memory too
        assert client.get_collections().collections == []


# ----------------------------------------------------------------------- (c) locking

_OPEN_IN_CHILD = textwrap.dedent(
    """
    import sys
    import shoal
    from shoal.errors import StorageLocked
    try:
        shoal.Client(path=sys.argv[1])
    except StorageLocked as exc:
        print("StorageLocked", exc)
    else:
        print("opened")
    """
)


def test_second_process_gets_storage_locked(tmp_path: Path) -> None:
    with shoal.Client(path=tmp_path) as client:
        client.create_collection("c", m.VectorParams(size=DIM, distance="Dot"))
        out = subprocess.run(
            [sys.executable, "-c", _OPEN_IN_CHILD, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert out.startswith("StorageLocked"), out
        assert "shoal serve" in out
        assert str(tmp_path) in out
        # the holder is unaffected
        client.upsert("c", [m.PointStruct(id=1, vector=vec(1))])
    # once closed, the path opens again (here, in another process)
    out = subprocess.run(
        [sys.executable, "-c", _OPEN_IN_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.strip() == "opened"


async def test_clients_in_one_process_share_a_folder(tmp_path: Path) -> None:
    # Within one process, clients naming the same folder share one engine (a sync and an
    # async client of one app); only another process is locked out.
    with shoal.Client(path=tmp_path) as first:
        first.create_collection("c", m.VectorParams(size=DIM, distance="Dot"))
        async with shoal.AsyncClient(path=tmp_path) as second:
            await second.upsert("c", [m.PointStruct(id=1, vector=vec(1))])
            assert first.count("c").count == 1
        # closing one client leaves the other working
        first.upsert("c", [m.PointStruct(id=2, vector=vec(2))])
        assert first.count("c").count == 2
    # the last close released the folder: a Database can lock it again
    Database(tmp_path).close()


# ---------------------------------------------------------------------- (d) wait=False


def test_wait_false_is_acknowledged_and_visible_after_next_wait_true(tmp_path: Path) -> None:
    with shoal.Client(path=tmp_path) as client:
        client.create_collection("c", m.VectorParams(size=DIM, distance="Dot"))
        r = client.upsert("c", [m.PointStruct(id=1, vector=vec(1), payload={"a": 1})], wait=False)
        assert r.status == m.UpdateStatus.ACKNOWLEDGED
        r = client.set_payload("c", {"b": 2}, [1], wait=False)
        assert r.status == m.UpdateStatus.ACKNOWLEDGED
        r = client.upsert("c", [m.PointStruct(id=2, vector=vec(2))], wait=True)
        assert r.status == m.UpdateStatus.COMPLETED
        recs = client.retrieve("c", [1, 2])
        assert [(x.id, x.payload) for x in recs] == [(1, {"a": 1, "b": 2}), (2, {})]


def test_wait_false_is_durable_after_close(tmp_path: Path) -> None:
    ids = [str(uuid.UUID(int=i + 1)) for i in range(20)]
    with shoal.Client(path=tmp_path) as client:
        client.create_collection("c", m.VectorParams(size=DIM, distance="Dot"))
        for i, pid in enumerate(ids):
            r = client.upsert(
                "c", [m.PointStruct(id=pid, vector=vec(i), payload={"i": i})], wait=False
            )
            assert r.status == m.UpdateStatus.ACKNOWLEDGED
        r = client.delete("c", [ids[0]], wait=False)
        assert r.status == m.UpdateStatus.ACKNOWLEDGED
    with shoal.Client(path=tmp_path) as client:
        assert client.count("c").count == 19
        recs = client.retrieve("c", ids, with_vectors=True)
        assert [r.id for r in recs] == ids[1:]
        assert [r.payload for r in recs] == [{"i": i} for i in range(1, 20)]
        assert recs[0].vector == pytest.approx(vec(1))


async def test_async_wait_false_then_close(tmp_path: Path) -> None:
    async with shoal.AsyncClient(path=tmp_path) as client:
        await client.create_collection("c", m.VectorParams(size=DIM, distance="Dot"))
        r = await client.upsert("c", [m.PointStruct(id=5, vector=vec(5))], wait=False)
        assert r.status == m.UpdateStatus.ACKNOWLEDGED
    async with shoal.AsyncClient(path=tmp_path) as client:
        assert [p.id for p in await client.retrieve("c", [5])] == [5]


# -------------------------------------------------------------- (e) delete_collection


def test_delete_collection_removes_its_folder(tmp_path: Path) -> None:
    collections = tmp_path / "collections"
    with shoal.Client(path=tmp_path) as client:
        client.create_collection("gone", m.VectorParams(size=DIM, distance="Dot"))
        client.create_collection("kept", m.VectorParams(size=DIM, distance="Dot"))
        client.upsert("gone", [m.PointStruct(id=1, vector=vec(1))])
        folders = {p.name for p in collections.iterdir()}
        assert len(folders) == 2
        assert client.delete_collection("gone") is True
        assert client.delete_collection("gone") is False
        left = {p.name for p in collections.iterdir()}
        assert len(left) == 1 and left < folders  # the folder itself is gone, nothing left over
        assert not client.collection_exists("gone")
    with shoal.Client(path=tmp_path) as client:
        assert [c.name for c in client.get_collections().collections] == ["kept"]
        assert not client.collection_exists("gone")
        # the name is free again, and the new collection starts empty
        client.create_collection("gone", m.VectorParams(size=DIM, distance="Dot"))
        assert client.count("gone").count == 0
