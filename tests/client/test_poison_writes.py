"""One bad write among 300 concurrent ones fails alone; every good write lands exactly once.

A "poison" is a write that passes the request model but that storage cannot hold (too deep,
an integer beyond 64 bits, a lone surrogate, a numpy scalar the serialiser refuses), or a
fault of the commit itself. Each runs on an in-memory database, a storage folder and a
served one over a real socket, with ``wait=True`` and ``wait=False``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from threaded_server import serve_in_thread

from shoal import AsyncClient, errors, models
from shoal.engine import Database
from shoal.engine.writes import GroupCommitter
from shoal.payloads import MAX_PAYLOAD_DEPTH
from shoal.storage import CollectionStore

WRITERS = 300
BAD = 150  # the id of the poisoned write
SENTINEL = 10_000


def nested(levels: int) -> dict[str, Any]:
    """A payload nesting objects ``levels`` deep (the payload itself is level 1)."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


# poison name -> (payload of the bad point, text its error must contain)
POISONS: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    # Between Shoal's limit and what the serialiser (orjson) can store.
    "deep": (lambda: {"n": nested(MAX_PAYLOAD_DEPTH + 50)}, f"deeper than {MAX_PAYLOAD_DEPTH}"),
    # Deeper than the serialiser can store at all.
    "deeper": (lambda: {"n": nested(600)}, f"deeper than {MAX_PAYLOAD_DEPTH}"),
    "huge_int": (lambda: {"x": 2**70}, "payload.x: the integer 1180591620717411303424"),
    "surrogate_value": (lambda: {"x": "a\ud800"}, "payload.x: 'a\\ud800' is not valid Unicode"),
    "surrogate_key": (lambda: {"k\udfff": 1}, "payload.k\\udfff: 'k\\udfff' is not valid"),
    "numpy_float_ok": (lambda: {"x": np.float64(0.5)}, ""),  # stored as a plain float
}


def vec(i: int) -> list[float]:
    return [float(i % 7) + 1.0, float(i % 5), 1.0, float(i % 3)]


@asynccontextmanager
async def opened(mode: str, tmp_path: Path) -> AsyncIterator[tuple[AsyncClient, Database]]:
    """An async client in ``mode`` with a collection "c", and the engine behind it."""
    if mode == "http":
        db = Database(tmp_path / "served")
        with serve_in_thread(db) as url:
            async with AsyncClient(url) as client:
                await client.create_collection(
                    "c", models.VectorParams(size=4, distance=models.Distance.DOT)
                )
                yield client, db
        db.close()
        return
    client = AsyncClient(path=tmp_path / "data") if mode == "path" else AsyncClient()
    async with client:
        await client.create_collection(
            "c", models.VectorParams(size=4, distance=models.Distance.DOT)
        )
        yield client, client._transport.database()  # type: ignore[union-attr]


async def write_all(
    client: AsyncClient, bad_payload: dict[str, Any] | None, wait: bool
) -> list[models.UpdateResult | BaseException]:
    async def one(i: int) -> models.UpdateResult:
        payload = bad_payload if i == BAD and bad_payload is not None else {"i": i}
        point = models.PointStruct(id=i, vector=vec(i), payload=payload)
        return await client.upsert("c", [point], wait=wait)

    return await asyncio.gather(*(one(i) for i in range(WRITERS)), return_exceptions=True)


async def present(client: AsyncClient) -> dict[int, Any]:
    records, _ = await client.scroll("c", limit=WRITERS * 2)
    assert len(records) == len({r.id for r in records})  # each point exactly once
    return {int(r.id): r.payload for r in records if r.id != SENTINEL}  # type: ignore[arg-type]


def assert_good_writes(outcomes: list[Any], wait: bool, skip: int | None) -> None:
    status = models.UpdateStatus.COMPLETED if wait else models.UpdateStatus.ACKNOWLEDGED
    for i, outcome in enumerate(outcomes):
        if i != skip:
            assert isinstance(outcome, models.UpdateResult), (i, outcome)
            assert outcome.status == status


