"""No container the cyclic garbage collector walks grows with the number of points.

Every full collection walks every tracked container element by element while no thread of
the process (the event loop included) runs. The engine keeps its per-row data (ids,
payloads, sparse vectors) where the collector does not look (numpy arrays, untracked
dicts), so a full collection costs the same with 100 points or with a million.
"""

from __future__ import annotations

import gc
from collections.abc import Sized
from pathlib import Path

import numpy as np
import pytest

from shoal import Client
from shoal import models as m

N = 6000


@pytest.mark.parametrize("where", ["memory", "path"])
def test_a_collection_adds_no_container_the_collector_walks_per_point(
    tmp_path: Path, where: str
) -> None:
    before = {id(o) for o in _walked_big()}  # the test runner's own (its node ids...)
    client = Client(":memory:") if where == "memory" else Client(path=tmp_path)
    client.create_collection(
        "c",
        vectors_config={"d": m.VectorParams(size=4, distance="Cosine")},
        sparse_vectors_config={"s": m.SparseVectorParams(modifier=m.Modifier.IDF)},
        # No HNSW graph: the per-row data only (the index's queue: the test below).
        hnsw_config=m.HnswConfigDiff(m=0),
    )
    vectors = np.random.default_rng(0).uniform(-1, 1, (N, 4)).tolist()
    for start in range(0, N, 1000):
        client.upsert(
            "c",
            [
                m.PointStruct(
                    id=i if i % 2 else f"00000000-0000-0000-0000-{i:012d}",
                    vector={"d": vectors[i], "s": m.SparseVector(indices=[i % 7], values=[1.0])},
                    payload={"n": i, "tags": ["a", str(i)], "nested": {"k": i}},
                )
                for i in range(start, start + 1000)
            ],
        )
    del vectors  # the test's own list
    assert client.count("c").count == N
    assert _new_walked(before) == []  # written: the sparse column's changed rows are many
    if where == "path":  # reopened: every row loaded from storage
        client.close()
        client = Client(path=tmp_path)
        assert _new_walked(before) == []
    # A sparse query builds the inverted index, a filter the predicate's memo.
    client.query_points("c", m.SparseVector(indices=[3], values=[1.0]), using="s", limit=5)
    client.scroll("c", m.Filter(must=[m.FieldCondition(key="n", range=m.Range(gte=10))]))
    assert _new_walked(before) == []
    client.close()


def test_an_index_backlog_adds_no_container_the_collector_walks() -> None:
    before = {id(o) for o in _walked_big()}
    client = Client(":memory:")
    client.create_collection(
        "c",
        vectors_config=m.VectorParams(size=4, distance="Cosine"),
        hnsw_config=m.HnswConfigDiff(full_scan_threshold=1),  # an index at any size
    )
    col = client._transport.database().collection("c")  # type: ignore[union-attr]
    with col.ann.paused():  # the indexer takes nothing: every point stays queued
        rows = np.random.default_rng(1).uniform(-1, 1, (N, 4))
        client.upsert("c", m.Batch(ids=list(range(N)), vectors=rows.tolist()))
        del rows
        assert col.ann.vectors[""].backlog() == N
        assert _new_walked(before) == []
    client.close()


def _new_walked(before: set[int]) -> list[tuple[str, int]]:
    gc.collect()
    return [(type(o).__name__, len(o)) for o in _walked_big() if id(o) not in before]


def _walked_big() -> list[Sized]:
    """The tracked containers of at least N / 2 items (the ones a full collection walks)."""
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, (list, dict, set, tuple, frozenset)) and len(o) >= N // 2
    ]
