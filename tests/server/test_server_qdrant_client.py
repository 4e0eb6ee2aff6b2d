"""The official qdrant-client (1.20.0, REST) against `shoal serve`: it works unchanged, every
body validates against Qdrant's OpenAPI spec, and results equal Shoal's own client's."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from importlib.metadata import version
from types import ModuleType
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import UnexpectedResponse
from server_support import Recorder, ServerProcess, http_client
from threaded_server import join_version_checks

from shoal import AsyncClient, Client
from shoal import models as sm


def test_pinned_client_version() -> None:
    assert version("qdrant-client") == "1.20.0"


async def test_readme_program(served: ServerProcess) -> None:
    # Acceptance: this program runs unmodified against `shoal serve`.
    from qdrant_client import AsyncQdrantClient, models

    client = AsyncQdrantClient(served.url)
    try:
        await client.create_collection(
            collection_name="my_collection",
            vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE),
        )
        await client.upsert(
            collection_name="my_collection",
            points=[
                models.PointStruct(
                    id="5c56c793-69f3-4fbf-87e6-c4bf54c28c26",
                    payload={"color": "red"},
                    vector=[0.9, 0.1, 0.1, 0.5],
                ),
            ],
        )
        res = await client.query_points(
            collection_name="my_collection", query=[0.9, 0.1, 0.1, 0.5], limit=2
        )
        assert res.points[0].id == "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
        assert res.points[0].payload == {"color": "red"}
        assert res.points[0].score == pytest.approx(1.0)
    finally:
        await client.delete_collection("my_collection")
        await client.close()
        join_version_checks()


# ---------------------------------------------------------------- same results


def vec(i: int) -> list[float]:
    return [math.cos(i * 0.7 + k) + 1.1 for k in range(4)]


Step = tuple[str, tuple[Any, ...], dict[str, Any]]


def flow(mm: ModuleType, name: str) -> list[Step]:
    """The acceptance's operations, written once for qdrant-client's or Shoal's models."""

    def s(method: str, *args: Any, **kwargs: Any) -> Step:
        return (method, args, kwargs)

    red = mm.Filter(must=[mm.FieldCondition(key="color", match=mm.MatchValue(value="red"))])
    big = mm.Filter(must=[mm.FieldCondition(key="n", range=mm.Range(gte=5))])
    points = [
        mm.PointStruct(id=i, vector=vec(i), payload={"color": ["red", "blue"][i % 2], "n": i})
        for i in range(1, 11)
    ]
    batch = mm.Batch(
        ids=["aaaaaaaa-0000-4000-8000-000000000001", 20],
        vectors=[vec(20), vec(21)],
        payloads=[{"color": "red", "n": 20}, {}],
    )
    return [
        s("collection_exists", name),
        s("create_collection", name, vectors_config=mm.VectorParams(size=4, distance="Cosine")),
        s("collection_exists", name),
        s("get_collection", name),
        s("upsert", name, points=points),
        s("upsert", name, points=batch),
        s("retrieve", name, ids=[1, 20, "aaaaaaaa-0000-4000-8000-000000000001", 777]),
        s("retrieve", name, ids=[2], with_vectors=True),
        s("scroll_all", name, limit=4),
        s("scroll_all", name, scroll_filter=red, limit=2),
        s("count", name),
        s("count", name, count_filter=big),
        s("query_points", name, query=vec(3), limit=5),
        s("query_points", name, query=vec(3), query_filter=red, limit=3, with_vectors=True),
        s("query_points", name, query=vec(3), query_filter=big, score_threshold=0.5, limit=3),
        s("query_points", name, query=4, limit=2, with_payload=False),
        s(
            "query_batch_points",
            name,
            requests=[
                mm.QueryRequest(query=vec(1), limit=2, with_payload=True),
                mm.QueryRequest(query=vec(2), filter=red, limit=3),
            ],
        ),
        s("set_payload", name, payload={"extra": 1}, points=[1, 2]),
        s("set_payload", name, payload={"flag": True}, points=red),
        s("overwrite_payload", name, payload={"only": "this"}, points=[3]),
        s("delete_payload", name, keys=["color"], points=[4]),
        s("clear_payload", name, points_selector=[5]),
        s("retrieve", name, ids=[1, 2, 3, 4, 5, 20]),
        s(
            "batch_update_points",
            name,
            update_operations=[
                mm.UpsertOperation(
                    upsert=mm.PointsList(points=[mm.PointStruct(id=30, vector=vec(30))])
                ),
                mm.SetPayloadOperation(set_payload=mm.SetPayload(payload={"t": 1}, points=[30, 6])),
                mm.DeleteOperation(delete=mm.PointIdsList(points=[7])),
                mm.OverwritePayloadOperation(
                    overwrite_payload=mm.SetPayload(payload={"only": 8}, points=[8])
                ),
                mm.DeletePayloadOperation(delete_payload=mm.DeletePayload(keys=["n"], points=[9])),
                mm.ClearPayloadOperation(clear_payload=mm.PointIdsList(points=[10])),
                mm.UpsertOperation(
                    upsert=mm.PointsBatch(batch=mm.Batch(ids=[31], vectors=[vec(31)]))
                ),
            ],
        ),
        s("retrieve", name, ids=[6, 7, 8, 9, 10, 30, 31]),
        s("create_payload_index", name, field_name="color", field_schema="keyword"),
        s("get_collection", name),
        s("facet", name, key="color", facet_filter=big, limit=5, consistency="majority"),
        s("search_matrix_pairs", name, limit=2, sample=100),
        s("search_matrix_offsets", name, query_filter=red, sample=100, timeout=10),
        s("delete", name, points_selector=mm.PointIdsList(points=[1, 2])),
        s("delete", name, points_selector=mm.FilterSelector(filter=big)),
        s("count", name),
        s("scroll_all", name, limit=100),
        s("delete_payload_index", name, field_name="color"),
        s("delete_collection", name),
        s("collection_exists", name),
    ]


