"""``has_vector`` filter conditions (dense and sparse vectors, in must / must_not / should,
beside payload conditions) select the points qdrant-client's local mode selects, in scroll,
count and query, before and after vectors are deleted, over the embedded engine,
in-process ASGI and a real socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from transports import TRANSPORTS, shoal_client

from shoal import errors


def has(name: str) -> qm.HasVectorCondition:
    return qm.HasVectorCondition(has_vector=name)


def points() -> list[qm.PointStruct]:
    out = []
    for i in range(30):
        vector: dict[str, Any] = {}
        if i % 2:
            vector["a"] = [1.0, float(i)]
        if i % 3:
            vector["b"] = [float(i), 1.0]
        if i % 5:
            vector["s"] = qm.SparseVector(indices=[i % 4, 9], values=[1.0, 0.5])
        out.append(qm.PointStruct(id=i, vector=vector, payload={"g": i % 2}))
    return out


FILTERS = [
    qm.Filter(must=[has("a")]),
    qm.Filter(must=[has("s")]),
    qm.Filter(must_not=[has("b")]),
    qm.Filter(
        should=[has("a"), has("s")], must=[qm.FieldCondition(key="g", match=qm.MatchValue(value=1))]
    ),
    qm.Filter(must=[qm.Filter(must_not=[has("a"), has("s")])]),
]


def selected(client: Any, flt: qm.Filter) -> tuple[list[Any], int, list[Any]]:
    scrolled = sorted(p.id for p in client.scroll("c", scroll_filter=flt, limit=100)[0])
    counted = client.count("c", count_filter=flt).count
    found = client.query_points("c", query=[1.0, 1.0], using="b", query_filter=flt, limit=100)
    return scrolled, counted, sorted(p.id for p in found.points)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_has_vector_agrees_with_local_mode(transport: str, tmp_path: Path) -> None:
    theirs = QdrantClient(":memory:")
    with shoal_client(transport, tmp_path) as ours:
        for client in (theirs, ours):
            client.create_collection(
                "c",
                vectors_config={
                    "a": qm.VectorParams(size=2, distance=qm.Distance.DOT),
                    "b": qm.VectorParams(size=2, distance=qm.Distance.DOT),
                },
                sparse_vectors_config={"s": qm.SparseVectorParams()},
            )
            client.upsert("c", points())
        for when in ("fresh", "after delete_vectors"):
            for flt in FILTERS:
                assert selected(ours, flt) == selected(theirs, flt), (when, flt)
            for client in (theirs, ours):
                client.delete_vectors("c", vectors=["a", "s"], points=[1, 3, 7, 11])
        with pytest.raises(errors.InvalidFilter, match=r"has_vector.*'zz'"):
            ours.count("c", count_filter=qm.Filter(must=[has("zz")]))
    theirs.close()
