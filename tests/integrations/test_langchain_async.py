"""ShoalVectorStore under asyncio: several loops, threads, running loops, concurrent creation."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_support import HashEmbeddings
from threaded_server import serve_in_thread

from shoal.engine.database import _shared as SHARED_DATABASES
from shoal.integrations.langchain import ShoalVectorStore

HAS_HTTP = importlib.util.find_spec("shoal.client._async.http") is not None


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    if not HAS_HTTP:
        pytest.skip("the HTTP transport is not in this build yet")
    with serve_in_thread() as url:
        yield url


@pytest.fixture(params=["memory", "path", "server"])
def connection_args(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "memory":
        return {"uri": ":memory:"}
    if request.param == "path":
        return {"uri": str(tmp_path / "store")}
    url: str = request.getfixturevalue("server_url")
    return {"uri": url}


async def round_trip(store: ShoalVectorStore, tag: str) -> list[str]:
    await store.aadd_documents(
        [Document(page_content=f"{tag} doc {i}", metadata={"tag": tag}) for i in range(5)]
    )
    docs = await store.asimilarity_search(f"{tag} doc 3", k=2, expr=f"tag == '{tag}'")
    await store.adelete(expr=f"tag == '{tag}' and text == '{tag} doc 0'")
    return [d.page_content for d in docs]


def test_asyncio_run_twice_in_one_process(connection_args: dict[str, Any]) -> None:
    store = ShoalVectorStore(
        embedding_function=HashEmbeddings(),
        connection_args=connection_args,
        collection_name="run_twice",
        drop_old=True,
    )
    try:
        first = asyncio.run(round_trip(store, "first"))
        second = asyncio.run(round_trip(store, "second"))
        assert first[0] == "first doc 3"
        assert second[0] == "second doc 3"
        # Sync methods still work after both loops are gone.
        assert store.client.count(store.collection_name).count == 8
        assert len(store.similarity_search("doc", k=20)) == 8
    finally:
        store.drop()
        store.close()


def test_worker_threads_sync_and_async(connection_args: dict[str, Any]) -> None:
    store = ShoalVectorStore(
        embedding_function=HashEmbeddings(),
        connection_args=connection_args,
        collection_name="threads",
        drop_old=True,
    )

    def work(i: int) -> int:
        if i % 2:
            store.add_texts([f"sync text {i}"], [{"i": i}], ids=[f"t{i}"])
            return len(store.similarity_search(f"sync text {i}", k=1))
        return len(asyncio.run(round_trip(store, f"thread{i}")))

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(work, range(12)))
        assert results == [2 if i % 2 == 0 else 1 for i in range(12)]
        # 6 threads x (5 added - 1 deleted) + 6 sync texts
        assert store.client.count(store.collection_name).count == 6 * 4 + 6
    finally:
        store.drop()
        store.close()


async def test_sync_methods_inside_a_running_loop(connection_args: dict[str, Any]) -> None:
    """As in Jupyter: sync calls from inside a running loop must not deadlock."""
    store = ShoalVectorStore(
        embedding_function=HashEmbeddings(),
        connection_args=connection_args,
        collection_name="running_loop",
        drop_old=True,
    )
    try:
        store.add_texts(["inside the loop"], ids=["in"])
        assert store.similarity_search("inside the loop", k=1)[0].id == "in"
        # And async methods in the same loop see the same data.
        assert (await store.aget_by_ids(["in"]))[0].page_content == "inside the loop"
        assert store.delete(["in"]) is True
        assert await store.asimilarity_search("inside", k=1) == []
    finally:
        store.drop()
        await store.aclose()


class GatedEmbeddings(HashEmbeddings):
    """Holds every aembed_documents call until ``count`` texts are waiting (a gate).

    Counting texts, not calls: the store coalesces concurrent callers' texts into a few
    calls, and every writer is released at the same moment either way."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.waiting = 0
        self.gate = asyncio.Event()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.waiting += len(texts)
        if self.waiting >= self.count:
            self.gate.set()
        await self.gate.wait()
        return self.embed_documents(texts)


