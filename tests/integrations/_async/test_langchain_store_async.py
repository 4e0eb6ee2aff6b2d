"""ShoalVectorStore's methods, each behaviour written once for both flavours of the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_support import VECTORS, FixedQuery, HashEmbeddings, hash_vector, unit

from shoal import models as m
from shoal.errors import BadRequest, InvalidPayload
from shoal.integrations.langchain import Shoal, ShoalVectorStore

ALL_DISTANCES = ["Cosine", "Dot", "Euclid", "Manhattan"]


@pytest.fixture
async def store() -> AsyncIterator[ShoalVectorStore]:
    s = ShoalVectorStore(embedding_function=HashEmbeddings())
    yield s
    await s.aclose()


async def fruit_store(**kwargs: Any) -> ShoalVectorStore:
    s = ShoalVectorStore(embedding_function=HashEmbeddings(), **kwargs)
    await s.aadd_texts(
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
        await s.aadd_embeddings(list(VECTORS), list(VECTORS.values()), ids=list(VECTORS))
        q = unit(1, 0.3, 0)
        pairs = await s.asimilarity_search_with_score_by_vector(q, k=4)
        assert [d.id for d, _ in pairs] == ["x", "xy", "y", "neg"]
        for doc, score in pairs:
            want = expected_raw(distance, np.array(q), np.array(VECTORS[doc.page_content]))
            assert score == pytest.approx(want, abs=1e-5)
        # Relevance: through the public API (with a query text) and by the mapping function.
        s.embedding_func = FixedQuery(q)
        rel = await s.asimilarity_search_with_relevance_scores("q", k=4)
        values = [r for _, r in rel]
        assert all(0.0 <= r <= 1.0 for r in values)
        assert values == sorted(values, reverse=True)
        raw = {d.id: sc for d, sc in pairs}
        for doc, r in rel:
            assert r == pytest.approx(expected_relevance(distance, raw[doc.id]), abs=1e-5)
        assert s.distance == m.Distance(distance)
    finally:
        await s.aclose()


# --------------------------------------------------------------------- MMR


async def test_mmr_diversity_weight_changes_the_result() -> None:
    s = ShoalVectorStore(embedding_function=FixedQuery(unit(1, 0, 0)))
    try:
        await s.aadd_embeddings(
            ["best", "near-duplicate of best", "different"],
            [unit(1, 0.10, 0), unit(1, 0.12, 0), unit(1, 0, 0.9)],
            ids=["best", "dup", "diff"],
        )
        # lambda_mult=1: pure relevance, the near-duplicate comes second.
        docs = await s.amax_marginal_relevance_search("q", k=2, lambda_mult=1.0)
        assert [d.id for d in docs] == ["best", "dup"]
        # More weight on diversity: the different document replaces the duplicate.
        for docs in (
            await s.amax_marginal_relevance_search("q", k=2, fetch_k=3, lambda_mult=0.3),
            await s.amax_marginal_relevance_search_by_vector(unit(1, 0, 0), k=2, lambda_mult=0.3),
        ):
            assert [d.id for d in docs] == ["best", "diff"]
        # Filters apply to the candidates.
        docs = await s.amax_marginal_relevance_search(
            "q", k=2, lambda_mult=0.3, expr="pk != 'diff'"
        )
        assert [d.id for d in docs] == ["best", "dup"]
    finally:
        await s.aclose()


# ------------------------------------------------------------ by-vector search


async def test_search_by_vector() -> None:
    s = await fruit_store()
    try:
        v = hash_vector("yellow banana")
        assert (await s.asimilarity_search_by_vector(v, k=1))[0].id == "b1"
        pairs = await s.asimilarity_search_with_score_by_vector(v, k=2)
        assert pairs[0][0].page_content == "yellow banana"
        assert pairs[0][1] == pytest.approx(1.0, abs=1e-5)
        assert pairs[0][0].metadata == {"color": "yellow", "kind": "banana", "n": 3}
        assert isinstance(pairs[0][0].metadata["n"], int)
    finally:
        await s.aclose()


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
async def test_expr_and_filter_forms(kwargs: dict[str, Any], expected: set[str]) -> None:
    s = await fruit_store()
    try:
        assert {d.id for d in await s.asimilarity_search("apple", k=10, **kwargs)} == expected
        assert set(await s.aget_pks(kwargs.get("expr") or kwargs["filter"])) >= expected
    finally:
        await s.aclose()


async def test_nested_metadata_field() -> None:
    s = ShoalVectorStore(embedding_function=HashEmbeddings(), metadata_field="meta")
    try:
        # Nested metadata may use the reserved names: they cannot collide any more.
        await s.aadd_texts(["x y", "z w"], [{"lang": "en", "text": "t"}, {"lang": "fr"}])
        docs = await s.asimilarity_search("x y", k=5, filter={"lang": "en"})
        assert [d.metadata for d in docs] == [{"lang": "en", "text": "t"}]
        docs = await s.asimilarity_search("x y", k=5, expr="meta[\"lang\"] == 'fr'")
        assert [d.page_content for d in docs] == ["z w"]
    finally:
        await s.aclose()


# ------------------------------------------------- metadata search and pks


async def test_search_by_metadata_and_get_pks() -> None:
    s = await fruit_store()
    try:
        docs = await s.asearch_by_metadata("color == 'red'")
        assert {d.id for d in docs} == {"a1", "c1"}
        assert all(d.metadata["color"] == "red" for d in docs)
        only = await s.asearch_by_metadata("kind == 'apple'", fields=["n"], limit=1)
        assert len(only) == 1
        assert set(only[0].metadata) == {"n"}
        assert only[0].page_content in ("red apple", "green apple")
        assert len(await s.asearch_by_metadata("", limit=None)) == 4
        assert len(await s.asearch_by_metadata({"kind": "apple"})) == 2
        assert sorted(await s.aget_pks("n > 1")) == ["a2", "b1", "c1"]
        assert sorted(await s.aget_pks("kind == 'apple'")) == ["a1", "a2"]
        assert await s.aget_pks("kind == 'kiwi'") == []
    finally:
        await s.aclose()


# ------------------------------------------------------------ constructors


async def test_from_texts_and_documents(tmp_path: Path) -> None:
    emb = HashEmbeddings()
    uri = {"uri": str(tmp_path / "db")}
    s1 = await ShoalVectorStore.afrom_texts(
        ["one fish", "two fish"], emb, [{"n": 1}, {"n": 2}], connection_args=uri, ids=["1", "2"]
    )
    assert [d.id for d in await s1.asimilarity_search("two fish", k=1)] == ["2"]
    s2 = await ShoalVectorStore.afrom_texts(
        ["red fish"], emb, collection_name="other", connection_args=uri, drop_old=True
    )
    assert len(await s2.asimilarity_search("fish", k=5)) == 1
    docs = [Document(page_content="blue fish", metadata={"n": 3}, id="b")]
    s3 = await ShoalVectorStore.afrom_documents(docs, emb, connection_args=uri, drop_old=True)
    assert [d.id for d in await s3.asimilarity_search("fish", k=5)] == ["b"]
    s4 = await Shoal.afrom_documents(docs, emb, collection_name="fourth", connection_args=uri)
    assert (await s4.aget_by_ids(["b"]))[0].metadata == {"n": 3}
    # s1 and s3 share the collection: drop_old=True emptied it before s3 wrote.
    assert [d.id for d in await s1.asimilarity_search("fish", k=5)] == ["b"]
    for s in (s1, s2, s3, s4):
        await s.aclose()


# ------------------------------------------------------------ ids and writes


async def test_ids_priority_argument_then_document_id_then_new(store: ShoalVectorStore) -> None:
    docs = [Document(page_content="x", id="from-doc"), Document(page_content="y")]
    ids = await store.aadd_documents(docs, ids=["from-arg", None])
    assert ids[0] == "from-arg"
    assert ids[1] != "from-doc"
    assert (await store.aadd_documents(docs))[0] == "from-doc"
    assert docs[0].id == "from-doc"
    assert docs[1].id is None  # not mutated
    with pytest.raises(ValueError, match="ids"):
        await store.aadd_texts(["a", "b"], ids=["only-one"])
    with pytest.raises(ValueError, match="metadatas"):
        await store.aadd_texts(["a", "b"], [{}])
    with pytest.raises(ValueError, match="embeddings"):
        await store.aadd_embeddings(["a", "b"], [[1.0] * 384])
    with pytest.raises(TypeError, match="bogus"):
        await store.aadd_texts(["a"], bogus=1)
    assert await store.aadd_texts([]) == []
    assert await store.aadd_embeddings([], []) == []


async def test_upsert_replaces_by_id(store: ShoalVectorStore) -> None:
    await store.aupsert(ids=["k"], documents=[Document(page_content="first", metadata={"v": 1})])
    await store.aupsert(["k"], [Document(page_content="second", metadata={"v": 2})])
    await store.aupsert([Document(page_content="third", metadata={"v": 3}, id="k2")])
    assert await store.aupsert(documents=[]) == []
    got = {d.id: d for d in await store.aget_by_ids(["k", "k2"])}
    assert got["k"].page_content == "second"
    assert got["k"].metadata == {"v": 2}
    assert got["k2"].metadata == {"v": 3}
    assert (await store.aclient.count(store.collection_name)).count == 2


# ------------------------------------------------------------------ deletes


async def test_delete_by_expr_and_filter() -> None:
    s = await fruit_store()
    try:
        assert await s.adelete(expr="color == 'red' and kind == 'apple'") is True
        assert sorted(await s.aget_pks("n > 0")) == ["a2", "b1", "c1"]
        assert await s.adelete(filter={"kind": "banana"}) is True
        assert sorted(await s.aget_pks("n > 0")) == ["a2", "c1"]
        await s.adelete(expr="pk in ['a2']")
        assert await s.adelete(ids=["c1"], expr="kind == 'nothing'") is True  # ids win
        assert await s.aget_pks("n > 0") == []
        assert await s.adelete(ids=[]) is True
        with pytest.raises(BadRequest, match="needs ids"):
            await s.adelete()
    finally:
        await s.aclose()


async def test_delete_and_read_before_the_collection_exists(store: ShoalVectorStore) -> None:
    assert await store.adelete(["x"]) is True
    assert await store.adelete(expr="a == 1") is True
    assert await store.aget_by_ids(["x"]) == []
    assert await store.asearch_by_metadata("a == 1") == []
    assert await store.aget_pks("a == 1") == []
    assert await store.asimilarity_search("q") == []
    assert await store.amax_marginal_relevance_search("q") == []
    await store.adrop()  # nothing to drop is fine too


async def test_collection_dropped_underneath_is_recreated(store: ShoalVectorStore) -> None:
    await store.aadd_texts(["a"], ids=["a"])
    await store.aclient.delete_collection(store.collection_name)
    assert await store.asimilarity_search("a") == []
    await store.aadd_texts(["b"], ids=["b"])
    await store.aclient.delete_collection(store.collection_name)
    await store.aadd_texts(["c"], ids=["c"])
    assert [d.id for d in await store.asimilarity_search("c")] == ["c"]


async def test_losing_the_creation_race_counts_as_success() -> None:
    """Another thread, loop or process created the collection before our first write:
    CollectionAlreadyExists is success, and the winner's layout is adopted (asked once)."""
    store = ShoalVectorStore(embedding_function=HashEmbeddings(), distance="Dot")
    client = store.aclient
    euclid = {"vector": m.VectorParams(size=384, distance="Euclid")}
    await client.create_collection(store.collection_name, euclid)
    real = client.get_collection
    calls = 0

    async def counted(name: str) -> m.CollectionInfo:
        nonlocal calls
        calls += 1
        return await real(name)

    client.get_collection = counted  # type: ignore[method-assign]
    await store.aadd_texts(["y"], ids=["y"])
    assert calls == 1
    assert store.distance == m.Distance.EUCLID
    assert (await client.count(store.collection_name)).count == 1
    await store.aclose()


