"""Conditional writes, as in qdrant-client's local mode (which follows Qdrant's server):
``upsert`` with ``update_mode`` (``insert_only``, ``update_only``) and ``update_filter``
(an existing point is replaced only if it matches; new points are inserted), and
``update_vectors`` with ``update_filter``; over the embedded engine, in-process ASGI and a
real socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from transports import TRANSPORTS, shoal_client

G0 = qm.Filter(must=[qm.FieldCondition(key="g", match=qm.MatchValue(value=0))])


def state(client: Any) -> list[tuple[Any, ...]]:
    records = client.scroll("c", limit=100, with_vectors=True)[0]
    return sorted((r.id, r.payload["v"], tuple(r.vector)) for r in records)


def point(i: int, version: int) -> qm.PointStruct:
    return qm.PointStruct(
        id=i, vector=[float(version), float(i)], payload={"g": i % 2, "v": version}
    )


STEPS: list[tuple[str, dict[str, Any]]] = [
    ("upsert", {"points": [point(i, 1) for i in range(6)]}),
    (
        "upsert",
        {"points": [point(i, 2) for i in range(4, 9)], "update_mode": qm.UpdateMode.INSERT_ONLY},
    ),
    (
        "upsert",
        {"points": [point(i, 3) for i in (0, 1, 20)], "update_mode": qm.UpdateMode.UPDATE_ONLY},
    ),
    ("upsert", {"points": [point(i, 4) for i in (2, 3, 30)], "update_filter": G0}),
    (
        "upsert",
        {
            "points": [point(i, 5) for i in (4, 5, 40)],
            "update_filter": G0,
            "update_mode": qm.UpdateMode.UPDATE_ONLY,
        },
    ),
    (
        "update_vectors",
        {
            "points": [qm.PointVectors(id=i, vector=[9.0, 9.0]) for i in (0, 1, 2)],
            "update_filter": G0,
        },
    ),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_conditional_writes_agree_with_local_mode(transport: str, tmp_path: Path) -> None:
    theirs = QdrantClient(":memory:")
    with shoal_client(transport, tmp_path) as ours:
        for client in (theirs, ours):
            client.create_collection("c", qm.VectorParams(size=2, distance=qm.Distance.DOT))
        for method, kwargs in STEPS:
            for client in (theirs, ours):
                getattr(client, method)("c", **kwargs)
            assert state(ours) == state(theirs), (method, kwargs)
    theirs.close()