async def test_concurrent_first_writes_create_the_collection_once(
    connection_args: dict[str, Any],
) -> None:
    n = 100
    embeddings = GatedEmbeddings(n)
    store = ShoalVectorStore(
        embedding_function=embeddings,
        connection_args=connection_args,
        collection_name="race",
        drop_old=True,
    )
    creates = 0
    client = store.aclient
    original = client.create_collection

    async def counting_create(*args: Any, **kwargs: Any) -> bool:
        nonlocal creates
        creates += 1
        return await original(*args, **kwargs)

    client.create_collection = counting_create  # type: ignore[method-assign]
    try:
        assert not store.client.collection_exists("race")
        docs = [Document(page_content=f"doc {i}", id=f"d{i}") for i in range(n)]
        results = await asyncio.gather(*(store.aadd_documents([d]) for d in docs))
        assert sorted(r[0] for r in results) == sorted(f"d{i}" for i in range(n))
        assert creates == 1
        assert store.client.count("race").count == n
    finally:
        store.drop()
        await store.aclose()


def test_stores_on_one_folder_share_one_database(tmp_path: Path) -> None:
    uri = {"uri": str(tmp_path / "shared")}
    a = ShoalVectorStore(embedding_function=HashEmbeddings(), connection_args=uri)
    b = ShoalVectorStore(
        embedding_function=HashEmbeddings(), connection_args=uri, collection_name="b"
    )
    a.add_texts(["in a"], ids=["a"])
    b.add_texts(["in b"], ids=["b"])
    assert a.client.get_collections() == b.client.get_collections()
    a.close()
    assert b.get_by_ids(["b"])[0].page_content == "in b"  # b still holds the database
    b.close()
    assert str(tmp_path / "shared") not in SHARED_DATABASES
    # Reopened from disk: the data is durable.
    c = ShoalVectorStore(
        embedding_function=HashEmbeddings(), connection_args=uri, collection_name="b"
    )
    assert c.get_by_ids(["b"])[0].page_content == "in b"
    c.close()


async def test_async_methods_are_native(monkeypatch: pytest.MonkeyPatch) -> None:
    """No async method runs a sync twin in a thread or touches the sync client."""
    import langchain_core.vectorstores.base as lc_base

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an async method ran sync code in an executor")

    monkeypatch.setattr(lc_base, "run_in_executor", forbidden)
    store = ShoalVectorStore(embedding_function=HashEmbeddings())
    sync_client = store.client

    class NoSync:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"an async method used the sync client ({name})")

    store._connection._client = NoSync()  # type: ignore[assignment]
    emb = store.embeddings
    docs = [Document(page_content=f"item {i}", metadata={"i": i}, id=f"i{i}") for i in range(6)]
    await store.aadd_documents(docs)
    await store.aadd_texts(["extra"], [{"i": 99}], ids=["e"])
    await store.aadd_embeddings(["vec"], [emb.embed_query("vec")], ids=["v"])
    await store.aupsert(["e"], [Document(page_content="extra 2", metadata={"i": 98})])
    assert await store.asimilarity_search("item 1", k=1)
    assert await store.asimilarity_search_by_vector(emb.embed_query("item 1"), k=1)
    assert await store.asimilarity_search_with_score("item 1", k=1)
    assert await store.asimilarity_search_with_score_by_vector(emb.embed_query("x"), k=1)
    assert await store.asimilarity_search_with_relevance_scores("item 1", k=1)
    assert await store.amax_marginal_relevance_search("item", k=2)
    assert await store.amax_marginal_relevance_search_by_vector(emb.embed_query("x"), k=2)
    assert await store.aget_by_ids(["i1"])
    assert await store.asearch_by_metadata("i < 3")
    assert len(await store.aget_pks("i < 3")) == 3
    assert await store.adelete(["i0"])
    assert await store.adelete(expr="i == 1")
    assert await store.as_retriever().ainvoke("item")
    assert await store.as_retriever(search_type="mmr").ainvoke("item")
    await store.adrop()
    store._connection._client = sync_client
    store.close()

    other = await ShoalVectorStore.afrom_texts(["a"], HashEmbeddings(), drop_old=True)
    other2 = await ShoalVectorStore.afrom_documents([Document(page_content="b")], HashEmbeddings())
    assert (
        len(await other.asimilarity_search("a")) == len(await other2.asimilarity_search("b")) == 1
    )
    other.close()
    other2.close()


