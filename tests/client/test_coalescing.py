"""Concurrent calls are coalesced: searches into batched engine passes, writes into group
commits. Deterministic: the engine is held busy by a gate (events), never by sleeps."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shoal import AsyncClient, Client, errors, models
from shoal.engine.query import Searcher
from shoal.engine.writes import GroupCommitter

DIM = 8


def vec(i: int) -> list[float]:
    rng = np.random.default_rng(i)
    return [float(x) for x in rng.standard_normal(DIM)]


class Gate:
    """Blocks the first call of a wrapped engine function until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.sizes: list[int] = []

    def wrap(self, fn: Callable[..., Any], size: Callable[..., int]) -> Callable[..., Any]:
        def gated(*args: Any) -> Any:
            self.sizes.append(size(*args))
            if len(self.sizes) == 1:
                self.entered.set()
                assert self.release.wait(30), "gate never released"
            return fn(*args)

        return gated


async def make_client(tmp_path: Path, n: int = 100) -> AsyncClient:
    client = AsyncClient(path=tmp_path)
    await client.create_collection("c", models.VectorParams(size=DIM, distance="Cosine"))
    await client.upsert(
        "c", [models.PointStruct(id=i, vector=vec(i), payload={"i": i}) for i in range(n)]
    )
    return client


async def busy_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[AsyncClient, Gate, asyncio.Task[models.QueryResponse]]:
    """A client whose engine is held busy running a first search (nearest to point 0),
    with a gate recording the size of each batch of queries it runs."""
    client = await make_client(tmp_path)
    gate = Gate()
    monkeypatch.setattr(
        Searcher, "run_batch", gate.wrap(Searcher.run_batch, lambda s, items: len(items))
    )
    first = asyncio.create_task(client.query_points("c", query=vec(0), limit=1))
    assert await asyncio.to_thread(gate.entered.wait, 30)
    return client, gate, first


async def test_searches_while_engine_busy_share_few_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, gate, first = await busy_engine(tmp_path, monkeypatch)
    rest = [
        asyncio.create_task(client.query_points("c", query=vec(i), limit=1)) for i in range(1, 100)
    ]
    await asyncio.sleep(0)  # one loop tick: every task has queued its search
    gate.release.set()
    responses = await asyncio.gather(first, *rest)

    assert len(gate.sizes) <= 10, gate.sizes
    assert sum(gate.sizes) == 100
    # Fanned back out correctly: each query's nearest point is the point it was made from.
    assert [r.points[0].id for r in responses] == list(range(100))
    await client.close()


async def test_a_query_batch_joins_the_concurrent_searches_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, gate, first = await busy_engine(tmp_path, monkeypatch)
    requests = [models.QueryRequest(query=vec(i), limit=1) for i in (1, 2, 3)]
    batch = asyncio.create_task(client.query_batch_points("c", requests))
    single = asyncio.create_task(client.query_points("c", query=vec(4), limit=1))
    await asyncio.sleep(0)  # both queued behind the running batch
    gate.release.set()
    await first
    answers, alone = await batch, await single

    assert gate.sizes == [1, 4]  # the batch's three queries and the single one: one pass
    assert [r.points[0].id for r in answers] == [1, 2, 3]
    assert alone.points[0].id == 4
    with pytest.raises(errors.WrongVectorSize):  # a bad query fails the whole call
        await client.query_batch_points("c", [*requests, models.QueryRequest(query=[1.0])])
    await client.close()


def test_searches_from_threads_coalesce(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Client(path=tmp_path) as client:
        client.create_collection("c", models.VectorParams(size=DIM, distance="Cosine"))
        client.upsert("c", [models.PointStruct(id=i, vector=vec(i)) for i in range(50)])
        queries = client._transport._queries  # type: ignore[union-attr]
        gate = Gate()
        monkeypatch.setattr(
            Searcher, "run_batch", gate.wrap(Searcher.run_batch, lambda s, items: len(items))
        )
        results: dict[int, Any] = {}

        def search(i: int) -> None:
            results[i] = client.query_points("c", query=vec(i), limit=1).points[0].id

        threads = [threading.Thread(target=search, args=(i,)) for i in range(50)]
        threads[0].start()
        assert gate.entered.wait(30)
        for t in threads[1:]:
            t.start()
        # Gate on state, not time: wait until the other 49 searches are queued.
        while queries.waiting() < 49:
            threading.Event().wait(0.001)
        gate.release.set()
        for t in threads:
            t.join()
    assert gate.sizes == [1, 49]
    assert results == {i: i for i in range(50)}


async def test_concurrent_adds_share_few_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(tmp_path, n=0)
    col = client._transport.database().collection("c")  # type: ignore[union-attr]
    commits_before = col.writer.commits
    gate = Gate()
    monkeypatch.setattr(
        GroupCommitter, "_persist", gate.wrap(GroupCommitter._persist, lambda s, o: len(o))
    )
    first = asyncio.create_task(client.upsert("c", [models.PointStruct(id=0, vector=vec(0))]))
    assert await asyncio.to_thread(gate.entered.wait, 30)
    rest = [
        asyncio.create_task(client.upsert("c", [models.PointStruct(id=i, vector=vec(i))]))
        for i in range(1, 100)
    ]
    await asyncio.sleep(0)
    gate.release.set()
    results = await asyncio.gather(first, *rest)
    assert all(r.status == models.UpdateStatus.COMPLETED for r in results)
    assert col.writer.commits - commits_before <= 10
    assert (await client.count("c")).count == 100
    await client.close()
    # Every acknowledged write is durable.
    with Client(path=tmp_path) as reopened:
        assert reopened.count("c").count == 100


def test_sync_add_is_one_commit_without_thread_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    original = GroupCommitter._persist

    def recording(self: GroupCommitter, overlay: Any) -> None:
        threads.append(threading.get_ident())
        original(self, overlay)

    monkeypatch.setattr(GroupCommitter, "_persist", recording)
    with Client(path=tmp_path) as client:
        client.create_collection("c", models.VectorParams(size=DIM, distance="Cosine"))
        col = client._transport.database().collection("c")  # type: ignore[union-attr]
        before = col.writer.commits
        client.upsert("c", [models.PointStruct(id=1, vector=vec(1))])
        assert col.writer.commits - before == 1
    assert threads == [threading.get_ident()]


async def test_bad_write_in_a_group_fails_only_its_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(tmp_path, n=0)
    col = client._transport.database().collection("c")  # type: ignore[union-attr]
    gate = Gate()
    monkeypatch.setattr(
        GroupCommitter, "_persist", gate.wrap(GroupCommitter._persist, lambda s, o: len(o))
    )
    first = asyncio.create_task(client.upsert("c", [models.PointStruct(id=0, vector=vec(0))]))
    assert await asyncio.to_thread(gate.entered.wait, 30)
    good = [
        asyncio.create_task(client.upsert("c", [models.PointStruct(id=i, vector=vec(i))]))
        for i in range(1, 6)
    ]
    wrong_dim = asyncio.create_task(
        client.upsert("c", [models.PointStruct(id=99, vector=[1.0, 2.0])])
    )
    missing = asyncio.create_task(client.set_payload("c", {"a": 1}, points=[12345]))
    await asyncio.sleep(0)
    gate.release.set()
    await asyncio.gather(first, *good)
    with pytest.raises(errors.WrongVectorSize):
        await wrong_dim
    with pytest.raises(errors.PointNotFound):
        await missing
    assert len(gate.sizes) == 2  # the five good writes committed together, after the first
    assert (await client.count("c")).count == 6
    assert col.state.row(99) is None
    await client.close()
