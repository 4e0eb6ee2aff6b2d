"""The async client never runs engine work on the event loop's thread.

Every public method of the engine's Database and Collection is wrapped to record the
thread it runs on. The control test calls the engine on the loop on purpose and must be
caught by the same check, so the check itself is known to work.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal import AsyncClient, Client, models
from shoal.engine import Collection, Database


class ThreadLog:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def on_thread(self, ident: int) -> list[str]:
        return [name for name, t in self.calls if t == ident]


@pytest.fixture
def engine_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadLog]:
    log = ThreadLog()
    for cls in (Database, Collection):
        for name, fn in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") and name != "__init__":
                continue

            def wrapper(
                *args: Any, __fn: Callable[..., Any] = fn, __name: str = f"{cls.__name__}.{name}"
            ) -> Any:
                log.calls.append((__name, threading.get_ident()))
                return __fn(*args)

            monkeypatch.setattr(cls, name, functools.wraps(fn)(wrapper))
    yield log


async def scenario(client: AsyncClient) -> None:
    await client.create_collection("c", models.VectorParams(size=3, distance="Cosine"))
    await client.upsert(
        "c", [models.PointStruct(id=i, vector=[1.0, i, 0.5], payload={"i": i}) for i in range(20)]
    )
    await client.query_points("c", query=[1.0, 2.0, 0.5], limit=3, query_filter="i > 3")
    await client.query_batch_points("c", [models.QueryRequest(query=[1, 0, 0], limit=2)])
    await client.scroll("c", limit=5)
    await client.count("c", count_filter="i < 10")
    await client.retrieve("c", [1, 2])
    await client.set_payload("c", {"x": 1}, points=[1])
    await client.overwrite_payload("c", {"x": 2}, points=[1])
    await client.delete_payload("c", ["x"], points=[1])
    await client.clear_payload("c", [2])
    await client.create_payload_index("c", "i", "integer")
    await client.get_collection("c")
    await client.get_collections()
    await client.collection_exists("c")
    await client.delete("c", [3])
    await client.delete_collection("c")


@pytest.mark.parametrize("where", ["memory", "disk"])
async def test_engine_never_runs_on_the_loop(
    engine_threads: ThreadLog, tmp_path: Path, where: str
) -> None:
    loop_thread = threading.get_ident()
    client = AsyncClient(":memory:") if where == "memory" else AsyncClient(path=tmp_path)
    await scenario(client)
    await client.close()
    assert len(engine_threads.calls) > 20
    assert engine_threads.on_thread(loop_thread) == [], "engine ran on the event loop"


async def test_control_engine_on_loop_is_caught(engine_threads: ThreadLog) -> None:
    loop_thread = threading.get_ident()
    client = AsyncClient(":memory:")
    await scenario(client)
    # Deliberately call the engine from the loop, as a careless transport would.
    db = client._transport.database()  # type: ignore[union-attr]
    db.collection_exists("c")
    await client.close()
    assert engine_threads.on_thread(loop_thread) == ["Database.collection_exists"]


def test_sync_client_calls_engine_inline(engine_threads: ThreadLog) -> None:
    me = threading.get_ident()
    with Client(":memory:") as client:
        client.create_collection("c", models.VectorParams(size=2, distance="Dot"))
        client.upsert("c", [models.PointStruct(id=1, vector=[1, 2])])
        client.query_points("c", query=[1, 0])
    assert engine_threads.calls and all(t == me for _, t in engine_threads.calls)


async def test_concurrent_tasks_share_engine() -> None:
    async with AsyncClient(":memory:") as client:
        await client.create_collection("c", models.VectorParams(size=2, distance="Dot"))
        await asyncio.gather(
            *(client.upsert("c", [models.PointStruct(id=i, vector=[1, i])]) for i in range(50))
        )
        assert (await client.count("c")).count == 50
