"""llama-index's Qdrant vector store (``enable_hybrid=True``) against ``shoal serve``.

Offline encoders: the word hash of interop_corpus for dense vectors (llama-index's
MockEmbedding gives every text the same vector), Shoal's BM25 for sparse ones through
``sparse_doc_fn``/``sparse_query_fn`` (the default fastembed model downloads weights).
Insert, query (dense, sparse, hybrid; plain and filtered) and delete, sync and async.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip(
    "llama_index.vector_stores.qdrant",
    reason="llama-index-vector-stores-qdrant is not installed (interop extra)",
)

from interop_corpus import RARE, TEXTS, TOPICS, bm25_document, bm25_query, hash_vector
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.vector_stores import ExactMatchFilter, MetadataFilters
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import AsyncQdrantClient, QdrantClient
from threaded_server import serve_in_thread


class HashEmbedding(BaseEmbedding):
    """Deterministic dense embeddings: the word hash of interop_corpus."""

    def _get_query_embedding(self, query: str) -> list[float]:
        return hash_vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return hash_vector(text)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return hash_vector(query)


def sparse_docs(texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
    pairs = [bm25_document(t) for t in texts]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def sparse_queries(texts: list[str]) -> tuple[list[list[int]], list[list[float]]]:
    pairs = [bm25_query(t) for t in texts]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def documents() -> list[Document]:
    return [
        Document(text=text, doc_id=f"doc-{i}", metadata={"topic": topic})
        for i, (text, topic) in enumerate(zip(TEXTS, TOPICS, strict=True))
    ]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread() as base:
        yield base


def new_index(url: str, name: str, *, sync: bool) -> VectorStoreIndex:
    store = QdrantVectorStore(
        collection_name=name,
        client=QdrantClient(url=url) if sync else None,
        aclient=AsyncQdrantClient(url=url),
        enable_hybrid=True,
        sparse_doc_fn=sparse_docs,
        sparse_query_fn=sparse_queries,
    )
    return VectorStoreIndex(
        [],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=HashEmbedding(),
        use_async=not sync,
    )


def texts(nodes: list) -> list[str]:
    return [n.node.get_content() for n in nodes]


WATER = MetadataFilters(filters=[ExactMatchFilter(key="topic", value="water")])


def test_insert_query_delete(url: str) -> None:
    index = new_index(url, "li_sync", sync=True)
    for doc in documents():
        index.insert(doc)

    for mode in ("sparse", "hybrid"):
        found = index.as_retriever(vector_store_query_mode=mode, similarity_top_k=3).retrieve(
            f"what does {RARE} mean"
        )
        assert texts(found)[0] == TEXTS[7], mode
    dense = index.as_retriever(similarity_top_k=2).retrieve("river meadow mill")
    assert set(texts(dense)) == {TEXTS[0], TEXTS[6]}
    hybrid = index.as_retriever(vector_store_query_mode="hybrid", similarity_top_k=2)
    assert set(texts(hybrid.retrieve("river meadow mill"))) == {TEXTS[0], TEXTS[6]}
    filtered = index.as_retriever(
        vector_store_query_mode="hybrid", similarity_top_k=5, filters=WATER
    ).retrieve("mill")
    assert sorted(texts(filtered)) == sorted([TEXTS[0], TEXTS[6]])

    index.delete_ref_doc("doc-0")
    left = index.as_retriever(vector_store_query_mode="sparse", similarity_top_k=5).retrieve(
        "river mill"
    )
    assert texts(left) == [TEXTS[6]]


async def test_async_insert_query_delete(url: str) -> None:
    index = new_index(url, "li_async", sync=False)
    for doc in documents():
        await index.ainsert(doc)
    for mode in ("sparse", "hybrid"):
        found = await index.as_retriever(
            vector_store_query_mode=mode, similarity_top_k=3
        ).aretrieve(RARE)
        assert texts(found)[0] == TEXTS[7], mode
    filtered = await index.as_retriever(
        vector_store_query_mode="hybrid", similarity_top_k=5, filters=WATER
    ).aretrieve("mill")
    assert sorted(texts(filtered)) == sorted([TEXTS[0], TEXTS[6]])
    await index.adelete_ref_doc("doc-6")
    left = await index.as_retriever(vector_store_query_mode="sparse", similarity_top_k=5).aretrieve(
        "river mill"
    )
    assert texts(left) == [TEXTS[0]]
