"""A cancelled write either never happens or commits whole, and which one is decided by one
moment: when the client hands it over.

A batched write (upsert, delete, payload updates) waits in the client's batcher until the
batcher's drain task takes it to the engine's worker thread or sends it to the server; a
caller cancelled before that loses the write, which is then never run. Any other write
(``batch_update_points``, ...) is handed over when its method starts it. A write handed
over runs to the end whatever its caller does. Every test holds the engine with a gate
(events), embedded (memory and storage folder) and over a real socket to an in-process
server, whose engine is the one gated.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from threaded_server import serve_in_thread

from shoal import AsyncClient, models
from shoal.engine import Collection, Database

MODES = ["memory", "path", "http"]
POINTS = 50  # points of the write that is cancelled after it was handed over


class EngineGate:
    """Holds the first engine write (``Collection.write_many`` or ``batch_update``) until
    released; ``entered`` is set once it is held, ``done`` once it has returned."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.done = threading.Event()
        self._calls = 0
        self._lock = threading.Lock()
        for name in ("write_many", "batch_update"):
            monkeypatch.setattr(Collection, name, self._wrap(getattr(Collection, name)))

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def gated(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._calls += 1
                first = self._calls == 1
            if not first:
                return fn(*args, **kwargs)
            self.entered.set()
            assert self.release.wait(30), "the gate was never released"
            try:
                return fn(*args, **kwargs)
            finally:
                self.done.set()

        return gated

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 30), "no write reached the engine"

    async def wait_done(self) -> None:
        assert await asyncio.to_thread(self.done.wait, 30), "the held write never ended"


@asynccontextmanager
async def opened(mode: str, tmp_path: Path) -> AsyncIterator[AsyncClient]:
    """An async client in ``mode`` with an empty collection "c" of 2-d vectors."""
    config = models.VectorParams(size=2, distance=models.Distance.DOT)
    if mode == "http":
        db = Database(tmp_path / "served")
        try:
            with serve_in_thread(db) as url:
                async with AsyncClient(url) as client:
                    await client.create_collection("c", config)
                    yield client
        finally:
            db.close()
        return
    async with AsyncClient(path=tmp_path / "data" if mode == "path" else None) as client:
        await client.create_collection("c", config)
        yield client


def point(i: int) -> models.PointStruct:
    return models.PointStruct(id=i, vector=[1.0, float(i)], payload={"i": i})


async def stored(client: AsyncClient) -> dict[Any, Any]:
    records, _ = await client.scroll("c", limit=1000)
    return {r.id: r.payload for r in records}


def queued_writes(client: AsyncClient) -> int:
    """Writes waiting in the client's batcher (not yet handed over)."""
    transport: Any = client._transport
    return int(transport._writes.waiting())


# A write that waits in the batcher, and what the collection holds if it never happened:
# (points written first, the queued write).
QUEUED: dict[str, tuple[list[int], Callable[[AsyncClient], Any]]] = {
    "upsert": ([], lambda c: c.upsert("c", [point(2), point(3)])),
    "delete": ([2, 3], lambda c: c.delete("c", [2, 3])),
    "set_payload": ([2, 3], lambda c: c.set_payload("c", {"i": -1}, [2, 3])),
    "clear_payload": ([2, 3], lambda c: c.clear_payload("c", [2, 3])),
}


@pytest.mark.parametrize("kind", sorted(QUEUED))
@pytest.mark.parametrize("mode", MODES)
async def test_a_write_cancelled_while_queued_never_happens(
    mode: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, write = QUEUED[kind]
    async with opened(mode, tmp_path) as client:
        if before:
            await client.upsert("c", [point(i) for i in before])
        expected = {i: {"i": i} for i in [*before, 1, 4]}
        gate = EngineGate(monkeypatch)
        # The first write holds the engine (embedded: its worker thread; http: the server's),
        # so the next one waits in the client's batcher.
        first = asyncio.create_task(client.upsert("c", [point(1)]))
        await gate.wait_entered()
        queued = asyncio.create_task(write(client))
        await asyncio.sleep(0)  # one loop step: the task queues its write, then awaits it
        assert queued_writes(client) == 1

        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        assert queued_writes(client) == 0
        gate.release.set()
        await first
        await client.upsert("c", [point(4)])  # after every write queued before it

        assert await stored(client) == expected


# A write handed over before its caller is cancelled: it must land whole (POINTS points).
HANDED_OVER: dict[str, Callable[[AsyncClient, list[models.PointStruct]], Any]] = {
    "upsert": lambda c, pts: c.upsert("c", pts),  # through the batcher
    "batch_update_points": lambda c, pts: c.batch_update_points(  # shielded, no batcher
        "c",
        [
            models.UpsertOperation(upsert=models.PointsList(points=pts)),
            models.SetPayloadOperation(
                set_payload=models.SetPayload(payload={"b": 1}, points=[p.id for p in pts])
            ),
        ],
    ),
}


@pytest.mark.parametrize("kind", sorted(HANDED_OVER))
@pytest.mark.parametrize("mode", MODES)
async def test_a_write_cancelled_after_handover_commits_whole(
    mode: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with opened(mode, tmp_path) as client:
        gate = EngineGate(monkeypatch)
        points = [point(i) for i in range(POINTS)]
        task = asyncio.create_task(HANDED_OVER[kind](client, points))
        await gate.wait_entered()  # the engine has it (over http: the request reached it)

        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await stored(client) == {}  # still held: nothing of it is visible yet
        gate.release.set()
        await gate.wait_done()

        payload = {"b": 1} if kind == "batch_update_points" else {}
        assert await stored(client) == {i: {"i": i, **payload} for i in range(POINTS)}


@pytest.mark.parametrize("mode", MODES)
async def test_a_write_cancelled_before_the_batcher_runs_never_happens(
    mode: str, tmp_path: Path
) -> None:
    async with opened(mode, tmp_path) as client:
        task = asyncio.create_task(client.upsert("c", [point(1)]))
        await asyncio.sleep(0)  # queued; the drain task has not run yet
        assert queued_writes(client) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.upsert("c", [point(2)])
        assert await stored(client) == {2: {"i": 2}}
