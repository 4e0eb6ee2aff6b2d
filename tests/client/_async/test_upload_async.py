"""Bulk ingest: upload_points and upload_collection batch the input, one transaction each."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from shoal import AsyncClient, errors, models


async def make(tmp_path: Path) -> AsyncClient:
    client = AsyncClient(path=tmp_path)
    await client.create_collection("c", models.VectorParams(size=4, distance="Euclid"))
    return client


async def test_upload_collection_from_numpy_in_batches(tmp_path: Path) -> None:
    vectors = np.random.default_rng(0).standard_normal((1000, 4)).astype(np.float32)
    async with await make(tmp_path) as client:
        col = client._transport.database().collection("c")  # type: ignore[union-attr]
        before = col.writer.commits
        await client.upload_collection(
            "c", vectors, payload=({"i": i} for i in range(1000)), ids=range(1000),
            batch_size=128, wait=True,
        )  # fmt: skip
        assert col.writer.commits - before == 8  # ceil(1000 / 128) transactions
        rec = (await client.retrieve("c", [123], with_vectors=True))[0]
        assert rec.payload == {"i": 123}
        assert np.allclose(rec.vector, vectors[123])  # type: ignore[arg-type]
    async with AsyncClient(path=tmp_path) as reopened:
        assert (await reopened.count("c")).count == 1000


async def test_upload_points_with_generated_ids_and_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with AsyncClient(path=tmp_path) as client:
        await client.create_collection("c", models.VectorParams(size=2, distance="Dot"))
        points = (models.PointStruct(id=str(uuid.UUID(int=i)), vector=[i, 1.0]) for i in range(300))
        await client.upload_points("c", points, batch_size=100, wait=True, progress=True)
        assert (await client.count("c")).count == 300
        await client.upload_collection("c", [[1.0, 2.0]] * 5, wait=True)  # random UUID ids
        assert (await client.count("c")).count == 305
    assert "300 points" in capsys.readouterr().err


async def test_upload_rejects_bad_batch_and_mismatched_columns(tmp_path: Path) -> None:
    async with await make(tmp_path) as client:
        with pytest.raises(errors.WrongVectorSize):
            await client.upload_collection(
                "c", [[1.0, 2.0, 3.0, 4.0], [1.0]], ids=[1, 2], wait=True
            )
        assert (await client.count("c")).count == 0  # the bad batch changed nothing
        with pytest.raises(errors.BadRequest, match="fewer ids"):
            await client.upload_collection("c", np.ones((3, 4)), ids=[1, 2], wait=True)
        with pytest.raises(errors.BadRequest, match="batch_size"):
            await client.upload_points("c", [], batch_size=0)


async def test_a_payload_that_is_no_dict_is_refused_before_the_vectors(tmp_path: Path) -> None:
    # Found by the fuzzer: embedded checked the (bad) vectors first and the HTTP client the
    # payloads, so the two raised different errors for one call.
    async with await make(tmp_path) as client:
        with pytest.raises(errors.InvalidPayload, match="must be dicts, got 'k'"):
            await client.upload_collection("c", [[]], payload={"k": "v"}, ids=[1], wait=True)
        assert (await client.count("c")).count == 0


async def test_upload_collection_takes_named_dense_and_sparse_columns(tmp_path: Path) -> None:
    async with AsyncClient(path=tmp_path) as client:
        await client.create_collection(
            "c",
            {"d": models.VectorParams(size=2, distance="Dot")},
            sparse_vectors_config={"s": models.SparseVectorParams()},
        )
        sparse = [models.SparseVector(indices=[i], values=[0.5]) for i in range(3)]
        columns = {"d": np.ones((3, 2), np.float32), "s": sparse}
        await client.upload_collection("c", columns, ids=[1, 2, 3], wait=True)
        rec = (await client.retrieve("c", [3], with_vectors=True))[0]
        assert rec.vector == {"d": [1.0, 1.0], "s": sparse[2]}


@pytest.mark.parametrize(
    "columns", [{"d": [{"key": "a"}]}, {"d": {"must": [{"key": "a"}]}}, {"d": 5}, {"must": [[1.0]]}]
)
async def test_upload_collection_refuses_columns_that_are_no_vectors(
    tmp_path: Path, columns: dict[str, object]
) -> None:
    async with AsyncClient(path=tmp_path) as client:
        await client.create_collection("c", {"d": models.VectorParams(size=1, distance="Dot")})
        with pytest.raises(errors.BadRequest):
            await client.upload_collection("c", columns, ids=[1], wait=True)
        assert (await client.count("c")).count == 0


async def test_upload_collection_refuses_named_columns_of_different_lengths(
    tmp_path: Path,
) -> None:
    async with AsyncClient(path=tmp_path) as client:
        await client.create_collection(
            "c",
            {n: models.VectorParams(size=1, distance="Dot") for n in ("a", "b")},
        )
        columns = {"a": [[1.0]] * 300, "b": [[1.0]] * 299}
        with pytest.raises(errors.BadRequest, match="differ in length"):
            await client.upload_collection("c", columns, ids=range(300), batch_size=64)
        assert (await client.count("c")).count == 0  # nothing written, not 299 points
