"""Bad sparse input gets a typed error naming the problem (a 4xx on the server), and a
rejected write changes nothing; unsorted indices are sorted, as Qdrant's server does; a
``Document`` is embedded with ``qdrant/bm25`` exactly as ``shoal.embeddings.BM25`` embeds
it, and any other model is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from transports import shoal_client

from shoal import Client, errors
from shoal import models as m
from shoal.embeddings import BM25
from shoal.engine import Database
from shoal.server import ServerConfig, create_app

GOOD = m.SparseVector(indices=[1, 2], values=[0.5, 1.0])


def create(client: Client) -> None:
    client.create_collection(
        "c",
        vectors_config={"d": m.VectorParams(size=2, distance="Dot")},
        sparse_vectors_config={"s": m.SparseVectorParams(modifier=m.Modifier.IDF)},
    )
    client.upsert("c", [m.PointStruct(id=1, vector={"d": [1.0, 0.0], "s": GOOD})])


def state(client: Client) -> list[Any]:
    return [(r.id, r.vector) for r in client.scroll("c", with_vectors=True, limit=100)[0]]


BAD_POINTS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"zz": {"indices": [1], "values": [1.0]}}, errors.InvalidVector, "Not existing vector name"),
    ({"s": {"indices": [3, 3], "values": [1.0, 2.0]}}, errors.InvalidVector, "repeats the index 3"),
    ({"s": {"indices": [-1], "values": [1.0]}}, errors.InvalidVector, "index -1"),
    ({"s": {"indices": [2**32], "values": [1.0]}}, errors.InvalidVector, "index 4294967296"),
    ({"s": {"indices": [1, 2], "values": [1.0]}}, errors.InvalidVector, "2 indices but 1 values"),
    ({"s": {"indices": [1], "values": [float("nan")]}}, errors.InvalidVector, "nan"),
    ({"s": {"indices": [1], "values": [1e39]}}, errors.InvalidVector, "finite float32"),
    ({"s": [1.0, 2.0]}, errors.BadRequest, "s"),  # a dense vector for a sparse name
    ({"d": {"indices": [1], "values": [1.0]}}, errors.InvalidVector, "vector `d`"),
    (
        {"s": {"text": "hello", "model": "bert-base"}},
        errors.NotSupported,
        "inference model 'bert-base' is not supported",
    ),
    ({"d": {"text": "hello", "model": "qdrant/bm25"}}, errors.NotSupported, "dense vector 'd'"),
]


@pytest.mark.parametrize("transport", ["embedded", "asgi"])
@pytest.mark.parametrize(("vector", "error", "needle"), BAD_POINTS)
def test_a_bad_point_is_named_and_its_batch_not_written(
    transport: str, tmp_path: Path, vector: dict[str, Any], error: type[Exception], needle: str
) -> None:
    with shoal_client(transport, tmp_path) as client:
        create(client)
        before = state(client)
        good = {"id": 2, "vector": {"d": [0.0, 1.0], "s": GOOD}}
        with pytest.raises(error, match=needle):
            client.upsert("c", [good, {"id": 3, "vector": vector}])  # type: ignore[list-item]
        with pytest.raises(error, match=needle):
            client.update_vectors("c", [{"id": 1, "vector": vector}])  # type: ignore[list-item]
        assert state(client) == before


BAD_QUERIES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"query": GOOD, "using": "zz"}, errors.InvalidQuery, "Not existing vector name"),
    (
        {"query": m.SparseVector(indices=[1, 1], values=[1.0, 1.0]), "using": "s"},
        errors.InvalidVector,
        "repeats the index 1",
    ),
    ({"query": [1.0, 0.0], "using": "s"}, errors.InvalidQuery, "sparse vector"),
    ({"query": GOOD, "using": "d"}, errors.InvalidQuery, "SparseVector query on the dense"),
    (
        {"query": m.Document(text="x", model="clip"), "using": "s"},
        errors.NotSupported,
        "inference model 'clip'",
    ),
    ({"query": m.FusionQuery(fusion="rrf")}, errors.InvalidQuery, "give prefetch"),
]


@pytest.mark.parametrize("transport", ["embedded", "asgi"])
@pytest.mark.parametrize(("kwargs", "error", "needle"), BAD_QUERIES)
def test_a_bad_query_is_named(
    transport: str, tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], needle: str
) -> None:
    with shoal_client(transport, tmp_path) as client:
        create(client)
        with pytest.raises(error, match=needle):
            client.query_points("c", **kwargs)


def test_prefetch_deeper_than_the_limit_is_refused() -> None:
    with Client() as client:
        create(client)
        inner: m.Prefetch = m.Prefetch(query=GOOD, using="s")
        for _ in range(9):
            inner = m.Prefetch(prefetch=[inner], query=m.FusionQuery(fusion="rrf"))
        with pytest.raises(errors.InvalidQuery, match="more than 8 levels"):
            client.query_points("c", prefetch=[inner], query=m.FusionQuery(fusion="rrf"))


def test_the_server_answers_bad_sparse_input_with_400() -> None:
    db = Database(None)
    with TestClient(create_app(ServerConfig(), database=db)) as http:
        body = {"sparse_vectors": {"s": {}}}
        assert http.put("/collections/c", json=body).status_code == 200
        bad = {"points": [{"id": 1, "vector": {"s": {"indices": [1, 1], "values": [1, 2]}}}]}
        answer = http.put("/collections/c/points?wait=true", json=bad)
        assert answer.status_code == 400
        assert "repeats the index 1" in answer.json()["status"]["error"]
        query = {"query": {"text": "x", "model": "clip"}, "using": "s"}
        answer = http.post("/collections/c/points/query", json=query)
        assert answer.status_code == 400 and "clip" in answer.json()["status"]["error"]
        assert http.post("/collections/c/points/count", json={}).json()["result"]["count"] == 0
    db.close()


def test_unsorted_indices_are_sorted_with_their_values() -> None:
    with Client() as client:
        create(client)
        shuffled = m.SparseVector(indices=[9, 2, 5], values=[0.75, 0.25, 0.5])
        client.upsert("c", [m.PointStruct(id=7, vector={"s": shuffled})])
        (record,) = client.retrieve("c", [7], with_vectors=True)
        assert record.vector == {"s": m.SparseVector(indices=[2, 5, 9], values=[0.25, 0.5, 0.75])}
        hits = client.query_points(
            "c", m.SparseVector(indices=[9, 5], values=[1.0, 1.0]), using="s"
        )
        assert [p.id for p in hits.points] == [7]


def test_documents_are_embedded_as_the_bm25_class_embeds_them() -> None:
    texts = ["The quick brown fox jumps over the lazy dog", "Dogs and foxes: sworn enemies?"]
    bm25 = BM25()
    with Client() as client:
        client.create_collection("t", sparse_vectors_config={"s": m.SparseVectorParams()})
        options = {"k": 1.5, "b": 0.5}
        client.upsert(
            "t",
            [
                m.PointStruct(id=i, vector={"s": m.Document(text=t, model="Qdrant/BM25")})
                for i, t in enumerate(texts)
            ]
            + [
                m.PointStruct(
                    id=9, vector={"s": m.Document(text=texts[0], model="bm25", options=options)}
                )
            ],
        )
        stored = {r.id: r.vector["s"] for r in client.retrieve("t", [0, 1, 9], with_vectors=True)}
        assert stored[0] == bm25.embed_documents([texts[0]])[0]
        assert stored[1] == bm25.embed_documents([texts[1]])[0]
        assert stored[9] == BM25(options=options).embed_documents([texts[0]])[0]
        query = m.Document(text="fox", model="qdrant/bm25")
        by_doc = client.query_points("t", query, using="s").points
        by_vector = client.query_points("t", bm25.embed_query("fox"), using="s").points
        assert [(p.id, p.score) for p in by_doc] == [(p.id, p.score) for p in by_vector]
        assert {p.id for p in by_doc} == {0, 1, 9}  # stemmed: foxes is fox
