"""An index whose keys were mostly replaced is rebuilt beside the one queries use.

usearch replaces a key by removing and adding it, and the graph keeps the links the old
vector had; once ``ann.REBUILD_SHARE`` of the keys were replaced or removed, the indexer
builds a fresh index from the current vectors, queries meanwhile searching the old one,
and swaps it in. The rebuild is held at a gate (an event, not a sleep) to write and query
while it runs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ann_support import checked, make, vectors

from shoal import models as m
from shoal.engine import Collection, Database, ann
from shoal.index import HnswIndex

pytestmark = pytest.mark.usefixtures("one_insert_thread")

N = 2000  # above ann.REBUILD_MIN


def index_of(col: Collection) -> HnswIndex:
    searchable = col.ann.searchable_index("")
    assert searchable is not None
    return searchable.hnsw


def replace(col: Collection, current: dict[int, np.ndarray], ids: range, seed: int) -> None:
    """Give the points ``ids`` new vectors, in ``col`` and in the model ``current``."""
    new = vectors(len(ids), seed)
    col.upsert(m.Batch(ids=list(ids), vectors=new.tolist()))
    current.update(zip(ids, new, strict=True))


def assert_holds(col: Collection, expected: dict[int, np.ndarray]) -> None:
    """The index holds exactly the live points, each with its current vector."""
    index = index_of(col)
    st = col.state
    serials = np.array([st.serial[st.row(pid)] for pid in expected])
    assert sorted(index.keys().tolist()) == sorted(serials.tolist())
    want = np.stack([v / np.linalg.norm(v) for v in expected.values()])
    assert np.abs(index.vectors(serials) - want).max() < 2e-3


def test_a_fifth_of_the_keys_replaced_rebuilds_the_index() -> None:
    db = Database()
    col = make(db, N)
    current = dict(enumerate(vectors(N)))
    first = index_of(col)
    replace(col, current, range(0, 200), 1)
    assert col.wait_indexed(60)
    assert index_of(col) is first  # a tenth replaced: the same index
    replace(col, current, range(200, 450), 2)
    assert col.wait_indexed(60)
    rebuilt = index_of(col)
    assert rebuilt is not first  # 450 of 2000 replaced: a fresh one
    assert col.info().status == m.CollectionStatus.GREEN
    assert_holds(col, current)
    for seed in range(5):
        checked(col, min_recall=0.9, query=vectors(1, 100 + seed)[0].tolist(), limit=10)
    db.close()


def test_the_replaced_count_survives_a_restart(tmp_path: Path) -> None:
    db = Database(tmp_path)
    col = make(db, N)
    current = dict(enumerate(vectors(N)))
    replace(col, current, range(0, 300), 1)
    assert col.wait_indexed(60)
    db.close()
    db = Database(tmp_path)
    col = db.collection("c")
    assert col.wait_indexed(60)
    first = index_of(col)
    replace(col, current, range(300, 400), 2)  # 400 of 2000 over both runs: a fifth
    assert col.wait_indexed(60)
    assert index_of(col) is not first
    assert_holds(col, current)
    db.close()


def test_writes_and_queries_during_a_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    gate, reached = threading.Event(), threading.Event()
    real = ann.CollectionAnn._rebuilt

    def held(self: ann.CollectionAnn, va: Any, replaced: int) -> None:
        reached.set()
        assert gate.wait(60)
        real(self, va, replaced)

    db = Database()
    col = make(db, N)
    first = index_of(col)
    monkeypatch.setattr(ann.CollectionAnn, "_rebuilt", held)
    current = dict(enumerate(vectors(N)))
    replace(col, current, range(0, 500), 3)
    assert reached.wait(60)  # the fresh index took its first chunk, and waits
    assert col.info().status == m.CollectionStatus.YELLOW  # optimizing, as Qdrant says
    # Meanwhile writes land and queries see them (old index plus its backlog, exactly).
    moved = vectors(1, 50)[0]
    col.upsert([m.PointStruct(id=1999, vector=moved.tolist())])
    current[1999] = moved
    col.delete([1998])
    del current[1998]
    replace(col, current, range(1500, 1600), 4)
    found = checked(col, query=moved.tolist(), limit=5)
    assert found[0] == 1999 and 1998 not in found
    assert index_of(col) is first
    gate.set()
    assert col.wait_indexed(60)
    assert index_of(col) is not first
    assert_holds(col, current)  # the fresh index got the writes made while it was built
    found = checked(col, query=moved.tolist(), limit=5)
    assert found[0] == 1999 and 1998 not in found
    db.close()
