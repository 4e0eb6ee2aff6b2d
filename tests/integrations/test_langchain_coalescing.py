"""Concurrent store calls share embedding calls and commits (issue 7), deterministically."""

from __future__ import annotations

import asyncio
import gc
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_support import HashEmbeddings, hash_vector
from threaded_server import serve_in_thread

from shoal.client._async.http import AsyncHttpTransport
from shoal.client._async.local import AsyncLocalTransport
from shoal.engine.query import Searcher
from shoal.errors import InvalidQuery
from shoal.integrations.langchain import BM25BuiltInFunction, ShoalVectorStore


class CountingEmbeddings(HashEmbeddings):
    """Counts async calls; fails any batch containing the text 'BAD'."""

    def __init__(self, symmetric: bool) -> None:
        super().__init__()
        self.query_equals_document = symmetric
        self.document_calls: list[int] = []
        self.query_calls = 0

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.document_calls.append(len(texts))
        await asyncio.sleep(0)  # a real API yields to the loop while the request is out
        if any("BAD" in t for t in texts):
            raise ValueError("the embedding service rejected a text")
        return [hash_vector(t, self.dim) for t in texts]

    async def aembed_query(self, text: str) -> list[float]:
        self.query_calls += 1
        await asyncio.sleep(0)
        return hash_vector(text, self.dim)


def store_for(tmp_path: Path, embedding: CountingEmbeddings) -> ShoalVectorStore:
    return ShoalVectorStore(
        embedding_function=embedding,
        collection_name="c",
        connection_args={"uri": str(tmp_path / "data")},
        auto_id=True,
        drop_old=True,
    )


def commits(store: ShoalVectorStore) -> int:
    transport = store.client._transport
    return transport.database().collection("c").writer.commits  # type: ignore[union-attr]


async def test_concurrent_adds_share_embedding_calls_and_commits(tmp_path: Path) -> None:
    emb = CountingEmbeddings(symmetric=False)
    store = store_for(tmp_path, emb)
    await store.aadd_documents([Document(page_content="warm up")])  # creates the collection
    emb.document_calls.clear()
    before = commits(store)
    docs = [Document(page_content=f"doc {i}", metadata={"id": f"doc_{i}"}) for i in range(100)]
    ids = await asyncio.gather(*(store.aadd_documents([d]) for d in docs))
    assert len({i[0] for i in ids}) == 100
    assert len(emb.document_calls) <= 10 and sum(emb.document_calls) == 100
    assert commits(store) - before <= 10
    assert len(store.get_pks("id like 'doc_%'") or []) == 100


async def test_symmetric_embedding_batches_queries(tmp_path: Path) -> None:
    emb = CountingEmbeddings(symmetric=True)
    store = store_for(tmp_path, emb)
    await store.aadd_documents([Document(page_content=f"doc {i}") for i in range(20)])
    emb.document_calls.clear()
    results = await asyncio.gather(*(store.asimilarity_search(f"doc {i}", k=1) for i in range(50)))
    # A query identical to a stored text finds it first: vectors reached the right caller.
    assert [r[0].page_content for r in results[:20]] == [f"doc {i}" for i in range(20)]
    assert emb.query_calls == 0
    assert len(emb.document_calls) <= 10 and sum(emb.document_calls) == 50


async def test_asymmetric_embedding_embeds_each_query(tmp_path: Path) -> None:
    emb = CountingEmbeddings(symmetric=False)
    store = store_for(tmp_path, emb)
    await store.aadd_documents([Document(page_content=f"doc {i}") for i in range(20)])
    emb.document_calls.clear()
    await asyncio.gather(*(store.asimilarity_search(f"doc {i}", k=1) for i in range(30)))
    assert emb.query_calls == 30
    assert emb.document_calls == []


async def test_one_failing_caller_fails_alone(tmp_path: Path) -> None:
    emb = CountingEmbeddings(symmetric=False)
    store = store_for(tmp_path, emb)
    await store.aadd_documents([Document(page_content="warm up")])
    texts = [f"good {i}" for i in range(9)] + ["BAD text"]
    outcomes = await asyncio.gather(
        *(store.aadd_documents([Document(page_content=t)]) for t in texts),
        return_exceptions=True,
    )
    assert [isinstance(o, ValueError) for o in outcomes] == [False] * 9 + [True]
    found = await store.asimilarity_search("good", k=20)
    assert sorted(d.page_content for d in found if d.page_content.startswith("good")) == sorted(
        texts[:9]
    )


@pytest.mark.parametrize("n", [1, 300])
async def test_batches_are_bounded(tmp_path: Path, n: int) -> None:
    emb = CountingEmbeddings(symmetric=False)
    store = store_for(tmp_path, emb)
    store._aembedder.max_texts = 64
    await asyncio.gather(*(store.aadd_texts([f"t {i}"]) for i in range(n)))
    assert max(emb.document_calls) <= 64
    assert sum(emb.document_calls) == n


