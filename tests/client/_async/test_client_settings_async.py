"""The client's own arguments are honoured or refused: create_collection takes qdrant-client
1.20's arguments (and its models), and the upload options do what they say or are refused."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm

from shoal import AsyncClient, errors
from shoal import models as m
from shoal.client._async.http import AsyncHttpTransport

VEC = m.VectorParams(size=4, distance="Cosine")
POINTS = [m.PointStruct(id=i, vector=[1.0, i, 0.0, 0.0]) for i in range(5)]


def test_create_collection_takes_qdrant_clients_arguments_in_its_order() -> None:
    def names(fn: Any) -> list[str]:
        return [p for p in inspect.signature(fn).parameters if p not in ("self", "kwargs")]

    assert names(AsyncClient.create_collection) == names(AsyncQdrantClient.create_collection)


async def test_qdrant_client_models_are_taken_and_shown() -> None:
    async with AsyncClient() as client:
        await client.create_collection(
            "c",
            qm.VectorParams(size=4, distance=qm.Distance.DOT),
            optimizers_config=qm.OptimizersConfigDiff(indexing_threshold=0),
            quantization_config=qm.ScalarQuantization(
                scalar=qm.ScalarQuantizationConfig(type=qm.ScalarType.INT8, quantile=0.99)
            ),
            sharding_method=qm.ShardingMethod.AUTO,
            metadata={"owner": "a"},
        )
        config = (await client.get_collection("c")).config
        assert config.params.vectors == m.VectorParams(size=4, distance="Dot")
        assert config.optimizer_config.indexing_threshold == 0
        assert config.quantization_config == {"scalar": {"type": "int8", "quantile": 0.99}}
        assert config.params.sharding_method == "auto" and config.metadata == {"owner": "a"}
        with pytest.raises(errors.NotSupported, match="Image"):
            image = qm.Image(image="https://example.com/a.png", model="clip")
            await client.query_points("c", image)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"id_tracker": {"type": "mutable"}}, "id_tracker"),
        (
            {
                "sparse_vectors_config": {
                    "text": qm.SparseVectorParams(index=qm.SparseIndexParams(on_disk=True))
                }
            },
            "sparse_vectors.text.index.on_disk",
        ),
        ({"wal_config": qm.WalConfigDiff(wal_capacity_mb=64)}, "wal_config.wal_capacity_mb"),
    ],
)
async def test_refused_arguments_create_nothing(kwargs: dict[str, Any], named: str) -> None:
    async with AsyncClient() as client:
        with pytest.raises(errors.NotSupported, match=named.replace(".", r"\.")):
            await client.create_collection("c", VEC, **kwargs)
        assert not await client.collection_exists("c")


async def test_timeout_goes_to_the_server_as_qdrants_query_parameter() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"result": True, "status": "ok", "time": 0.0})

    client = AsyncClient("http://qdrant.test")
    await client._transport.close()  # type: ignore[union-attr]
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client._transport = AsyncHttpTransport("http://qdrant.test", http_client=http)
        assert await client.create_collection("c", VEC, timeout=7)
        assert await client.delete_collection("c", timeout=3)
    assert [r.url.params.get("timeout") for r in sent] == ["7", "3"]
    async with AsyncClient() as embedded:  # nothing to wait for: created within any timeout
        assert await embedded.create_collection("c", VEC, timeout=1)


@pytest.mark.parametrize(
    ("options", "named"), [({"parallel": 2}, "parallel=2"), ({"method": "spawn"}, "method")]
)
async def test_upload_options_shoal_does_not_honour_are_refused(
    options: dict[str, Any], named: str
) -> None:
    async with AsyncClient() as client:
        await client.create_collection("c", VEC)
        with pytest.raises(errors.NotSupported, match=named):
            await client.upload_points("c", POINTS, **options)
        with pytest.raises(errors.NotSupported, match=named):
            await client.upload_collection("c", [p.vector for p in POINTS], **options)
        assert (await client.count("c")).count == 0


class Flaky:
    """An upsert that fails with ``error`` the first ``failures`` times."""

    def __init__(self, client: AsyncClient, error: errors.ShoalError, failures: int) -> None:
        self.upsert = client.upsert
        self.error, self.failures, self.calls = error, failures, 0

    async def __call__(self, *args: Any, **kwargs: Any) -> m.UpdateResult:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return await self.upsert(*args, **kwargs)


@pytest.mark.parametrize(("max_retries", "written"), [(2, True), (1, False)])
async def test_max_retries_resends_a_batch_after_transient_failures(
    max_retries: int, written: bool
) -> None:
    async with AsyncClient() as client:
        await client.create_collection("c", VEC)
        flaky = Flaky(client, errors.RemoteError(503, "Cannot reach the server"), failures=2)
        client.upsert = flaky  # type: ignore[method-assign]
        if written:
            await client.upload_points("c", POINTS, max_retries=max_retries, wait=True)
        else:
            with pytest.raises(errors.RemoteError):
                await client.upload_points("c", POINTS, max_retries=max_retries, wait=True)
        assert flaky.calls == max_retries + 1
        assert (await client.count("c")).count == (5 if written else 0)


async def test_a_rejected_batch_is_not_retried() -> None:
    async with AsyncClient() as client:
        await client.create_collection("c", VEC)
        flaky = Flaky(client, errors.InvalidVector("Wrong input: bad vector"), failures=1)
        client.upsert = flaky  # type: ignore[method-assign]
        with pytest.raises(errors.InvalidVector):
            await client.upload_points("c", POINTS, max_retries=5)
        assert flaky.calls == 1
        with pytest.raises(errors.BadRequest, match="max_retries"):
            await client.upload_points("c", POINTS, max_retries=-1)