def test_closed_store_refuses_work() -> None:
    store = ShoalVectorStore(embedding_function=HashEmbeddings())
    store.add_texts(["a"])
    store.close()
    store.close()  # idempotent
    from shoal.errors import ClientClosed

    with pytest.raises(ClientClosed):
        store.similarity_search("a")
    with pytest.raises(ClientClosed):
        asyncio.run(store.asimilarity_search("a"))


def test_garbage_collected_store_releases_the_folder(tmp_path: Path) -> None:
    import gc

    uri = {"uri": str(tmp_path / "gc")}
    store = ShoalVectorStore(embedding_function=HashEmbeddings(), connection_args=uri)
    store.add_texts(["a"], ids=["a"])
    del store
    gc.collect()
    assert str(tmp_path / "gc") not in SHARED_DATABASES
    again = ShoalVectorStore(embedding_function=HashEmbeddings(), connection_args=uri)
    assert again.get_by_ids(["a"])
    again.close()


def test_many_threads_start_loops_at_once() -> None:
    store = ShoalVectorStore(embedding_function=HashEmbeddings())
    barrier = threading.Barrier(8)

    def work(i: int) -> int:
        async def go() -> int:
            barrier.wait()  # every thread's loop asks for its client at the same time
            await store.aadd_texts([f"t{i}"], ids=[f"t{i}"])
            return len(await store.aget_by_ids([f"t{i}"]))

        return asyncio.run(go())

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, range(8))) == [1] * 8
    assert store.client.count(store.collection_name).count == 8
    store.close()


@pytest.mark.parametrize("where", ["memory", "path"])
def test_engine_never_runs_on_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    """Every Database / Collection call made by async methods happens off the loop thread."""
    import functools
    import inspect

    from shoal.engine import Collection, Database

    calls: list[tuple[str, bool]] = []

    def on_a_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    for cls in (Database, Collection):
        for name, fn in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") and name != "__init__":
                continue

            def logged(*a: Any, __fn: Any = fn, __name: str = f"{cls.__name__}.{name}") -> Any:
                calls.append((__name, on_a_loop()))
                return __fn(*a)

            monkeypatch.setattr(cls, name, functools.wraps(fn)(logged))

    uri = {"uri": ":memory:" if where == "memory" else str(tmp_path / "loop")}
    store = ShoalVectorStore(embedding_function=HashEmbeddings(), connection_args=uri)

    async def scenario() -> None:
        docs = [Document(page_content=f"item {i}", metadata={"i": i}) for i in range(5)]
        await asyncio.gather(*(store.aadd_documents([d]) for d in docs))
        await store.asimilarity_search("item 1", k=2, expr="i > 0")
        await store.amax_marginal_relevance_search("item", k=2)
        await store.aget_pks("i >= 0")
        await store.asearch_by_metadata("i == 1")
        await store.aadd_texts(["x"], ids=["x"])
        await store.aget_by_ids(["x"])
        await store.adelete(["x"])
        await store.adelete(expr="i == 2")
        other = await ShoalVectorStore.afrom_texts(
            ["z"], HashEmbeddings(), connection_args=uri, collection_name="z", drop_old=True
        )
        await other.asimilarity_search("z")
        await other.adrop()
        await other.aclose()

    asyncio.run(scenario())
    store.close()
    assert len(calls) > 10
    assert [n for n, on_loop in calls if on_loop] == [], "engine ran on the event loop"
