"""Haystack's ``QdrantDocumentStore`` (qdrant-haystack) against ``shoal serve``.

Documents carry offline embeddings (the word hash of interop_corpus, Shoal's BM25 as a
Haystack ``SparseEmbedding``); the collection has an IDF sparse vector. Sparse and hybrid
retrievers search (plain, filtered, grouped), then documents are deleted; sync and async.
Then Haystack's own DocumentStore test suites (haystack.testing), sync and async: filters,
counts, deletes and updates by filter, metadata statistics. The few tests overridden below
fail the same way against qdrant-client's local mode (Qdrant's own engine in Python):
they are qdrant-haystack's behaviour, which its own test suite overrides likewise.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip(
    "haystack_integrations.document_stores.qdrant",
    reason="qdrant-haystack is not installed (interop extra)",
)

from haystack import Document
from haystack.dataclasses import SparseEmbedding
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.testing import document_store as std
from haystack.testing import document_store_async as std_async
from haystack_integrations.components.retrievers.qdrant import (
    QdrantHybridRetriever,
    QdrantSparseEmbeddingRetriever,
)
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore
from interop_corpus import DIM, RARE, TEXTS, TOPICS, bm25_document, bm25_query, hash_vector
from qdrant_client.http.exceptions import UnexpectedResponse
from threaded_server import serve_in_thread

WATER = {"field": "meta.topic", "operator": "==", "value": "water"}


def documents() -> list[Document]:
    out = []
    for i, (text, topic) in enumerate(zip(TEXTS, TOPICS, strict=True)):
        indices, values = bm25_document(text)
        out.append(
            Document(
                id=f"d{i}",
                content=text,
                meta={"topic": topic, "n": i},
                embedding=hash_vector(text),
                sparse_embedding=SparseEmbedding(indices=indices, values=values),
            )
        )
    return out


def sparse_query(text: str) -> SparseEmbedding:
    indices, values = bm25_query(text)
    return SparseEmbedding(indices=indices, values=values)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread() as base:
        yield base


def new_store(url: str, name: str) -> QdrantDocumentStore:
    return QdrantDocumentStore(
        url=url,
        index=name,
        embedding_dim=DIM,
        use_sparse_embeddings=True,
        sparse_idf=True,
        recreate_index=True,
        progress_bar=False,
    )


def contents(docs: list[Document]) -> list[str]:
    return [d.content or "" for d in docs]


def test_search_filter_group_delete(url: str) -> None:
    store = new_store(url, "hs_sync")
    assert store.write_documents(documents()) == len(TEXTS)
    assert store.count_documents() == len(TEXTS)
    sparse = QdrantSparseEmbeddingRetriever(store, top_k=3)
    hybrid = QdrantHybridRetriever(store, top_k=3)
    query = f"what does {RARE} mean"

    assert (
        contents(sparse.run(query_sparse_embedding=sparse_query(query))["documents"])[0]
        == (TEXTS[7])
    )
    top = hybrid.run(query_embedding=hash_vector(query), query_sparse_embedding=sparse_query(query))
    assert contents(top["documents"])[0] == TEXTS[7]
    mill = "river meadow mill"
    found = sparse.run(query_sparse_embedding=sparse_query(mill), filters=WATER)["documents"]
    assert sorted(d.meta["n"] for d in found) == [0, 6]
    found = hybrid.run(
        query_embedding=hash_vector(mill), query_sparse_embedding=sparse_query(mill), filters=WATER
    )["documents"]
    assert sorted(d.meta["n"] for d in found) == [0, 6]

    # Grouped by topic: one group per topic, at most one document each.
    grouped = QdrantHybridRetriever(store, top_k=10, group_by="meta.topic", group_size=1).run(
        query_embedding=hash_vector(mill), query_sparse_embedding=sparse_query(mill)
    )["documents"]
    topics = [d.meta["topic"] for d in grouped]
    assert len(topics) == len(set(topics))
    assert topics[0] == "water"
    assert len(grouped) == len(set(TOPICS))
    grouped_sparse = QdrantSparseEmbeddingRetriever(store, group_by="meta.topic", group_size=2)
    by_topic = grouped_sparse.run(query_sparse_embedding=sparse_query(mill))["documents"]
    assert sorted(d.meta["n"] for d in by_topic if d.meta["topic"] == "water") == [0, 6]

    store.delete_documents(["d0", "d7"])
    assert store.count_documents() == len(TEXTS) - 2
    left = sparse.run(query_sparse_embedding=sparse_query(f"{RARE} river"))["documents"]
    assert contents(left) == [TEXTS[6]]


async def test_async_search_filter_group_delete(url: str) -> None:
    store = new_store(url, "hs_async")
    assert await store.write_documents_async(documents()) == len(TEXTS)
    sparse = QdrantSparseEmbeddingRetriever(store, top_k=3)
    hybrid = QdrantHybridRetriever(store, top_k=3, rrf_k=10)
    found = await sparse.run_async(query_sparse_embedding=sparse_query(RARE))
    assert contents(found["documents"]) == [TEXTS[7]]
    top = await hybrid.run_async(
        query_embedding=hash_vector(RARE), query_sparse_embedding=sparse_query(RARE)
    )
    assert contents(top["documents"])[0] == TEXTS[7]
    mill = "river meadow mill"
    water = await hybrid.run_async(
        query_embedding=hash_vector(mill), query_sparse_embedding=sparse_query(mill), filters=WATER
    )
    assert sorted(d.meta["n"] for d in water["documents"]) == [0, 6]
    grouped = await QdrantHybridRetriever(store, top_k=10, group_by="meta.topic").run_async(
        query_embedding=hash_vector(mill), query_sparse_embedding=sparse_query(mill)
    )
    assert sorted(d.meta["n"] for d in grouped["documents"] if d.meta["topic"] == "water") == [
        0,
        6,
    ]
    await store.delete_documents_async(["d6"])
    assert await store.count_documents_async() == len(TEXTS) - 1
    left = await sparse.run_async(query_sparse_embedding=sparse_query("river mill"))
    assert contents(left["documents"]) == [TEXTS[0]]


def test_settings_shoal_does_not_honour_are_refused(url: str) -> None:
    # Vectors on disk: Shoal keeps them in memory, so it refuses rather than ignores this.
    store = QdrantDocumentStore(
        url=url, index="hs_on_disk", embedding_dim=DIM, on_disk=True, progress_bar=False
    )
    with pytest.raises(UnexpectedResponse, match=r"on_disk=true is not supported"):
        store.count_documents()


# The value None and a filter without its operator raise in qdrant-haystack's filter converter,
# before any request; Haystack's suite expects a store to answer them.
CLIENT_SIDE = "qdrant-haystack's filter converter rejects this filter before any request"
CLIENT_SIDE_TESTS = [
    *(
        f"test_comparison_{op}_with_none"
        for op in ("equal", "not_equal", "greater_than", "greater_than_equal")
    ),
    *(f"test_comparison_{op}_with_none" for op in ("less_than", "less_than_equal")),
    "test_missing_top_level_operator_key",
]


class QdrantHaystackBehaviour:
    """What qdrant-haystack does where Haystack's suites leave it to the store (or differ)."""

    @pytest.fixture
    def document_store(self, url: str) -> QdrantDocumentStore:
        return QdrantDocumentStore(
            url=url, index="std", recreate_index=True, return_embedding=True, progress_bar=False
        )

    def assert_documents_are_equal(
        self, received: list[Document], expected: list[Document]
    ) -> None:
        # Qdrant returns no score and float32 embeddings: compare ids, as qdrant-haystack does.
        assert sorted(d.id for d in received) == sorted(d.id for d in expected)


