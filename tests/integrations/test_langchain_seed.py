"""The seed workload (reference/seed-workload.md) through ShoalVectorStore, counts exact.

Written as a langchain-milvus user writes it; only the import and the embedding differ.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_support import HashEmbeddings

from shoal.integrations.langchain import ShoalVectorStore as Milvus

STORED = 1000


def make_docs(n: int, seed: int = 0) -> list[Document]:
    rng = random.Random(seed)
    return [
        Document(
            page_content=f"This is test document {i} with some random content: {rng.random()}",
            metadata={"id": f"doc_{i}", "score": rng.random(), "category": f"cat_{i % 5}"},
        )
        for i in range(n)
    ]


def new_store(folder: Path) -> Milvus:
    return Milvus(
        embedding_function=HashEmbeddings(),
        connection_args={"uri": str(folder / "milvus_demo.db")},
        auto_id=True,
        drop_old=True,
    )


def live(store: Milvus) -> int:
    return store.client.count(store.collection_name).count


@pytest.mark.parametrize("n", [10, 100, 1000])
async def test_add_one_document_per_call(tmp_path: Path, n: int) -> None:
    store = new_store(tmp_path)
    try:
        docs = make_docs(n)
        results = await asyncio.gather(*(store.aadd_documents([doc]) for doc in docs))
        assert all(len(ids) == 1 for ids in results)
        assert len({ids[0] for ids in results}) == n
        assert live(store) == n
        # Every document is there once, with its metadata intact.
        assert sorted(await store.aget_pks("category like 'cat_%'")) == sorted(
            ids[0] for ids in results
        )
        assert len(await store.asearch_by_metadata("id == 'doc_0'")) == 1
    finally:
        store.close()


@pytest.mark.parametrize("n", [10, 100, 1000])
async def test_search(tmp_path: Path, n: int) -> None:
    store = new_store(tmp_path)
    try:
        store.add_documents(make_docs(STORED))
        results = await asyncio.gather(
            *(store.asimilarity_search(query=f"test document {i % 50}", k=3) for i in range(n))
        )
        assert all(len(docs) == 3 for docs in results)
        # The hash embedding is a bag of words: "document 7" finds document 7 first.
        assert results[7][0].metadata["id"] == "doc_7"
        assert live(store) == STORED
    finally:
        store.close()


@pytest.mark.parametrize("n", [10, 100, 1000])
async def test_delete_by_expression(tmp_path: Path, n: int) -> None:
    store = new_store(tmp_path)
    try:
        store.add_documents(make_docs(STORED))
        await asyncio.gather(*(store.adelete(expr=f"id == 'doc_{i}'") for i in range(n)))
        assert live(store) == STORED - n
        assert await store.aget_pks(f"id == 'doc_{n - 1}'") == []
        remaining = {d.metadata["id"] for d in store.search_by_metadata("", limit=None)}
        assert remaining == {f"doc_{i}" for i in range(n, STORED)}
    finally:
        store.close()
