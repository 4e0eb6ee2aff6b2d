"""The write queue is bounded: past it an embedded wait=false writer waits for room and the
server answers 429 (``Overloaded``); nothing is dropped either way."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from threaded_server import serve_in_thread

from shoal import Client, errors, models
from shoal.engine import Collection, Database
from shoal.engine import writes as engine_writes
from shoal.engine.writes import GroupCommitter

BOUND = 3


class ParkedCommit:
    """Holds the first commit of the flusher inside ``_persist`` until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        persist = GroupCommitter._persist

        def parked(committer: GroupCommitter, overlay: dict[Any, Any]) -> int:
            if not self.inside.is_set():
                self.inside.set()
                assert self.release.wait(30)
            return persist(committer, overlay)

        monkeypatch.setattr(GroupCommitter, "_persist", parked)


class WaitSpy(threading.Condition):
    """A condition that tells when a thread starts waiting on it."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def point(i: int) -> models.PointStruct:
    return models.PointStruct(id=i, vector=[1.0, float(i)])


@pytest.fixture
def collection(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Database, Collection]]:
    monkeypatch.setattr(engine_writes, "MAX_QUEUED", BOUND)
    db = Database(None)
    db.create_collection(
        "c", models.CreateCollection(vectors=models.VectorParams(size=2, distance="Dot"))
    )
    yield db, db.collection("c")
    db.close()


def fill_queue(col: Collection, parked: ParkedCommit) -> None:
    """One write parked in the flusher's commit, BOUND more waiting behind it."""
    col.upsert([point(0)], wait=False)
    assert parked.inside.wait(30)
    for i in range(1, BOUND + 1):
        col.upsert([point(i)], wait=False)


def test_an_embedded_wait_false_writer_waits_for_room(
    collection: tuple[Database, Collection], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, col = collection
    parked = ParkedCommit(monkeypatch)
    spy = WaitSpy(col.writer._queue_lock)
    col.writer._room = spy
    fill_queue(col, parked)
    returned = threading.Event()

    def one_more() -> None:
        col.upsert([point(99)], wait=False)
        returned.set()

    writer = threading.Thread(target=one_more)
    writer.start()
    assert spy.waiting.wait(30)  # the writer is held back: the queue is full
    assert not returned.is_set()
    parked.release.set()
    writer.join(30)
    assert returned.is_set()
    col.upsert([point(100)])  # wait=True: commits everything queued before it
    assert len(col.state) == BOUND + 3


def test_the_server_answers_429_when_the_queue_is_full(
    collection: tuple[Database, Collection], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, col = collection
    parked = ParkedCommit(monkeypatch)
    fill_queue(col, parked)
    with serve_in_thread(db) as url:
        raw = httpx.put(
            f"{url}/collections/c/points", json={"points": [{"id": 7, "vector": [1, 2]}]}
        )
        assert raw.status_code == 429
        assert "Too many requests" in raw.json()["status"]["error"]
        with Client(url) as client, pytest.raises(errors.Overloaded):
            client.upsert("c", [point(8)], wait=False)
        parked.release.set()
        with Client(url) as client:
            client.upsert("c", [point(9)], wait=True)
            ids = sorted(r.id for r in client.scroll("c", limit=100)[0])
    assert ids == [*range(BOUND + 1), 9]  # the refused writes were not applied