class TestHaystackDocumentStoreSuite(
    QdrantHaystackBehaviour,
    std.DocumentStoreBaseExtendedTests,
    std.CountDocumentsByFilterTest,
    std.CountUniqueMetadataByFilterTest,
    std.GetMetadataFieldsInfoTest,
    std.GetMetadataFieldMinMaxTest,
    std.GetMetadataFieldUniqueValuesTest,
):
    """Haystack's sync DocumentStore suite."""

    def test_write_documents(self, document_store: QdrantDocumentStore) -> None:
        doc = Document(content="test doc")
        assert document_store.write_documents([doc]) == 1
        with pytest.raises(DuplicateDocumentError):
            document_store.write_documents([doc])

    def test_not_operator(
        self, document_store: QdrantDocumentStore, filterable_docs: list[Document]
    ) -> None:
        # qdrant-haystack sends NOT(a, b) as must_not [a, b]: neither a nor b.
        document_store.write_documents(filterable_docs)
        result = document_store.filter_documents(
            filters={
                "operator": "NOT",
                "conditions": [
                    {"field": "meta.number", "operator": "==", "value": 100},
                    {"field": "meta.name", "operator": "==", "value": "name_0"},
                ],
            }
        )
        expected = [
            d
            for d in filterable_docs
            if d.meta.get("number") != 100 and d.meta.get("name") != "name_0"
        ]
        self.assert_documents_are_equal(result, expected)


class TestHaystackDocumentStoreAsyncSuite(
    QdrantHaystackBehaviour,
    std_async.DeleteAllAsyncTest,
    std_async.CountDocumentsAsyncTest,
    std_async.CountDocumentsByFilterAsyncTest,
    std_async.CountUniqueMetadataByFilterAsyncTest,
    std_async.DeleteByFilterAsyncTest,
    std_async.UpdateByFilterAsyncTest,
    std_async.WriteDocumentsAsyncTest,
    std_async.DeleteDocumentsAsyncTest,
    std_async.GetMetadataFieldsInfoAsyncTest,
    std_async.GetMetadataFieldMinMaxAsyncTest,
    std_async.GetMetadataFieldUniqueValuesAsyncTest,
    std_async.FilterDocumentsAsyncTest,
):
    """Haystack's async DocumentStore suite."""

    async def test_write_documents_async(self, document_store: QdrantDocumentStore) -> None:
        doc = Document(content="test doc")
        assert await document_store.write_documents_async([doc]) == 1
        with pytest.raises(DuplicateDocumentError):
            await document_store.write_documents_async([doc])


def _not_for_the_server(self: object) -> None:
    """Skipped: see CLIENT_SIDE."""


for _name in CLIENT_SIDE_TESTS:
    setattr(
        TestHaystackDocumentStoreSuite,
        _name,
        pytest.mark.skip(reason=CLIENT_SIDE)(_not_for_the_server),
    )