def plain(value: Any) -> Any:
    """A result as plain data; the two libraries' models dump to the same JSON shapes."""
    if isinstance(value, BaseModel):
        data = value.model_dump(mode="json", exclude_none=True, by_alias=True)
        if "config" in data and "payload_schema" in data:
            # CollectionInfo: qdrant-client fills in defaults of fields Shoal does not model
            # (wal_retain_closed...); compare what both report.
            return {
                "points_count": data["points_count"],
                "vectors": data["config"]["params"]["vectors"],
                "hnsw": data["config"]["hnsw_config"],
                "payload_schema": data["payload_schema"],
                "status": data["status"],
            }
        return data
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def run_flow(client: Any, steps: list[Step]) -> list[Any]:
    out = []
    for method, args, kwargs in steps:
        if method == "scroll_all":
            pages, offset = [], None
            while True:
                records, offset = client.scroll(*args, offset=offset, **kwargs)
                pages.append(plain(records))
                if offset is None:
                    break
            out.append(pages)
        else:
            out.append(plain(getattr(client, method)(*args, **kwargs)))
    return out


async def arun_flow(client: Any, steps: list[Step]) -> list[Any]:
    out = []
    for method, args, kwargs in steps:
        if method == "scroll_all":
            pages, offset = [], None
            while True:
                records, offset = await client.scroll(*args, offset=offset, **kwargs)
                pages.append(plain(records))
                if offset is None:
                    break
            out.append(pages)
        else:
            out.append(plain(await getattr(client, method)(*args, **kwargs)))
    return out


@pytest.fixture
def qdrant(served: ServerProcess, recorder: Recorder) -> Iterator[QdrantClient]:
    client = QdrantClient(url=served.url, prefer_grpc=False, event_hooks=recorder.hooks)
    try:
        yield client
    finally:
        client.close()
        join_version_checks()


