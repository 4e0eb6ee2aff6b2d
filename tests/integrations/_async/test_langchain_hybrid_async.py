"""langchain-milvus's hybrid form (BM25 built-in function, vector_field list, rankers) on
ShoalVectorStore, embedded and against ``shoal serve``, with only the import changed."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_support import HashEmbeddings, hash_vector
from threaded_server import serve_in_thread

from shoal import models as m
from shoal.errors import InvalidConfig, NotSupported

# The one import a langchain-milvus user changes (README, "LangChain").
from shoal.integrations.langchain import ShoalVectorStore as Milvus
from shoal.integrations.langchain.functions import BM25BuiltInFunction, bm25_options

#: Words the dense embedding knows; others (rare terms) are invisible to it.
_KNOWN = "apple banana cherry report market weather garden music river city game paper"
VOCAB = frozenset(_KNOWN.split())
RARE = "zeitgeist"
TEXTS = [
    "apple city river notes",
    "banana game weather notes",
    "cherry garden report notes",
    "city market music notes",
    "game music paper notes",
    "apple market report",
    "banana garden weather",
    "city river music",
    "paper game report",
    f"the {RARE} of a game report",
]


class VocabEmbeddings(HashEmbeddings):
    """A deterministic dense embedding blind to words outside ``VOCAB``, as a semantic model
    is to rare names: only BM25 can find them."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return hash_vector(" ".join(w for w in text.split() if w in VOCAB), self.dim)


def bm25_classes() -> list[Any]:
    classes: list[Any] = [BM25BuiltInFunction]
    try:
        from langchain_milvus import BM25BuiltInFunction as MilvusBM25
    except ImportError:  # pragma: no cover - langchain-milvus is optional
        return classes
    return [*classes, MilvusBM25]


