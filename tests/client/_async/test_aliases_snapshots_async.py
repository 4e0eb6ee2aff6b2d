"""Aliases and snapshots through the clients: embedded (``path=``) and over HTTP against
``shoal serve`` answer alike, aliases agree with qdrant-client's local mode, and the errors
are the typed ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm

from shoal import AsyncClient, errors, models

VEC = models.VectorParams(size=2, distance="Dot")


@pytest.fixture
async def client(where: dict[str, str]) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(**where) as opened:  # type: ignore[arg-type]
        yield opened


async def fill(client: AsyncClient, name: str, ids: range) -> None:
    if not await client.collection_exists(name):
        await client.create_collection(name, VEC)
    points = [models.PointStruct(id=i, vector=[1.0, i], payload={"i": i}) for i in ids]
    await client.upsert(name, points)


async def ids_of(client: AsyncClient, name: str) -> list[int]:
    records, _ = await client.scroll(name, limit=1000)
    return sorted(int(r.id) for r in records)


def alias_names(response: models.CollectionsAliasesResponse) -> list[tuple[str, str]]:
    return sorted((a.alias_name, a.collection_name) for a in response.aliases)


async def test_aliases_work_wherever_a_name_does(client: AsyncClient) -> None:
    await fill(client, "a", range(3))
    await fill(client, "b", range(10, 12))
    assert await client.update_collection_aliases(
        [
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name="a", alias_name="live")
            ),
            {"create_alias": {"collection_name": "b", "alias_name": "old"}},
        ]
    )
    assert alias_names(await client.get_aliases()) == [("live", "a"), ("old", "b")]
    assert alias_names(await client.get_collection_aliases("b")) == [("old", "b")]
    assert await ids_of(client, "live") == [0, 1, 2]
    await client.upsert("live", [models.PointStruct(id=7, vector=[0.0, 1.0])])
    assert await ids_of(client, "a") == [0, 1, 2, 7]
    # Switching an alias is atomic: delete and create in one call.
    await client.update_collection_aliases(
        [
            {"delete_alias": {"alias_name": "live"}},
            {"create_alias": {"collection_name": "b", "alias_name": "live"}},
        ]
    )
    assert await ids_of(client, "live") == [10, 11]


async def test_a_refused_alias_change_changes_nothing(client: AsyncClient) -> None:
    await fill(client, "a", range(1))
    await client.update_collection_aliases(
        [{"create_alias": {"collection_name": "a", "alias_name": "x"}}]
    )
    with pytest.raises(errors.AliasNotFound, match="nope"):
        await client.update_collection_aliases(
            [
                {"create_alias": {"collection_name": "a", "alias_name": "y"}},
                {"rename_alias": {"old_alias_name": "nope", "new_alias_name": "z"}},
            ]
        )
    with pytest.raises(errors.CollectionNotFound, match="ghost"):
        await client.update_collection_aliases(
            [{"create_alias": {"collection_name": "ghost", "alias_name": "y"}}]
        )
    with pytest.raises(errors.BadRequest):
        await client.update_collection_aliases([{"make_alias": {}}])  # type: ignore[list-item]
    assert alias_names(await client.get_aliases()) == [("x", "a")]


async def test_snapshot_and_recover_a_collection(client: AsyncClient) -> None:
    await fill(client, "c", range(5))
    made = await client.create_snapshot("c")
    assert made is not None and made.size > 0 and made.checksum is not None
    await fill(client, "c", range(5, 9))  # after the snapshot
    assert [s.name for s in await client.list_snapshots("c")] == [made.name]
    location = f"c/{made.name}"  # relative to the snapshots folder
    with pytest.raises(errors.InvalidSnapshot, match="checksum"):
        await client.recover_snapshot("c", location, checksum="0" * 64)
    assert await ids_of(client, "c") == list(range(9))  # a refused recover changes nothing
    assert await client.recover_snapshot("c", location, checksum=made.checksum)
    assert await ids_of(client, "c") == list(range(5))
    assert await client.recover_snapshot("copy", location)  # into a new collection
    assert await ids_of(client, "copy") == list(range(5))
    assert await client.delete_snapshot("c", made.name)
    assert await client.list_snapshots("c") == []
    with pytest.raises(errors.SnapshotNotFound, match=made.name):
        await client.delete_snapshot("c", made.name)


async def test_full_snapshots(client: AsyncClient) -> None:
    await fill(client, "a", range(2))
    await fill(client, "b", range(3))
    assert await client.create_full_snapshot(wait=False) is None  # taken, not described
    (full,) = await client.list_full_snapshots()
    assert full.name.startswith("full-") and full.size > 0
    with pytest.raises(errors.InvalidSnapshot, match="full snapshot"):
        await client.recover_snapshot("a", full.name)
    assert await client.delete_full_snapshot(full.name, wait=False) is None
    assert await client.list_full_snapshots() == []


async def test_recover_refuses_what_one_node_cannot_do(client: AsyncClient) -> None:
    await fill(client, "c", range(1))
    made = await client.create_snapshot("c")
    assert made is not None
    with pytest.raises(errors.NotSupported, match="http"):
        await client.recover_snapshot("c", "http://example.com/c.snapshot")
    with pytest.raises(errors.NotSupported, match="replica"):
        await client.recover_snapshot("c", f"c/{made.name}", priority="replica")
    with pytest.raises(errors.NotSupported, match="api_key"):
        await client.recover_snapshot("c", f"c/{made.name}", api_key="k")
    with pytest.raises(errors.BadRequest, match="outside the snapshots folder"):
        await client.recover_snapshot("c", "/etc/passwd")
    with pytest.raises(errors.BadRequest):
        await client.recover_snapshot("c", f"c/{made.name}", priority="soon")  # type: ignore[arg-type]
    assert await client.recover_snapshot("c", f"c/{made.name}", priority="snapshot")


async def test_snapshots_need_a_storage_folder() -> None:
    async with AsyncClient() as memory:
        await fill(memory, "c", range(1))
        with pytest.raises(errors.NotSupported, match="in-memory"):
            await memory.create_snapshot("c")


async def test_aliases_agree_with_qdrant_client_local_mode(tmp_path: Path) -> None:
    def create(collection: str, alias: str) -> qm.CreateAliasOperation:
        return qm.CreateAliasOperation(
            create_alias=qm.CreateAlias(collection_name=collection, alias_name=alias)
        )

    rename = qm.RenameAlias(old_alias_name="x", new_alias_name="z")
    operations: list[list[qm.AliasOperations]] = [
        [create("a", "x")],
        [create("b", "y")],
        [qm.RenameAliasOperation(rename_alias=rename)],
        [qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name="y"))],
        [create("a", "y"), create("b", "w")],
    ]
    theirs = AsyncQdrantClient(":memory:")
    async with AsyncClient(path=tmp_path) as ours:
        for name in ("a", "b"):
            await ours.create_collection(name, VEC)
            await theirs.create_collection(name, qm.VectorParams(size=2, distance=qm.Distance.DOT))
        for step in operations:
            assert await ours.update_collection_aliases(step) == (
                await theirs.update_collection_aliases(step)
            )
            expected = sorted(
                (a.alias_name, a.collection_name) for a in (await theirs.get_aliases()).aliases
            )
            assert alias_names(await ours.get_aliases()) == expected
            for name in ("a", "b"):
                mine = alias_names(await ours.get_collection_aliases(name))
                local = (await theirs.get_collection_aliases(name)).aliases
                assert mine == sorted((a.alias_name, a.collection_name) for a in local)
    await theirs.close()