def test_official_sync_client(qdrant: QdrantClient, served: ServerProcess) -> None:
    theirs = run_flow(qdrant, flow(qm, "official_sync"))
    with Client(served.url) as shoal:
        ours = run_flow(shoal, flow(sm, "shoal_sync"))
    assert theirs == ours
    # Sanity: the flow returned real data, not a run of empty answers.
    assert theirs[4] == {"operation_id": 1, "status": "completed"}
    assert len(theirs[8]) == 3 and sum(len(p) for p in theirs[8]) == 12
    # points/batch: seven operations, one result each, and their effects in order.
    assert [r["status"] for r in theirs[23]] == ["completed"] * 7
    after = {r["id"]: r.get("payload") for r in theirs[24]}
    assert list(after) == [6, 8, 9, 10, 30, 31]  # 7 deleted
    assert after[8] == {"only": 8} and after[10] == {} and after[30] == {"t": 1}
    assert "n" not in after[9] and after[6]["t"] == 1


async def test_official_async_client(served: ServerProcess, recorder: Recorder) -> None:
    client = AsyncQdrantClient(url=served.url, prefer_grpc=False, event_hooks=recorder.ahooks)
    try:
        theirs = await arun_flow(client, flow(qm, "official_async"))
    finally:
        await client.close()
        join_version_checks()
    async with AsyncClient(served.url) as shoal:
        ours = await arun_flow(shoal, flow(sm, "shoal_async"))
    assert theirs == ours
    assert len(recorder.exchanges) > 30


def test_official_and_shoal_share_data(qdrant: QdrantClient, served: ServerProcess) -> None:
    # A collection written by qdrant-client is read by Shoal's client, and the other way.
    qdrant.create_collection("shared", vectors_config=qm.VectorParams(size=4, distance="Dot"))
    try:
        qdrant.upsert("shared", points=[qm.PointStruct(id=1, vector=vec(1), payload={"a": 1})])
        with Client(served.url) as shoal:
            assert shoal.retrieve("shared", [1])[0].payload == {"a": 1}
            shoal.upsert("shared", [sm.PointStruct(id=2, vector=vec(2))])
            hits = shoal.query_points("shared", vec(2), limit=2).points
        theirs = qdrant.query_points("shared", query=vec(2), limit=2).points
        assert [(p.id, p.score) for p in theirs] == [(p.id, p.score) for p in hits]
        assert qdrant.retrieve("shared", ids=[2])[0].payload == {}
    finally:
        qdrant.delete_collection("shared")


def test_official_client_errors(qdrant: QdrantClient) -> None:
    with pytest.raises(UnexpectedResponse) as info:
        qdrant.get_collection("does_not_exist")
    assert info.value.status_code == 404
    assert "doesn't exist" in info.value.content.decode()
    qdrant.create_collection("errs", vectors_config=qm.VectorParams(size=4, distance="Cosine"))
    try:
        with pytest.raises(UnexpectedResponse) as info:
            qdrant.create_collection("errs", vectors_config=qm.VectorParams(size=4, distance="Dot"))
        assert info.value.status_code == 409
        with pytest.raises(UnexpectedResponse) as info:
            qdrant.upsert("errs", points=[qm.PointStruct(id=1, vector=[1.0, 2.0])])
        assert info.value.status_code == 400
        assert "expected dim: 4, got 2" in info.value.content.decode()
        assert qdrant.count("errs").count == 0
    finally:
        qdrant.delete_collection("errs")


def test_shoal_client_over_http_validates(served: ServerProcess, recorder: Recorder) -> None:
    # The requests Shoal's own client sends validate against the request schemas too.
    import httpx

    with httpx.Client(event_hooks=recorder.hooks) as http, http_client(served.url, http) as shoal:
        run_flow(shoal, flow(sm, "shoal_validated"))
    assert sum(1 for ex in recorder.exchanges if ex.method in ("POST", "PUT")) > 15