@pytest.fixture(params=["embedded", "served"])
def uri(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "embedded":
        yield ":memory:"
    else:
        with serve_in_thread() as url:
            yield url


@pytest.fixture(params=bm25_classes(), ids=lambda c: c.__module__.split(".")[0])
async def store(uri: str, request: pytest.FixtureRequest) -> AsyncIterator[Milvus]:
    # langchain-milvus's hybrid example, as written for Milvus.
    vector_store = Milvus(
        embedding_function=VocabEmbeddings(),
        builtin_function=request.param(output_field_names="sparse"),
        vector_field=["dense", "sparse"],
        connection_args={"uri": uri},
        consistency_level="Strong",
        drop_old=True,
    )
    docs = [
        Document(page_content=t, metadata={"category": "rare" if RARE in t else f"c{i % 2}"})
        for i, t in enumerate(TEXTS)
    ]
    await vector_store.aadd_documents(docs, ids=[f"d{i}" for i in range(len(docs))])
    yield vector_store
    await vector_store.aclose()


RARE_ID = f"d{len(TEXTS) - 1}"


async def test_the_collection_has_a_dense_and_an_idf_sparse_vector(store: Milvus) -> None:
    info = await store.aclient.get_collection("LangChainCollection")
    assert set(info.config.params.vectors or {}) == {"dense"}
    sparse = info.config.params.sparse_vectors or {}
    assert set(sparse) == {"sparse"} and sparse["sparse"].modifier == m.Modifier.IDF


@pytest.mark.parametrize("ranker", [{"ranker_type": "rrf"}, {"ranker_type": "weighted"}, {}])
async def test_a_rare_exact_term_is_found_first(store: Milvus, ranker: dict[str, Any]) -> None:
    dense_only = await store.asimilarity_search_by_vector(VocabEmbeddings().embed_query(RARE), k=3)
    assert dense_only[0].id != RARE_ID  # the dense field alone does not find it first
    # Every document a candidate of each field (else RRF ties the rare text, first in
    # BM25, with the dense field's first, as in Milvus).
    found = await store.asimilarity_search(RARE, k=3, fetch_k=len(TEXTS), **ranker)
    assert found[0].id == RARE_ID


async def test_rrf_scores_are_milvus_rrf(store: Milvus) -> None:
    query = "river city report"
    dense, sparse = await field_results(store, query)
    for k in (60, 10):
        pairs = await store.asimilarity_search_with_score(
            query, k=5, fetch_k=8, ranker_type="rrf", ranker_params={"k": k}
        )
        expected: dict[str, float] = {}
        for ranking in (dense, sparse):
            for rank, (doc_id, _) in enumerate(ranking, start=1):
                expected[doc_id] = expected.get(doc_id, 0.0) + 1.0 / (k + rank)
        best = sorted(expected.items(), key=lambda kv: -kv[1])[:5]
        assert [(d.id, pytest.approx(s)) for d, s in pairs] == [
            (i, pytest.approx(s)) for i, s in best
        ]


async def test_weighted_scores_are_milvus_weighted_sum(store: Milvus) -> None:
    query = "river city report"
    dense, sparse = await field_results(store, query)
    cos, bm25 = dict(dense), dict(sparse)
    pairs = await store.asimilarity_search_with_score(
        query, k=4, fetch_k=8, ranker_type="weighted", ranker_params={"weights": [0.3, 0.7]}
    )
    assert len(pairs) == 4
    for doc, score in pairs:
        want = 0.3 * (1 + cos[doc.id]) / 2 if doc.id in cos else 0.0
        want += 0.7 * 2 * math.atan(bm25[doc.id]) / math.pi if doc.id in bm25 else 0.0
        assert score == pytest.approx(want, rel=1e-6)
    assert [s for _, s in pairs] == sorted((s for _, s in pairs), reverse=True)


async def field_results(store: Milvus, query: str) -> tuple[list[Any], list[Any]]:
    """Each field's own ranking of (document id, raw score), 8 candidates each."""
    client = store.aclient
    dense = await client.query_points(
        "LangChainCollection", VocabEmbeddings().embed_query(query), using="dense", limit=8
    )
    bm25 = m.Document(text=query, model="qdrant/bm25", options=bm25_options(None))
    sparse = await client.query_points("LangChainCollection", bm25, using="sparse", limit=8)
    return (
        [((p.payload or {})["pk"], p.score) for p in dense.points],
        [((p.payload or {})["pk"], p.score) for p in sparse.points],
    )


@pytest.mark.parametrize("ranker_type", ["rrf", "weighted"])
async def test_expr_filters_every_field(store: Milvus, ranker_type: str) -> None:
    # "like 'c1%'" has no structured form (the engine's fusion needs one): fused here;
    # "== 'c1'" is fused by the engine. Same documents, same scores.
    by_engine = await store.asimilarity_search_with_score(
        "river city report", k=10, expr="category == 'c1'", ranker_type=ranker_type
    )
    by_store = await store.asimilarity_search_with_score(
        "river city report", k=10, expr="category like 'c1%'", ranker_type=ranker_type
    )
    assert by_engine and all(d.metadata["category"] == "c1" for d, _ in by_engine)
    assert [(d.id, pytest.approx(s)) for d, s in by_engine] == [(d.id, s) for d, s in by_store]


async def test_mmr_runs_on_the_dense_field_with_langchains_lambda(store: Milvus) -> None:
    emb = VocabEmbeddings()
    nearest = await store.asimilarity_search_by_vector(emb.embed_query("river city"), k=3)
    closest = await store.amax_marginal_relevance_search("river city", k=3, lambda_mult=1.0)
    assert [d.id for d in closest] == [d.id for d in nearest]
    # "paper game report" and the rare text embed alike (shared known words): with
    # diversity, the second pick is not the twin of the first.
    diverse = await store.amax_marginal_relevance_search("river city", k=2, lambda_mult=0.1)
    assert diverse[0].id == nearest[0].id and diverse[1].id != nearest[1].id
    filtered = await store.amax_marginal_relevance_search(
        "river city", k=3, expr="category == 'c1'"
    )
    assert len(filtered) == 3 and all(d.metadata["category"] == "c1" for d in filtered)


async def test_retriever_and_metadata_search(store: Milvus) -> None:
    retriever = store.as_retriever(
        search_kwargs={"k": 2, "ranker_type": "rrf", "expr": "category == 'rare'"}
    )
    assert [d.id for d in await retriever.ainvoke(RARE)] == [RARE_ID]
    assert [d.id for d in await store.asearch_by_metadata("category == 'rare'")] == [RARE_ID]


async def test_unsupported_options_are_refused_by_name(store: Milvus) -> None:
    with pytest.raises(InvalidConfig, match="'bogus'"):
        await store.asimilarity_search(RARE, ranker_type="bogus")
    with pytest.raises(NotSupported, match="'model'"):
        await store.asimilarity_search(RARE, reranker={"reranker": "model", "provider": "x"})
    with pytest.raises(InvalidConfig, match="weights"):
        await store.asimilarity_search(
            RARE, ranker_type="weighted", ranker_params={"weights": [1.0]}
        )
    with pytest.raises(NotSupported, match="relevance_score_fn"):
        await store.asimilarity_search_with_relevance_scores(RARE)


async def test_a_reranker_function_maps_onto_rrf(store: Milvus) -> None:
    function = pytest.importorskip("pymilvus").Function(
        name="rrf",
        input_field_names=[],
        function_type=pytest.importorskip("pymilvus").FunctionType.RERANK,
        params={"reranker": "rrf", "k": 10},
    )
    by_function = await store.asimilarity_search_with_score(RARE, k=3, reranker=function)
    by_type = await store.asimilarity_search_with_score(
        RARE, k=3, ranker_type="rrf", ranker_params={"k": 10}
    )
    assert by_function == by_type


async def test_a_bm25_only_store(uri: str) -> None:
    s = Milvus(
        builtin_function=BM25BuiltInFunction(analyzer_params={"type": "english"}),
        vector_field="sparse",
        connection_args={"uri": uri},
        drop_old=True,
    )
    try:
        await s.aadd_texts(["she runs every day", "a quiet evening", "the runner ran"])
        found = await s.asimilarity_search("running", k=3)  # stemmed: run
        assert [d.page_content for d in found] == ["she runs every day"]
        with pytest.raises(NotSupported, match="dense"):
            await s.amax_marginal_relevance_search("running")
    finally:
        await s.aclose()


async def test_constructor_refusals_name_the_option() -> None:
    emb = HashEmbeddings()
    with pytest.raises(NotSupported, match="'chinese'"):
        Milvus(emb, builtin_function=BM25BuiltInFunction(analyzer_params={"type": "chinese"}))
    with pytest.raises(NotSupported, match="multi_analyzer_params"):
        Milvus(emb, builtin_function=BM25BuiltInFunction(multi_analyzer_params={"a": 1}))
    with pytest.raises(NotSupported, match="asciifolding"):
        Milvus(
            emb,
            builtin_function=BM25BuiltInFunction(
                analyzer_params={"tokenizer": "standard", "filter": ["asciifolding"]}
            ),
        )
    with pytest.raises(InvalidConfig, match="'body'"):
        Milvus(emb, builtin_function=BM25BuiltInFunction(input_field_names="body"))
    with pytest.raises(InvalidConfig, match="builtin_function"):
        Milvus(emb, builtin_function=object())
    with pytest.raises(InvalidConfig, match=r"\['a', 'b'\]"):
        Milvus(emb, builtin_function=BM25BuiltInFunction(), vector_field=["a", "b", "sparse"])
    with pytest.raises(TypeError, match="ranker_type"):
        await Milvus(emb).asimilarity_search("x", ranker_type="rrf")