@pytest.mark.parametrize("wait", [True, False])
@pytest.mark.parametrize("mode", ["memory", "path", "http"])
@pytest.mark.parametrize("poison", sorted(POISONS))
async def test_a_poisoned_payload_fails_only_its_write(
    poison: str, mode: str, wait: bool, tmp_path: Path
) -> None:
    make, message = POISONS[poison]
    async with opened(mode, tmp_path) as (client, _):
        outcomes = await write_all(client, make(), wait)
        await client.upsert("c", [models.PointStruct(id=SENTINEL, vector=vec(0))])  # a flush
        stored = await present(client)
        if not message:  # a value that is stored in plain form
            assert_good_writes(outcomes, wait, None)
            assert stored[BAD] == {"x": 0.5} and type(stored[BAD]["x"]) is float
            assert sorted(stored) == list(range(WRITERS))
            return
        bad = outcomes[BAD]
        assert isinstance(bad, errors.InvalidPayload), bad
        assert f"point {BAD} payload" in str(bad) and message in str(bad)
        assert_good_writes(outcomes, wait, BAD)
        assert sorted(stored) == [i for i in range(WRITERS) if i != BAD]
        assert all(stored[i] == {"i": i} for i in stored)


def fail_group_with_bad_point(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Make the commit itself raise OSError for any group holding point BAD."""
    if mode == "memory":
        persist = GroupCommitter._persist

        def faulty_persist(self: GroupCommitter, overlay: dict[Any, Any]) -> int:
            if BAD in overlay:
                raise OSError(28, "No space left on device")
            return persist(self, overlay)

        monkeypatch.setattr(GroupCommitter, "_persist", faulty_persist)
        return
    commit = CollectionStore.commit

    def faulty_commit(self: CollectionStore, upserts: Any, *args: Any, **kwargs: Any) -> None:
        if any(row[0] == str(BAD) for row in upserts):
            raise OSError(28, "No space left on device")
        commit(self, upserts, *args, **kwargs)

    monkeypatch.setattr(CollectionStore, "commit", faulty_commit)


@pytest.mark.parametrize("wait", [True, False])
@pytest.mark.parametrize("mode", ["memory", "path", "http"])
async def test_a_commit_fault_fails_only_the_write_it_hits(
    mode: str, wait: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with opened(mode, tmp_path) as (client, _):
        fail_group_with_bad_point(monkeypatch, mode)
        outcomes = await write_all(client, None, wait)
        sentinel = [models.PointStruct(id=SENTINEL, vector=vec(0))]
        if wait:
            assert isinstance(outcomes[BAD], errors.StorageError), outcomes[BAD]
            assert "No space left on device" in str(outcomes[BAD])
        else:
            # Acknowledged with a real operation id, then lost: the next call says which.
            lost = outcomes[BAD]
            assert isinstance(lost, models.UpdateResult) and lost.operation_id is not None
            with pytest.raises(errors.StorageError, match=f"operation id {lost.operation_id}"):
                for _ in range(50):  # the flusher may not have reached it yet
                    await client.upsert("c", sentinel)
        await client.upsert("c", sentinel)  # reported once: the next call works
        assert_good_writes(outcomes, wait, BAD)
        assert sorted(await present(client)) == [i for i in range(WRITERS) if i != BAD]


@pytest.mark.parametrize("mode", ["memory", "path", "http"])
async def test_wait_false_returns_increasing_operation_ids(mode: str, tmp_path: Path) -> None:
    async with opened(mode, tmp_path) as (client, _):
        ids = []
        for i in range(5):
            result = await client.upsert("c", [models.PointStruct(id=i, vector=vec(i))], False)
            assert result.status == models.UpdateStatus.ACKNOWLEDGED
            ids.append(result.operation_id)
        assert ids == sorted(ids) and len(set(ids)) == 5 and ids[0] is not None
        done = await client.upsert("c", [models.PointStruct(id=9, vector=vec(9))])
        assert done.operation_id is not None and done.operation_id > ids[-1]


def test_memory_and_path_refuse_the_same_depth(tmp_path: Path) -> None:
    from shoal import Client

    for client in (Client(), Client(path=tmp_path)):
        with client:
            client.create_collection("c", models.VectorParams(size=4, distance="Dot"))
            ok = models.PointStruct(id=1, vector=vec(1), payload=nested(MAX_PAYLOAD_DEPTH))
            client.upsert("c", [ok])
            deep = models.PointStruct(id=2, vector=vec(2), payload=nested(MAX_PAYLOAD_DEPTH + 1))
            with pytest.raises(errors.InvalidPayload, match="point 2 payload"):
                client.upsert("c", [deep])
            # A nested key counts its levels towards the limit.
            with pytest.raises(errors.InvalidPayload, match="deeper than"):
                client.set_payload("c", nested(MAX_PAYLOAD_DEPTH - 1), [1], key="k.j")
            assert client.count("c").count == 1
