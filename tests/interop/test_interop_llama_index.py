"""llama-index's Qdrant vector store (``enable_hybrid=True``) against ``shoal serve``.

Offline encoders: the word hash of interop_corpus for dense vectors (llama-index's
MockEmbedding gives every text the same vector), Shoal's BM25 for sparse ones through
``sparse_doc_fn``/``sparse_query_fn`` (the default fastembed model downloads weights).
Insert, query (dense, sparse, hybrid; plain and filtered) and delete, sync and async.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip(
    "llama_index.vector_stores.qdrant",
    reason="llama-index-vector-stores-qdrant is not installed (interop extra)",
)

from interop_corpus import RARE, TEXTS, TOPICS, bm25_document, bm25_query, hash_vector
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores import (
    ExactMatchFilter,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
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


def tagged_nodes() -> list[TextNode]:
    """Nodes with numbers, floats, lists, a sometimes-empty field and a short title."""
    out = []
    for i, (text, topic) in enumerate(zip(TEXTS, TOPICS, strict=True)):
        meta: dict[str, Any] = {"topic": topic, "n": i, "w": i * 0.5, "title": text}
        meta["tags"] = ["a", "b"] if i % 2 else ["c"]
        if i >= 3:  # absent below 3, then null, empty, and a value
            meta["opt"] = None if i == 3 else [] if i == 4 else "x"
        node_id = f"00000000-0000-0000-0000-00000000000{i}"
        out.append(TextNode(text=text, id_=node_id, metadata=meta, embedding=hash_vector(text)))
    return out


def _filters(*items: MetadataFilter | MetadataFilters, cond: str = "and") -> MetadataFilters:
    return MetadataFilters(filters=list(items), condition=FilterCondition(cond))


FILTERS = {
    "eq_str": _filters(MetadataFilter(key="topic", value="water")),
    "eq_float": _filters(MetadataFilter(key="w", value=1.5)),
    "lt": _filters(MetadataFilter(key="n", value=3, operator=FilterOperator.LT)),
    "gte_float": _filters(MetadataFilter(key="w", value=2.0, operator=FilterOperator.GTE)),
    "ne": _filters(MetadataFilter(key="topic", value="water", operator=FilterOperator.NE)),
    "in_text": _filters(
        MetadataFilter(key="topic", value="water,bird", operator=FilterOperator.IN)
    ),
    "nin_int": _filters(MetadataFilter(key="n", value=[1, 2], operator=FilterOperator.NIN)),
    "text": _filters(MetadataFilter(key="title", value="Mill", operator=FilterOperator.TEXT_MATCH)),
    "is_empty": _filters(MetadataFilter(key="opt", value=None, operator=FilterOperator.IS_EMPTY)),
    "list_eq": _filters(MetadataFilter(key="tags", value="a")),
    "list_ne": _filters(MetadataFilter(key="tags", value="a", operator=FilterOperator.NE)),
    "missing_ne": _filters(MetadataFilter(key="opt", value="x", operator=FilterOperator.NE)),
    "or": _filters(
        MetadataFilter(key="n", value=1), MetadataFilter(key="topic", value="water"), cond="or"
    ),
    "not": _filters(
        MetadataFilter(key="n", value=1), MetadataFilter(key="topic", value="water"), cond="not"
    ),
    "nested": _filters(
        MetadataFilter(key="n", value=5, operator=FilterOperator.LT),
        _filters(
            MetadataFilter(key="topic", value="water"),
            MetadataFilter(key="topic", value="bird"),
            cond="or",
        ),
    ),
}


def filtered_numbers(client: QdrantClient) -> dict[str, list[int]]:
    """Each filter's matches (by ``n``), then get_nodes and delete_nodes by id and filter."""
    store = QdrantVectorStore(
        collection_name="li_filters",
        client=client,
        enable_hybrid=True,
        sparse_doc_fn=sparse_docs,
        sparse_query_fn=sparse_queries,
    )
    store.add(tagged_nodes())
    out = {}
    for name, filters in FILTERS.items():
        query = VectorStoreQuery(
            query_embedding=hash_vector("river"), similarity_top_k=20, filters=filters
        )
        out[name] = sorted(node.metadata["n"] for node in store.query(query).nodes)
    by_ids = VectorStoreQuery(
        query_embedding=hash_vector("river"),
        similarity_top_k=20,
        node_ids=[tagged_nodes()[2].node_id, tagged_nodes()[5].node_id],
    )
    out["node_ids"] = sorted(node.metadata["n"] for node in store.query(by_ids).nodes)
    out["get_nodes"] = sorted(n.metadata["n"] for n in store.get_nodes(filters=FILTERS["lt"]))
    store.delete_nodes(node_ids=[tagged_nodes()[0].node_id], filters=FILTERS["or"])
    out["after_delete"] = sorted(n.metadata["n"] for n in store.get_nodes())
    return out


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant")
def test_metadata_filters_select_as_qdrant_local_mode(url: str) -> None:
    # qdrant-client's local mode is Qdrant's filter semantics in Python: each of llama-index's
    # filter operators must select the same points on Shoal.
    ours = filtered_numbers(QdrantClient(url=url))
    assert ours == filtered_numbers(QdrantClient(":memory:"))
    assert ours["is_empty"] == [0, 1, 2, 3, 4]
    assert ours["list_ne"] == list(range(len(TEXTS)))  # a list is "not a" if one item differs
    assert ours["after_delete"] == [2, 3, 4, 5, 7]
