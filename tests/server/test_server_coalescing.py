"""Concurrent queries and writes through the HTTP transport travel as batch requests."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from server_support import async_http_client

from shoal import errors, models


def recorded_paths(http: httpx.AsyncClient) -> list[str]:
    """The paths of the requests ``http`` sends from now on."""
    paths: list[str] = []

    async def record(request: httpx.Request) -> None:
        paths.append(request.url.path)

    http.event_hooks["request"].append(record)
    return paths


async def test_concurrent_queries_share_one_batch_request(
    asgi_client: httpx.AsyncClient,
) -> None:
    paths = recorded_paths(asgi_client)
    client = await async_http_client("http://shoal.test", asgi_client)
    await client.create_collection("c", models.VectorParams(size=2, distance="Cosine"))
    await client.upsert(
        "c", [models.PointStruct(id=i, vector=[1.0, float(i)]) for i in range(1, 21)]
    )
    paths.clear()
    good = [client.query_points("c", query=[1.0, float(i)], limit=1) for i in range(1, 21)]
    bad = client.query_points("c", query=[1.0, 2.0, 3.0], limit=1)  # wrong dimension
    *responses, failure = await asyncio.gather(*good, bad, return_exceptions=True)

    assert isinstance(failure, errors.WrongVectorSize)
    assert [r.points[0].id for r in responses] == list(range(1, 21))  # type: ignore[union-attr]
    # One batch request for all 21; it is rejected (one bad query), so each is retried
    # alone and only the bad one fails.
    assert paths[0] == "/collections/c/points/query/batch"
    assert paths.count("/collections/c/points/query/batch") == 1
    await client.close()


@pytest.mark.parametrize("n", [1, 40])
async def test_batched_results_match_single_requests(
    asgi_client: httpx.AsyncClient, n: int
) -> None:
    client = await async_http_client("http://shoal.test", asgi_client)
    await client.create_collection("c", models.VectorParams(size=3, distance="Euclid"))
    await client.upsert("c", [models.PointStruct(id=i, vector=[i, 1.0, -i]) for i in range(100)])
    queries = [[float(i), 0.5, 2.0] for i in range(n)]
    together = await asyncio.gather(*(client.query_points("c", query=q, limit=5) for q in queries))
    alone = [await client.query_points("c", query=q, limit=5) for q in queries]
    assert together == alone
    await client.close()


async def test_concurrent_writes_share_one_batch_request(asgi_client: httpx.AsyncClient) -> None:
    """Small concurrent writes travel as one /points/batch; the server applies it all or
    nothing, so when one write is bad each is sent again alone and only the bad one fails."""
    paths = recorded_paths(asgi_client)
    client = await async_http_client("http://shoal.test", asgi_client)
    await client.create_collection("w", models.VectorParams(size=2, distance="Dot"))
    paths.clear()
    ups = [
        client.upsert("w", [models.PointStruct(id=i, vector=[1.0, float(i)])]) for i in range(40)
    ]
    results = await asyncio.gather(*ups)
    assert all(r.status == models.UpdateStatus.COMPLETED for r in results)
    assert (await client.count("w")).count == 40
    assert paths.count("/collections/w/points/batch") <= 2
    assert len(paths) <= 3  # the batches and the count

    paths.clear()
    good = [client.set_payload("w", {"k": i}, points=[i]) for i in range(10)] + [
        client.delete("w", [39])
    ]
    bad = client.upsert("w", [models.PointStruct(id=99, vector=[1.0, 2.0, 3.0])])
    *done, failure = await asyncio.gather(*good, bad, return_exceptions=True)
    assert isinstance(failure, errors.WrongVectorSize)
    assert not any(isinstance(d, BaseException) for d in done)
    assert paths[0] == "/collections/w/points/batch"
    assert paths.count("/collections/w/points/batch") == 1  # rejected whole, then one by one
    records = await client.retrieve("w", [*range(10), 39, 99])
    assert [r.payload for r in records] == [{"k": i} for i in range(10)]  # 39, 99 absent
    await client.close()


async def test_coalesced_writes_keep_arrival_order(asgi_client: httpx.AsyncClient) -> None:
    """Writes to one point, in one batch and across a change of ``wait``: the last one wins."""
    client = await async_http_client("http://shoal.test", asgi_client)
    await client.create_collection("o", models.VectorParams(size=2, distance="Dot"))
    point = models.PointStruct
    await asyncio.gather(
        client.upsert("o", [point(id=1, vector=[1.0, 0.0], payload={"v": 1})]),
        client.delete("o", [1], wait=False),
        client.upsert("o", [point(id=1, vector=[0.0, 1.0], payload={"v": 3})]),
        client.set_payload("o", {"w": 4}, points=[1], wait=False),
        client.delete("o", [2]),
        client.upsert("o", [point(id=2, vector=[1.0, 1.0], payload={"v": 6})]),
    )
    records = await client.retrieve("o", [1, 2], with_vectors=True)
    assert [(r.id, r.payload, r.vector) for r in records] == [
        (1, {"v": 3, "w": 4}, [0.0, 1.0]),
        (2, {"v": 6}, [1.0, 1.0]),
    ]
    await client.close()