async def test_waiting_searches_hold_no_lists_of_floats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queries waiting for a busy engine carry their vectors as numpy arrays: a list of
    Python floats per waiting query is what the collector would walk, float by float."""
    dim = 37
    emb = CountingEmbeddings(symmetric=False)
    emb.dim = dim
    store = store_for(tmp_path, emb)
    await store.aadd_documents([Document(page_content=f"doc {i}") for i in range(20)])
    entered, release = threading.Event(), threading.Event()
    run_batch = Searcher.run_batch

    def gated(*args: object) -> object:
        entered.set()
        assert release.wait(30), "gate never released"
        return run_batch(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(Searcher, "run_batch", gated)
    first = asyncio.create_task(store.asimilarity_search("doc 0", k=1))
    assert await asyncio.to_thread(entered.wait, 30)
    rest = [asyncio.create_task(store.asimilarity_search(f"doc {i}", k=1)) for i in range(1, 20)]
    for _ in range(5):  # each query: embedded, then queued behind the busy engine
        await asyncio.sleep(0)
    assert emb.query_calls == 20
    waiting = sum(
        1
        for o in gc.get_objects()
        if type(o) is list and len(o) == dim and all(type(x) is float for x in o)
    )
    release.set()
    results = await asyncio.gather(first, *rest)
    assert [r[0].page_content for r in results] == [f"doc {i}" for i in range(20)]
    assert waiting == 0


@pytest.mark.parametrize("bad", ["0.5", None, [0.5]])
async def test_a_non_numeric_query_embedding_is_named(tmp_path: Path, bad: object) -> None:
    """A query vector that numpy cannot take as numbers goes to the client as it is, whose
    error names the value (the store does not coerce it)."""

    class Broken(CountingEmbeddings):
        async def aembed_query(self, text: str) -> list[float]:
            return [*hash_vector(text, self.dim)[:-1], bad]  # type: ignore[list-item]

    store = store_for(tmp_path, Broken(symmetric=False))
    await store.aadd_documents([Document(page_content="doc")])
    with pytest.raises(InvalidQuery, match=repr(bad).replace("[", r"\[")):
        await store.asimilarity_search("doc", k=1)


async def test_an_embedding_that_gives_arrays(tmp_path: Path) -> None:
    """Embeddings that return numpy arrays search as those that return lists."""

    class ArrayEmbeddings(CountingEmbeddings):
        async def aembed_query(self, text: str) -> list[float]:
            return np.asarray(hash_vector(text, self.dim), dtype=np.float32)  # type: ignore[return-value]

    found = []
    for emb in (CountingEmbeddings(symmetric=False), ArrayEmbeddings(symmetric=False)):
        store = store_for(tmp_path / type(emb).__name__, emb)
        await store.aadd_documents([Document(page_content=f"doc {i}") for i in range(10)])
        hits = await asyncio.gather(*(store.asimilarity_search(f"doc {i}", k=2) for i in range(10)))
        found.append([[d.page_content for d in h] for h in hits])
    assert found[0] == found[1] and [h[0] for h in found[0]] == [f"doc {i}" for i in range(10)]


@pytest.mark.parametrize("ranker_type", ["rrf", "weighted"])
async def test_concurrent_hybrid_searches_share_embedding_calls_and_engine_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ranker_type: str
) -> None:
    """Hybrid searches (one fused query each for RRF, one per field, one after the other,
    for the weighted ranker) join the batches of concurrent searches, and their queries'
    embeddings the batches of concurrent embedding calls."""
    emb = CountingEmbeddings(symmetric=True)
    store = ShoalVectorStore(
        embedding_function=emb,
        builtin_function=BM25BuiltInFunction(),
        collection_name="c",
        connection_args={"uri": str(tmp_path / "data")},
        drop_old=True,
    )
    texts = [f"doc {i} word{i}" for i in range(20)]
    await store.aadd_texts(texts)
    emb.document_calls.clear()
    entered, release = threading.Event(), threading.Event()
    batches: list[int] = []
    submitted: list[int] = []
    run_batch, query = Searcher.run_batch, AsyncLocalTransport.query

    def gated(searcher: Searcher, items: list[Any]) -> Any:
        batches.append(len(items))
        entered.set()
        assert release.wait(30), "gate never released"
        return run_batch(searcher, items)

    async def counted(transport: AsyncLocalTransport, *args: Any) -> Any:
        submitted.append(1)  # then queued, with no await in between
        return await query(transport, *args)

    monkeypatch.setattr(Searcher, "run_batch", gated)
    monkeypatch.setattr(AsyncLocalTransport, "query", counted)

    def search(text: str) -> asyncio.Task[list[Document]]:
        return asyncio.create_task(store.asimilarity_search(text, k=1, ranker_type=ranker_type))

    first = search(texts[0])
    assert await asyncio.to_thread(entered.wait, 30)
    rest = [search(t) for t in texts[1:]]
    while len(submitted) < 20:  # every search's (first) query queued behind the busy engine
        await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(first, *rest)
    assert [r[0].page_content for r in results] == texts
    if ranker_type == "rrf":
        assert batches == [1, 19]  # the first search's, then the rest
    else:  # each search's second query follows its first: all the second queries, in
        # at most two more batches (the first search's may go alone)
        assert sum(batches) == 40 and batches[:2] == [1, 19] and len(batches) <= 4
    assert sum(emb.document_calls) == 20 and len(emb.document_calls) <= 2
    await store.aclose()


async def test_a_weighted_search_over_http_sends_its_queries_as_one_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Against a server the weighted ranker's two queries are gathered, so the client
    sends them as one batch request (one round trip); embedded they run one after the
    other (see the test above)."""
    with serve_in_thread() as url:
        store = ShoalVectorStore(
            embedding_function=CountingEmbeddings(symmetric=True),
            builtin_function=BM25BuiltInFunction(),
            collection_name="c",
            connection_args={"uri": url},
            drop_old=True,
        )
        await store.aadd_texts([f"doc {i} word{i}" for i in range(10)])
        paths: list[str] = []
        send = AsyncHttpTransport._request

        async def counted(
            transport: AsyncHttpTransport, method: str, path: str, *a: Any, **k: Any
        ) -> Any:
            paths.append(path)
            return await send(transport, method, path, *a, **k)

        monkeypatch.setattr(AsyncHttpTransport, "_request", counted)
        found = await store.asimilarity_search("doc 3 word3", k=1, ranker_type="weighted")
        assert found[0].page_content == "doc 3 word3"
        assert paths == ["/collections/c/points/query/batch"]
        await store.aclose()
