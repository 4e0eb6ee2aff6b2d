"""Writes show up in HNSW answers at once, and a query never comes back short.

The indexer is held with ``ann.paused()`` (a gate, not a sleep) so that writes sit in the
backlog: the answers must already reflect them (the backlog is scored exactly beside the
index, and stale index entries are mapped through the current state), which makes the
assertions made while paused exact. After ``wait_indexed`` the index itself has caught up.

Every index here is built with one usearch thread (``one_insert_thread`` in
``conftest.py``), so each graph depends on the data only: usearch 2.26's parallel ``add``
can leave nodes that no search reaches (unum-cloud/USearch#735).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from ann_support import DIM, EXACT, checked, ids, make, vectors

from shoal import models as m
from shoal.engine import Collection, Database
from shoal.index import HnswIndex

pytestmark = pytest.mark.usefixtures("one_insert_thread")


def test_deletes_and_updates_are_reflected_before_and_after_catch_up() -> None:
    db = Database()
    col = make(db)
    q = vectors(1, 99)[0]
    before = checked(col, query=q.tolist(), limit=10)
    with col.ann.paused():
        col.delete(before[:3])  # the three nearest go
        col.upsert([m.PointStruct(id=before[5], vector=(-q).tolist())])  # moved far away
        col.upsert([m.PointStruct(id=390, vector=q.tolist(), payload={"tag": "a"})])  # moved here
        col.upsert([m.PointStruct(id=1000, vector=(q + 0.01).tolist(), payload={"tag": "b"})])
        info = col.info()
        assert info.status == m.CollectionStatus.YELLOW
        assert info.indexed_vectors_count == 400  # the index still holds the old state
        during = checked(col, query=q.tolist(), limit=10)
        assert during[:2] == [390, 1000]
        assert not set(before[:3]) & set(during) and before[5] not in during
        assert checked(col, query=q.tolist(), limit=5, filter='tag == "b"')[0] == 1000
        assert col.ann.search_methods["hnsw"] >= 2 and col.ann.search_methods["fallback"] == 0
    assert col.wait_indexed(30)
    info = col.info()
    assert info.status == m.CollectionStatus.GREEN and info.indexed_vectors_count == 398
    after = checked(col, query=q.tolist(), limit=10)
    assert not set(before[:3]) & set(after) and before[5] not in after
    db.close()


def test_payload_only_updates_leave_the_index_alone() -> None:
    db = Database()
    col = make(db)
    seq = col.state.commit_seq
    col.set_payload(m.SetPayload(payload={"tag": "z"}, points=[1, 2, 3]))
    assert col.state.commit_seq == seq and col.ann.vectors[""].backlog() == 0
    q = vectors(1, 3)[0].tolist()
    assert sorted(checked(col, query=q, filter='tag == "z"', limit=10)) == [1, 2, 3]
    col.delete([1])
    assert col.state.commit_seq == seq + 1
    db.close()


def test_rows_reused_by_new_points_never_alias_old_index_entries() -> None:
    db = Database()
    col = make(db)
    q = vectors(1, 42)[0]
    near = checked(col, query=q.tolist(), limit=50)
    with col.ann.paused():
        col.delete(near)  # frees 50 rows...
        fresh = vectors(50, 43)
        col.upsert([m.PointStruct(id=5000 + i, vector=v.tolist()) for i, v in enumerate(fresh)])
        # ...which the new points take over, while the index still maps the old serials.
        got = checked(col, query=q.tolist(), limit=20)
        assert not set(got) & set(near)
        assert len({col.state.serial[col.state.row_of[5000 + i]] for i in range(50)}) == 50
    assert col.wait_indexed(30)
    assert not set(checked(col, query=q.tolist(), limit=20)) & set(near)
    db.close()


def make_named(db: Database, vs: np.ndarray) -> Collection:
    """A collection of one named vector "a" (Dot) holding ``vs``, indexed."""
    db.create_collection(
        "n",
        m.CreateCollection(
            vectors={"a": m.VectorParams(size=DIM, distance="Dot")},
            hnsw_config=m.HnswConfigDiff(full_scan_threshold=1),
        ),
    )
    col = db.collection("n")
    col.upsert([m.PointStruct(id=i, vector={"a": v.tolist()}) for i, v in enumerate(vs)])
    assert col.wait_indexed(30)
    return col


def answers(col: Collection, q: list[float]) -> set[Any]:
    """Ids of the HNSW answers on "a" for the 10 nearest and for every point (``checked``
    compares each with the exact search). A removed vector is zeroed in the matrix, so an
    index entry leaking it would score 0: only an answer that goes that far down shows it."""
    top = checked(col, query=q, using="a", limit=10)
    return set(top) | set(checked(col, query=q, using="a", limit=1000))


def test_a_removed_named_vector_is_never_returned_for_it() -> None:
    db = Database()
    vs = vectors(200, 5)
    col = make_named(db, vs)
    q = vs[7].tolist()
    assert ids(col, query=q, using="a", limit=3, params=EXACT)[0] == 7
    with col.ann.paused():
        col.upsert([m.PointStruct(id=7, vector={})])  # point 7 keeps existing, without "a"
        assert 7 not in answers(col, q)
    assert col.wait_indexed(30)
    assert 7 not in answers(col, q)
    assert col.info().indexed_vectors_count == 199
    db.close()


class _Gate:
    """Holds the indexer thread when it is about to add (or remove) ``serial``: ``reached``
    is set once it is held there, and it goes on when ``go`` is set."""

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.reached = threading.Event()
        self.go = threading.Event()

    def wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def gated(index: HnswIndex, rows: np.ndarray, *args: Any, **kwargs: Any) -> Any:
            if self.serial in np.asarray(rows).tolist() and not self.reached.is_set():
                self.reached.set()
                self.go.wait(60)
            return real(index, rows, *args, **kwargs)

        return gated


def test_a_vector_indexed_after_its_removal_committed_is_never_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The indexer copies a chunk's vectors under the state's read lock and adds them to the
    # index outside it, so a write can remove a vector in between: the index then takes the
    # vector after its removal was committed, and drops it only with the next chunk.
    db = Database()
    vs = vectors(200, 5)
    col = make_named(db, vs)
    q = vs[7]
    serial = int(col.state.serial[col.state.row_of[7]])
    adding, removing = _Gate(serial), _Gate(serial)
    monkeypatch.setattr(HnswIndex, "add", adding.wrap(HnswIndex.add))
    monkeypatch.setattr(HnswIndex, "remove", removing.wrap(HnswIndex.remove))
    index = col.ann.vectors["a"].index
    assert index is not None
    try:
        # 7 moves onto the query (it would come first by far); the indexer copies that...
        col.upsert([m.PointStruct(id=7, vector={"a": (10 * q).tolist()})])
        assert adding.reached.wait(30)  # ...and is held before adding it.
        col.upsert([m.PointStruct(id=7, vector={})])  # Meanwhile 7 loses "a".
        assert 7 not in answers(col, q.tolist())
        adding.go.set()  # The copied vector goes into the index after the removal...
        assert removing.reached.wait(30)  # ...and stays there until the next chunk.
        assert index.search(q, 1)[0][0, 0] == serial  # the index's nearest is the stale 7
        assert 7 not in answers(col, q.tolist())
        assert col.ann.search_methods["hnsw"] >= 4 and col.ann.search_methods["fallback"] == 0
    finally:
        adding.go.set()
        removing.go.set()
    assert col.wait_indexed(30)
    assert 7 not in answers(col, q.tolist())
    assert col.info().indexed_vectors_count == 199
    db.close()


def test_filtered_queries_return_every_match_up_to_the_limit() -> None:
    db = Database()
    col = make(db, 600)
    q = vectors(1, 8)[0].tolist()
    # 10% of the points carry "x": post-filtered HNSW, asked for more than there are.
    col.set_payload(m.SetPayload(payload={"tag": "x"}, points=list(range(0, 600, 10))))
    got = checked(col, query=q, filter='tag == "x"', limit=100)
    assert len(got) == 60 and col.ann.search_methods["hnsw"] >= 1
    # Same on a key without a payload index (the predicate decides lazily).
    got = checked(col, query=q, filter="i % 10 == 0", limit=100)
    assert len(got) == 60
    with col.ann.paused():  # the matches are in the backlog, not in the index
        new = vectors(80, 9)
        col.upsert(
            [
                m.PointStruct(id=900 + i, vector=v.tolist(), payload={"tag": "y"})
                for i, v in enumerate(new)
            ]
        )
        assert len(checked(col, query=q, filter='tag == "y"', limit=100)) == 80
        col.delete(list(range(900, 930)))
        assert len(checked(col, query=q, filter='tag == "y"', limit=100)) == 50
    db.close()


@pytest.mark.parametrize("flt", [None, 'tag == "a"', "i >= 100"])
def test_a_short_index_answer_falls_back_to_exact(
    flt: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database()
    col = make(db)
    q = vectors(1, 4)[0].tolist()
    want = ids(col, query=q, filter=flt, limit=20, params=EXACT)
    real = HnswIndex.search

    def broken(self: HnswIndex, queries: np.ndarray, k: int, ef: int | None = None) -> Any:
        # A graph that (say, after many deletes) reaches only a couple of nodes.
        rows, dists = real(self, queries, k, ef)
        rows[:, 2:], dists[:, 2:] = -1, np.inf
        return rows, dists

    monkeypatch.setattr(HnswIndex, "search", broken)
    col.ann.search_methods.clear()
    assert ids(col, query=q, filter=flt, limit=20) == want
    assert col.ann.search_methods == {"hnsw": 1, "fallback": 1}
    db.close()
