"""Concurrent queries through the HTTP transport travel as one batch request."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from server_support import async_http_client

from shoal import errors, models


async def test_concurrent_queries_share_one_batch_request(
    asgi_client: httpx.AsyncClient,
) -> None:
    paths: list[str] = []

    async def record(request: httpx.Request) -> None:
        paths.append(request.url.path)

    asgi_client.event_hooks["request"].append(record)
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