# ---------------------------------------------------------- reserved keys


@pytest.mark.parametrize("key", ["text", "pk"])
async def test_reserved_metadata_keys_are_refused(store: ShoalVectorStore, key: str) -> None:
    with pytest.raises(InvalidPayload, match=f"'{key}'"):
        await store.aadd_texts(["a"], [{key: "x"}])
    with pytest.raises(InvalidPayload, match=f"'{key}'"):
        await store.aadd_documents([Document(page_content="a", metadata={key: 1})])
    # Nothing was written, not even the collection.
    assert not await store.aclient.collection_exists(store.collection_name)


# --------------------------------------------------------------- retrievers


async def test_retrievers() -> None:
    s = await fruit_store()
    try:
        sim = s.as_retriever(search_kwargs={"k": 2, "filter": {"color": "red"}})
        assert {d.id for d in await sim.ainvoke("apple")} == {"a1", "c1"}
        mmr = s.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 4})
        assert len(await mmr.ainvoke("red apple")) == 2
        threshold = s.as_retriever(
            search_type="similarity_score_threshold",
            search_kwargs={"score_threshold": 0.99, "expr": "kind == 'banana'"},
        )
        assert [d.id for d in await threshold.ainvoke("yellow banana")] == ["b1"]
        assert await threshold.ainvoke("green apple") == []
    finally:
        await s.aclose()
