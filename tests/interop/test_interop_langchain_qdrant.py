"""langchain-qdrant's ``QdrantVectorStore`` against ``shoal serve`` on a real socket.

Sparse, hybrid and dense retrieval modes, with offline embeddings (bench/seed_embeddings.py's
word hash for dense, Shoal's BM25 for sparse): add, search (plain and filtered), delete and
MMR, sync and async.
``QdrantVectorStore`` has no async client of its own: its async methods are LangChain's
defaults, which run the sync ones in an executor, so they are tested here as users call them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("langchain_qdrant", reason="langchain-qdrant is not installed (interop extra)")

from interop_corpus import RARE, TEXTS, TOPICS, HashEmbeddings, bm25_document, bm25_query
from langchain_qdrant import QdrantVectorStore, RetrievalMode, SparseEmbeddings, SparseVector
from qdrant_client import models as qm
from threaded_server import serve_in_thread


class Bm25Sparse(SparseEmbeddings):
    """Deterministic sparse embeddings: Shoal's BM25, as langchain-qdrant's SparseVector."""

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        return [SparseVector(indices=i, values=v) for i, v in map(bm25_document, texts)]

    def embed_query(self, text: str) -> SparseVector:
        indices, values = bm25_query(text)
        return SparseVector(indices=indices, values=values)


MODES = [RetrievalMode.SPARSE, RetrievalMode.HYBRID, RetrievalMode.DENSE]
IDS = list(range(1, len(TEXTS) + 1))


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread() as base:
        yield base


def new_store(url: str, mode: RetrievalMode, name: str) -> QdrantVectorStore:
    """An empty collection made by langchain-qdrant itself (its create call and checks)."""
    return QdrantVectorStore.from_texts(
        [],
        embedding=HashEmbeddings(),
        sparse_embedding=Bm25Sparse(),
        retrieval_mode=mode,
        url=url,
        collection_name=name,
        force_recreate=True,
    )


def metadatas() -> list[dict[str, Any]]:
    return [{"topic": t, "n": i} for i, t in enumerate(TOPICS)]


def topic_filter(topic: str) -> qm.Filter:
    return qm.Filter(
        must=[qm.FieldCondition(key="metadata.topic", match=qm.MatchValue(value=topic))]
    )


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_add_search_filter_delete(url: str, mode: RetrievalMode) -> None:
    store = new_store(url, mode, f"lc_{mode.value}")
    assert store.add_texts(TEXTS, metadatas=metadatas(), ids=IDS) == IDS

    if mode is not RetrievalMode.DENSE:
        # A rare identifier only one text holds is found first by a sparse vector.
        top = store.similarity_search(f"what does {RARE} mean", k=3)
        assert top[0].page_content == TEXTS[7]
        assert top[0].metadata["topic"] == "fault"
    hits = store.similarity_search("river meadow mill", k=2)
    assert {d.page_content for d in hits} == {TEXTS[0], TEXTS[6]}

    found = store.similarity_search("river meadow mill", k=4, filter=topic_filter("water"))
    assert sorted(d.metadata["n"] for d in found) == [0, 6]

    assert store.delete(ids=[1, 7]) is True
    left = store.similarity_search("river meadow mill", k=8)
    assert TEXTS[0] not in {d.page_content for d in left}
    assert TEXTS[6] not in {d.page_content for d in left}
    assert len(store.get_by_ids(IDS)) == len(TEXTS) - 2
    assert [d.page_content for d in store.get_by_ids([2])] == [TEXTS[1]]


def test_max_marginal_relevance_dense(url: str) -> None:
    store = new_store(url, RetrievalMode.DENSE, "lc_mmr")
    store.add_texts(TEXTS, metadatas=metadatas(), ids=IDS)
    plain = store.similarity_search("river meadow mill", k=2)
    assert {d.page_content for d in plain} == {TEXTS[0], TEXTS[6]}
    # langchain-qdrant passes lambda_mult as Qdrant's Mmr.diversity (1.0 = most diverse),
    # the reverse of LangChain's meaning: with it, the second pick is no near-twin.
    diverse = store.max_marginal_relevance_search("river meadow mill", k=2, lambda_mult=1.0)
    assert len(diverse) == 2
    assert diverse[0].page_content in {TEXTS[0], TEXTS[6]}
    assert diverse[1].page_content not in {TEXTS[0], TEXTS[6]}
    near = store.max_marginal_relevance_search("river meadow mill", k=2, lambda_mult=0.0)
    assert {d.page_content for d in near} == {TEXTS[0], TEXTS[6]}
    water = store.max_marginal_relevance_search("river", k=4, filter=topic_filter("water"))
    assert sorted(d.metadata["n"] for d in water) == [0, 6]


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
async def test_async_add_search_delete_mmr(url: str, mode: RetrievalMode) -> None:
    store = new_store(url, mode, f"lc_async_{mode.value}")
    assert await store.aadd_texts(TEXTS, metadatas=metadatas(), ids=IDS) == IDS
    if mode is not RetrievalMode.DENSE:
        top = await store.asimilarity_search(RARE, k=1)
        assert [d.page_content for d in top] == [TEXTS[7]]
    found = await store.asimilarity_search("river", k=4, filter=topic_filter("water"))
    assert sorted(d.metadata["n"] for d in found) == [0, 6]
    assert await store.adelete(ids=[1]) is True
    left = await store.asimilarity_search("river meadow mill", k=8)
    assert TEXTS[0] not in {d.page_content for d in left}
    assert len(await store.aget_by_ids(IDS)) == len(TEXTS) - 1
    if mode is RetrievalMode.DENSE:
        diverse = await store.amax_marginal_relevance_search("river meadow mill", k=2)
        assert len(diverse) == 2
        assert diverse[0].page_content == TEXTS[6]