def test_official_client_aliases_and_snapshots(qdrant: QdrantClient, served: ServerProcess) -> None:
    # Every exchange is validated against Qdrant's spec by the recorder.
    qdrant.create_collection("snap_src", qm.VectorParams(size=2, distance=qm.Distance.DOT))
    points = [qm.PointStruct(id=i, vector=[1.0, float(i)]) for i in range(4)]
    qdrant.upsert("snap_src", points)
    create = qm.CreateAlias(collection_name="snap_src", alias_name="snap_live")
    assert qdrant.update_collection_aliases([qm.CreateAliasOperation(create_alias=create)])
    assert [a.alias_name for a in qdrant.get_collection_aliases("snap_src").aliases] == [
        "snap_live"
    ]
    assert qdrant.count("snap_live").count == 4

    made = qdrant.create_snapshot("snap_src")
    assert made is not None and made.size > 0
    assert [s.name for s in qdrant.list_snapshots("snap_src")] == [made.name]
    download = httpx.get(f"{served.url}/collections/snap_src/snapshots/{made.name}")
    assert download.headers["content-type"] == "application/octet-stream"
    assert hashlib.sha256(download.content).hexdigest() == made.checksum
    qdrant.delete("snap_src", qm.PointIdsList(points=[0, 1]))
    location = f"snap_src/{made.name}"
    assert qdrant.recover_snapshot("snap_src", location, checksum=made.checksum)
    assert qdrant.count("snap_live").count == 4  # the alias follows the recovered collection
    with pytest.raises(UnexpectedResponse) as refused:
        qdrant.recover_snapshot("snap_src", "https://example.com/x.snapshot")
    assert refused.value.status_code == 400 and b"not supported" in refused.value.content
    full = qdrant.create_full_snapshot()
    assert full is not None and full.name in {s.name for s in qdrant.list_full_snapshots()}
    assert qdrant.delete_full_snapshot(full.name)
    assert qdrant.delete_snapshot("snap_src", made.name)
    assert qdrant.list_snapshots("snap_src") == []
    qdrant.delete_collection("snap_src")


def test_official_client_named_vectors(qdrant: QdrantClient) -> None:
    # Every exchange is validated against Qdrant's spec by the recorder.
    qdrant.create_collection("vnames", {"a": qm.VectorParams(size=2, distance=qm.Distance.DOT)})
    try:
        qdrant.upsert("vnames", [qm.PointStruct(id=1, vector={"a": [1.0, 0.0]})])
        dense = qm.DenseVectorNameConfig(dense=qm.DenseVectorConfig(size=3, distance="Euclid"))
        sparse = qm.SparseVectorNameConfig(sparse=qm.SparseVectorConfig(modifier=qm.Modifier.IDF))
        done = qdrant.create_vector_name("vnames", "b", dense)
        assert done.status == qm.UpdateStatus.COMPLETED
        qdrant.create_vector_name("vnames", "s", sparse, wait=False)
        params = qdrant.get_collection("vnames").config.params
        assert isinstance(params.vectors, dict) and params.vectors["b"].size == 3
        assert params.sparse_vectors is not None and "s" in params.sparse_vectors
        plain = qm.SparseVectorParams(modifier=qm.Modifier.NONE)
        assert qdrant.update_collection("vnames", sparse_vectors_config={"s": plain})
        shown = qdrant.get_collection("vnames").config.params.sparse_vectors
        assert shown is not None and shown["s"].modifier == qm.Modifier.NONE
        qdrant.upsert("vnames", [qm.PointStruct(id=2, vector={"b": [0.0, 0.0, 1.0]})])
        hits = qdrant.query_points("vnames", query=[0.0, 0.0, 1.0], using="b").points
        assert [(p.id, p.score) for p in hits] == [(2, 0.0)]
        with pytest.raises(UnexpectedResponse) as refused:
            qdrant.create_vector_name("vnames", "s", dense)
        assert refused.value.status_code == 400 and b"'s'" in refused.value.content
        assert qdrant.delete_vector_name("vnames", "b").status == qm.UpdateStatus.COMPLETED
        assert qdrant.delete_vector_name("vnames", "s").status == qm.UpdateStatus.COMPLETED
        params = qdrant.get_collection("vnames").config.params
        assert isinstance(params.vectors, dict) and list(params.vectors) == ["a"]
        assert not params.sparse_vectors
        with pytest.raises(UnexpectedResponse) as unknown:
            qdrant.query_points("vnames", query=[0.0, 0.0, 1.0], using="b")
        assert unknown.value.status_code == 400 and b"'b'" in unknown.value.content
    finally:
        qdrant.delete_collection("vnames")
