"""update_vectors and delete_vectors change only the named vectors, as qdrant-client's local
mode does: the other vectors and the payload stay, searches see the change, a missing point
fails the whole update, and the typed batch operations do the same."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from transports import shoal_client

from shoal import errors
from shoal import models as m

DIM = 3


def fill(client: Any, params: Any, point: Any) -> None:
    rng = np.random.default_rng(5)
    client.create_collection(
        "c", {"a": params(size=DIM, distance="Cosine"), "b": params(size=DIM, distance="Dot")}
    )
    client.upsert(
        "c",
        [
            point(
                id=i,
                vector={"a": rng.random(DIM).round(2).tolist(), "b": [float(i), 1.0, 0.0]},
                payload={"i": i},
            )
            for i in range(8)
        ],
    )


def state(client: Any) -> list[tuple[Any, ...]]:
    records = client.retrieve("c", list(range(8)), with_vectors=True, with_payload=True)
    return [
        (r.id, r.payload, {k: np.round(v, 4).tolist() for k, v in (r.vector or {}).items()})
        for r in sorted(records, key=lambda r: r.id)
    ]


@pytest.fixture(params=["embedded", "socket"])
def ours(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    with shoal_client(request.param, tmp_path) as client:
        yield client


def test_vector_updates_agree_with_local_mode(ours: Any) -> None:
    theirs = QdrantClient(":memory:")
    fill(theirs, qm.VectorParams, qm.PointStruct)
    fill(ours, m.VectorParams, m.PointStruct)
    late = qm.Filter(must=[qm.FieldCondition(key="i", range=qm.Range(gte=6))])
    steps = [
        ("update_vectors", {"points": [qm.PointVectors(id=2, vector={"b": [9.0, 9.0, 9.0]})]}),
        ("delete_vectors", {"vectors": ["a"], "points": [1, 3]}),
        ("delete_vectors", {"vectors": ["b"], "points": late}),
        ("update_vectors", {"points": [qm.PointVectors(id=1, vector={"a": [1.0, 0.0, 0.0]})]}),
    ]
    for method, kwargs in steps:
        getattr(theirs, method)("c", **kwargs)
        getattr(ours, method)("c", **kwargs)
        assert state(ours) == state(theirs), method
    for using in ("a", "b"):
        want = theirs.query_points("c", query=[1.0, 0.5, 0.0], using=using, limit=8).points
        got = ours.query_points("c", query=[1.0, 0.5, 0.0], using=using, limit=8).points
        assert [p.id for p in got] == [p.id for p in want]
    theirs.close()


def test_a_missing_point_fails_the_whole_update(ours: Any) -> None:
    fill(ours, m.VectorParams, m.PointStruct)
    before = state(ours)
    update = [
        m.PointVectors(id=0, vector={"a": [0.0, 1.0, 0.0]}),
        m.PointVectors(id=42, vector={"a": [1.0, 0.0, 0.0]}),
    ]
    with pytest.raises(errors.PointNotFound, match="42"):
        ours.update_vectors("c", update)
    with pytest.raises(errors.WrongVectorSize):
        ours.update_vectors("c", [m.PointVectors(id=0, vector={"a": [1.0]})])
    with pytest.raises(errors.InvalidQuery, match="Not existing vector name"):
        ours.delete_vectors("c", ["zz"], [0])
    with pytest.raises(errors.PointNotFound, match="99"):
        ours.delete_vectors("c", ["a"], [0, 99])
    assert state(ours) == before


def test_batch_operations_carry_vector_changes(ours: Any) -> None:
    fill(ours, m.VectorParams, m.PointStruct)
    new_b = m.UpdateVectors(points=[m.PointVectors(id=4, vector={"b": [5.0, 5.0, 5.0]})])
    both = m.DeleteVectors(points=[5], vector=["a", "b"])
    ours.batch_update_points(
        "c",
        [
            m.UpdateVectorsOperation(update_vectors=new_b),
            m.DeleteVectorsOperation(delete_vectors=both),
        ],
    )
    got = {r.id: r.vector for r in ours.retrieve("c", [4, 5], with_vectors=True)}
    assert got[4]["b"] == [5.0, 5.0, 5.0] and "a" in got[4]
    assert not got[5]  # no vector left
