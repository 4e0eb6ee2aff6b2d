"""create_vector_name and delete_vector_name as qdrant-client's local mode does them: a new
dense or sparse vector on an existing collection (existing points lack it, later writes may
give it, queries on it find only the points that have it), an unnamed collection becoming a
named one, a deleted vector gone from the configuration, the points and the queries; on
every transport, in memory and in a folder, and across a reopen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from transports import TRANSPORTS, shoal_client

from shoal import Client, errors
from shoal import models as m
from shoal.engine import Database

DENSE_B = qm.DenseVectorNameConfig(dense=qm.DenseVectorConfig(size=2, distance=qm.Distance.DOT))
SPARSE_S = qm.SparseVectorNameConfig(sparse=qm.SparseVectorConfig(modifier=qm.Modifier.IDF))


@pytest.fixture(params=[*TRANSPORTS, "memory"])
def ours(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        with Client(":memory:") as client:
            yield client
        return
    with shoal_client(request.param, tmp_path) as client:
        yield client


def fill(client: Any, vectors: Any, n: int = 6) -> None:
    rng = np.random.default_rng(3)
    client.create_collection("c", vectors)
    named = isinstance(vectors, dict)
    points = []
    for i in range(n):
        vec = rng.random(3).round(2).tolist()
        points.append(qm.PointStruct(id=i, vector={"a": vec} if named else vec, payload={"i": i}))
    client.upsert("c", points)


def state(client: Any) -> list[tuple[Any, ...]]:
    records = client.scroll("c", limit=100, with_vectors=True)[0]
    return [(r.id, r.payload, shown(r.vector)) for r in records]


def shown(vector: Any) -> Any:
    if isinstance(vector, list):
        return np.round(vector, 4).tolist()
    return {
        k: (v.indices, np.round(v.values, 4).tolist()) if hasattr(v, "indices") else shown(v)
        for k, v in vector.items()
    }


def params(client: Any) -> tuple[Any, Any]:
    p = client.get_collection("c").config.params
    vectors = p.vectors if isinstance(p.vectors, dict) else {"(unnamed)": p.vectors}
    dense = {k: (v.size, v.distance.value) for k, v in vectors.items()}
    sparse = {
        k: (v.modifier or qm.Modifier.NONE).value for k, v in (p.sparse_vectors or {}).items()
    }
    return dense, sparse


def ids(client: Any, query: Any, using: str) -> list[Any]:
    return [p.id for p in client.query_points("c", query=query, using=using, limit=10).points]


def both(theirs: Any, ours: Any, method: str, *args: Any, **kwargs: Any) -> None:
    getattr(theirs, method)("c", *args, **kwargs)
    result = getattr(ours, method)("c", *args, **kwargs)
    assert result.status == "completed", method


def test_a_new_vector_and_its_removal_agree_with_local_mode(ours: Any) -> None:
    theirs = QdrantClient(":memory:")
    for client in (theirs, ours):
        fill(client, {"a": qm.VectorParams(size=3, distance=qm.Distance.COSINE)})
    both(theirs, ours, "create_vector_name", "b", DENSE_B)
    both(theirs, ours, "create_vector_name", "s", SPARSE_S)
    assert params(ours) == params(theirs)
    assert params(ours) == ({"a": (3, "Cosine"), "b": (2, "Dot")}, {"s": "idf"})
    assert state(ours) == state(theirs)  # the old points have neither
    assert ids(ours, [1.0, 1.0], "b") == ids(theirs, [1.0, 1.0], "b") == []
    late = [
        qm.PointStruct(
            id=10 + i,
            vector={"a": [1.0, 0.0, float(i)], "b": [float(i), 1.0]}
            | {"s": qm.SparseVector(indices=[i, 7], values=[1.0, 0.5 + i / 10])},
        )
        for i in range(3)
    ]
    both(theirs, ours, "upsert", late)
    update = [qm.PointVectors(id=2, vector={"b": [5.0, 5.0]})]
    both(theirs, ours, "update_vectors", update)
    assert state(ours) == state(theirs)
    assert ids(ours, [1.0, 0.5], "b") == ids(theirs, [1.0, 0.5], "b") == [2, 12, 11, 10]
    sparse_query = qm.SparseVector(indices=[1, 7], values=[1.0, 1.0])
    assert ids(ours, sparse_query, "s") == ids(theirs, sparse_query, "s")
    both(theirs, ours, "create_vector_name", "b", DENSE_B)  # the same again: no change
    both(theirs, ours, "delete_vector_name", "b")
    both(theirs, ours, "delete_vector_name", "never")  # no such vector: no change
    assert params(ours) == params(theirs) == ({"a": (3, "Cosine")}, {"s": "idf"})
    assert state(ours) == state(theirs)
    with pytest.raises(ValueError, match="b"):
        theirs.query_points("c", query=[1.0, 0.5], using="b")
    with pytest.raises(errors.InvalidQuery, match="'b'"):
        ours.query_points("c", query=[1.0, 0.5], using="b")
    theirs.close()


MULTI_M = qm.DenseVectorNameConfig(
    dense=qm.DenseVectorConfig(
        size=2,
        distance=qm.Distance.DOT,
        multivector_config=qm.MultiVectorConfig(comparator=qm.MultiVectorComparator.MAX_SIM),
    )
)


def test_a_new_multivector_and_its_removal_agree_with_local_mode(ours: Any) -> None:
    theirs = QdrantClient(":memory:")
    for client in (theirs, ours):
        fill(client, {"a": qm.VectorParams(size=3, distance=qm.Distance.COSINE)})
    both(theirs, ours, "create_vector_name", "m", MULTI_M)
    assert params(ours) == params(theirs)
    assert state(ours) == state(theirs)  # the old points lack it
    multi = [[1.0, 0.0], [0.25, 0.5]]
    both(theirs, ours, "update_vectors", [qm.PointVectors(id=1, vector={"m": multi})])
    late = [qm.PointStruct(id=7, vector={"a": [0.0, 1.0, 0.0], "m": [[0.5, 0.5]]})]
    both(theirs, ours, "upsert", late)
    assert state(ours) == state(theirs)
    assert ids(ours, [[1.0, 0.2]], "m") == ids(theirs, [[1.0, 0.2]], "m") == [1, 7]
    both(theirs, ours, "delete_vector_name", "a")  # the multivector's data stays
    assert params(ours) == params(theirs)
    assert state(ours) == state(theirs)
    assert ids(ours, [[1.0, 0.2]], "m") == [1, 7]
    theirs.close()


def test_an_unnamed_collection_becomes_a_named_one(ours: Any) -> None:
    theirs = QdrantClient(":memory:")
    for client in (theirs, ours):
        fill(client, qm.VectorParams(size=3, distance=qm.Distance.DOT))
    both(theirs, ours, "create_vector_name", "b", DENSE_B)
    assert params(ours) == params(theirs) == ({"": (3, "Dot"), "b": (2, "Dot")}, {})
    both(theirs, ours, "upsert", [qm.PointStruct(id=9, vector={"": [1.0, 0.0, 0.0], "b": [1, 2]})])
    assert state(ours) == state(theirs)  # a point with only "" shows it as a bare list
    with pytest.raises(ValueError, match="named"):
        theirs.upsert("c", [qm.PointStruct(id=20, vector=[1.0, 0.0, 0.0])])
    with pytest.raises(errors.InvalidVector, match="named"):
        ours.upsert("c", [qm.PointStruct(id=20, vector=[1.0, 0.0, 0.0])])
    assert ids(ours, [1.0, 0.0, 0.0], "") == ids(theirs, [1.0, 0.0, 0.0], "")
    theirs.close()


def test_the_unnamed_vector_of_an_unnamed_collection_is_not_deleted() -> None:
    theirs = QdrantClient(":memory:")
    with Client(":memory:") as ours:
        for client in (theirs, ours):
            fill(client, qm.VectorParams(size=3, distance=qm.Distance.DOT))
        with pytest.raises(ValueError, match="unnamed"):
            theirs.delete_vector_name("c", "")
        # An empty name cannot be a server's URL path segment: refused by every transport.
        with pytest.raises(errors.InvalidConfig, match="vector_name"):
            ours.delete_vector_name("c", "")
        db = ours._transport.database()  # type: ignore[union-attr]
        with pytest.raises(errors.InvalidConfig, match="unnamed vector"):
            db.delete_vector_name("c", "")
        assert params(ours) == params(theirs)
    theirs.close()


@pytest.mark.parametrize(
    ("name", "config", "error", "named"),
    [
        ("b", qm.DenseVectorConfig(size=3, distance=qm.Distance.DOT), errors.InvalidConfig, "'b'"),
        ("s", qm.DenseVectorConfig(size=2, distance=qm.Distance.DOT), errors.InvalidConfig, "'s'"),
        ("b", qm.SparseVectorConfig(), errors.InvalidConfig, "'b'"),
        ("s", qm.SparseVectorConfig(modifier=qm.Modifier.NONE), errors.InvalidConfig, "'s'"),
        ("x:y", qm.SparseVectorConfig(), errors.InvalidConfig, "':'"),
        ("a/b", qm.SparseVectorConfig(), errors.InvalidConfig, "a/b"),
        ("x" * 201, qm.SparseVectorConfig(), errors.InvalidConfig, "201 bytes"),
        ("..", qm.SparseVectorConfig(), errors.InvalidConfig, "'..'"),
        ("z", qm.DenseVectorConfig(size=0, distance=qm.Distance.DOT), errors.InvalidConfig, "0"),
        (
            "z",
            qm.DenseVectorConfig(size=2, distance=qm.Distance.DOT, datatype=qm.Datatype.FLOAT16),
            errors.NotSupported,
            "vectors.z.datatype",
        ),
        (
            "z",
            qm.SparseVectorConfig(datatype=qm.Datatype.UINT8),
            errors.NotSupported,
            "sparse_vectors.z.index.datatype",
        ),
    ],
)
def test_a_refused_vector_names_the_value_and_changes_nothing(
    ours: Any, name: str, config: Any, error: type[Exception], named: str
) -> None:
    fill(ours, {"a": qm.VectorParams(size=3, distance=qm.Distance.COSINE)})
    ours.create_vector_name("c", "b", DENSE_B)
    ours.create_vector_name("c", "s", SPARSE_S)
    before = (params(ours), state(ours))
    spec: Any = (
        qm.DenseVectorNameConfig(dense=config)
        if isinstance(config, qm.DenseVectorConfig)
        else qm.SparseVectorNameConfig(sparse=config)
    )
    with pytest.raises(error) as caught:
        ours.create_vector_name("c", name, spec)
    assert named in str(caught.value)
    assert (params(ours), state(ours)) == before


@pytest.mark.parametrize("method", ["create_vector_name", "delete_vector_name"])
def test_a_missing_collection_is_not_found(ours: Any, method: str) -> None:
    args = ("b", DENSE_B) if method == "create_vector_name" else ("b",)
    with pytest.raises(errors.CollectionNotFound, match="nope"):
        getattr(ours, method)("nope", *args)


def test_a_config_of_no_kind_is_refused(ours: Any) -> None:
    fill(ours, {"a": qm.VectorParams(size=3, distance=qm.Distance.COSINE)})
    with pytest.raises(errors.InvalidConfig, match="vector_name_config"):
        ours.create_vector_name("c", "b", {"size": 2, "distance": "Dot"})
    with pytest.raises(errors.InvalidConfig, match="distance"):
        ours.create_vector_name("c", "b", {"dense": {"size": 2, "distance": "Far"}})


def b_vectors(n: int) -> list[qm.PointVectors]:
    """Vector "b" for points 0..n-1: enough of them (n >= 128) for an index."""
    return [qm.PointVectors(id=i, vector={"b": [1.0, i / n]}) for i in range(n)]


def test_the_change_survives_a_reopen_and_the_new_vector_gets_an_index(tmp_path: Path) -> None:
    with Client(path=tmp_path) as client:
        fill(client, {"a": qm.VectorParams(size=3, distance=qm.Distance.COSINE)}, n=200)
        client.update_collection("c", hnsw_config=qm.HnswConfigDiff(full_scan_threshold=1))
        client.create_vector_name("c", "b", DENSE_B)
        client.create_vector_name("c", "gone", SPARSE_S)
        client.update_vectors("c", b_vectors(150))
        sparse = qm.SparseVector(indices=[1], values=[1.0])
        client.update_vectors("c", [qm.PointVectors(id=199, vector={"gone": sparse})])
        client.delete_vector_name("c", "gone")
        before = state(client)
    db = Database(tmp_path)
    try:
        col = db.collection("c")
        assert col.wait_indexed(timeout=60)
        assert sorted(col.ann.vectors) == ["a", "b"]
        assert col.ann.indexed_vectors() == 200 + 150
        assert col.config.sparse_vectors is None
    finally:
        db.close()
    with Client(path=tmp_path) as client:
        assert state(client) == before
        assert ids(client, [1.0, 1.0], "b")[:2] == [149, 148]


def test_a_deleted_vector_leaves_no_index_snapshot(tmp_path: Path) -> None:
    with Client(path=tmp_path) as client:
        fill(client, {"a": qm.VectorParams(size=3, distance=qm.Distance.COSINE)}, n=200)
        client.create_vector_name("c", "b", DENSE_B)
        client.update_collection("c", hnsw_config=qm.HnswConfigDiff(full_scan_threshold=1))
        client.update_vectors("c", b_vectors(150))
        db = client._transport.database()  # type: ignore[union-attr]
        assert db.collection("c").wait_indexed(timeout=60)
    folder = next((tmp_path / "collections").iterdir())
    assert (folder / "index-b.usearch").exists()  # a finished build is snapshotted
    with Client(path=tmp_path) as client:
        client.delete_vector_name("c", "b")
        assert not list(folder.glob("index-b.*"))
        # The same name again, with another distance: starts empty, indexes anew.
        again = qm.DenseVectorNameConfig(dense=qm.DenseVectorConfig(size=2, distance="Euclid"))
        client.create_vector_name("c", "b", again)
        client.update_vectors("c", [qm.PointVectors(id=4, vector={"b": [0.0, 1.0]})])
        hits = client.query_points("c", query=[0.0, 1.0], using="b").points
        assert [(p.id, p.score) for p in hits] == [(4, 0.0)]


@pytest.mark.parametrize("change", ["create_vector_name", "delete_collection"])
def test_a_write_to_a_replaced_collection_is_refused_not_lost(change: str) -> None:
    db = Database()
    try:
        db.create_collection(
            "c", m.CreateCollection(vectors={"a": m.VectorParams(size=2, distance="Dot")})
        )
        old = db.collection("c")  # what a call in flight holds while the change is made
        if change == "create_vector_name":
            db.create_vector_name(
                "c", "b", m.DenseVectorNameConfig(dense=m.DenseVectorConfig(size=2, distance="Dot"))
            )
        else:
            db.delete_collection("c")
        with pytest.raises(errors.WriteNotStored, match="closed"):
            old.upsert([m.PointStruct(id=1, vector={"a": [1.0, 0.0]})])
        if change == "create_vector_name":
            assert db.collection("c").count(m.CountRequest()).count == 0
    finally:
        db.close()
